"""A child interpreter with a temp manager in it, for tests that exit, signal or fork it for real.

Every child starts with a manager under the test's dir holding a kept file, a
dir and an open scope; the test then looks only at the disk and at exit codes.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

__all__ = ["PRELUDE", "TIMEOUT", "Child", "Spawn", "sessions", "wait_for_exit_status"]

TIMEOUT = 30


# Every child starts with a manager holding a kept file, a dir and an open scope.
PRELUDE = textwrap.dedent(
    """
    import json, os, signal, sys, time
    from pathlib import Path
    from langflix.temp import TempFileManager, install_signal_handlers

    # A suite started under nohup (or from a background job) hands its children
    # SIGHUP/SIGINT ignored, and install_signal_handlers rightly keeps an ignored
    # signal ignored; start every child as a terminal would.
    signal.signal(signal.SIGHUP, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)

    base = Path(sys.argv[1])
    out = Path(sys.argv[2])
    m = TempFileManager(base_dir=base)
    with m.create_temp_file(suffix=".mkv", delete=False) as kept:
        kept.write_bytes(b"video")
    d = m.new_dir(prefix="frames_")
    (d / "f.png").write_bytes(b"png")
    scope = m.scope("job-1")
    (scope.new_file(suffix=".wav")).write_bytes(b"wav")

    def report(**extra):
        print(json.dumps({"session": str(m.session_dir), **extra}), flush=True)
    """
)


class Child:
    """A running child interpreter executing PRELUDE + ``body``."""

    def __init__(self, body: str, tmp_path: Path) -> None:
        self.base = tmp_path / "base"
        self.out = tmp_path / "out"
        self.out.mkdir(exist_ok=True)
        script = tmp_path / "child.py"
        script.write_text(PRELUDE + textwrap.dedent(body))
        self.proc = subprocess.Popen(
            [sys.executable, str(script), str(self.base), str(self.out)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def read_report(self) -> dict[str, object]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait(TIMEOUT)
            raise AssertionError(f"child said nothing; stderr:\n{self.proc.stderr.read() if self.proc.stderr else ''}")
        report: dict[str, object] = json.loads(line)
        return report

    def finish(self) -> tuple[int, str, str]:
        stdout, stderr = self.proc.communicate(timeout=TIMEOUT)
        return self.proc.returncode, stdout, stderr

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(TIMEOUT)


Spawn = Callable[[str], Child]


def sessions(base: Path) -> list[Path]:
    return sorted(base.iterdir()) if base.exists() else []


def wait_for_exit_status(child: Child) -> int:
    try:
        return child.proc.wait(TIMEOUT)
    finally:
        child.kill()
