"""Many real processes to kill, cheaply: a child interpreter that forks a worker per request.

Starting an interpreter (and importing langflix) costs a tenth of a second; a
fork of one that has already done so costs a millisecond. The zygote holds no
temp manager of its own: each forked worker makes its own, exactly as a fresh
process would, and is then killed for real by the test (SIGKILL, SIGTERM...).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from types import TracebackType
from typing import Any

__all__ = ["Zygote"]

# Reads one JSON request per line: {"fork": args} forks a worker running
# work(**args) and answers its pid; {"wait": pid} reaps it and answers its
# status as os.waitstatus_to_exitcode gives it.
_SERVE = """
import json, os, sys, traceback

def serve():
    for line in sys.stdin:
        request = json.loads(line)
        if "fork" in request:
            pid = os.fork()
            if pid == 0:
                code = 0
                try:
                    work(**request["fork"])
                except BaseException:
                    traceback.print_exc()
                    code = 3
                os._exit(code)
            answer = pid
        else:
            _, status = os.waitpid(request["wait"], 0)
            answer = os.waitstatus_to_exitcode(status)
        print(json.dumps(answer), flush=True)

serve()
"""


class Zygote:
    """A child interpreter that defines ``work(**args)`` with ``body`` and forks it on request."""

    def __init__(self, body: str, tmp_path: Path) -> None:
        script = tmp_path / "zygote.py"
        script.write_text(textwrap.dedent(body) + _SERVE)
        self.proc = subprocess.Popen(
            [sys.executable, str(script)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )

    def _ask(self, request: dict[str, Any]) -> Any:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise AssertionError(f"the zygote died with {self.proc.wait(10)}")
        return json.loads(line)

    def fork(self, **args: Any) -> int:
        """Start a worker running ``work(**args)``; its pid."""
        pid: int = self._ask({"fork": args})
        return pid

    def wait(self, pid: int) -> int:
        """Reap worker ``pid``: its exit code, or minus the signal that killed it."""
        code: int = self._ask({"wait": pid})
        return code

    def __enter__(self) -> Zygote:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
