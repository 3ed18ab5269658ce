"""Tests for langflix.core.process: real child processes, really stopped."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from langflix.cancel import CancelToken
from langflix.core.process import STDERR_TAIL_BYTES, _dies_with_parent, _setpriv, run_process
from langflix.errors import CancelledError, FFmpegError, LangFlixError, TTSError
from langflix.temp import TempFileManager

# A child that publishes its pid atomically (so a reader never sees half a
# number), optionally ignores SIGTERM, then sleeps far longer than any test.
_SLEEPER = (
    "import os, signal, sys, time\n"
    "if sys.argv[2] == 'ignore-term':\n"
    "    signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "p = sys.argv[1]\n"
    "with open(p + '.part', 'w') as f:\n"
    "    f.write(str(os.getpid()))\n"
    "os.replace(p + '.part', p)\n"
    "time.sleep(30)\n"
)


def _sleeper(pid_file: Path, mode: str = "normal") -> list[str]:
    return [sys.executable, "-c", _SLEEPER, str(pid_file), mode]


def _wait_for_pid(pid_file: Path, timeout: float = 10.0) -> int:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pid_file.exists():
            return int(pid_file.read_text())
        time.sleep(0.01)
    raise AssertionError(f"child never wrote {pid_file}")


def _exists(pid: int) -> bool:
    """True while the pid exists, zombies included (an unreaped child is a leak too)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _in_thread(fn: Callable[[], None]) -> threading.Thread:
    thread = threading.Thread(target=fn, daemon=True)
    thread.start()
    return thread


def test_success_returns_both_streams() -> None:
    result = run_process(
        [sys.executable, "-c", "import sys; print('out'); print('err', file=sys.stderr)"]
    )
    assert result.returncode == 0
    assert result.stdout == b"out\n"
    assert result.stderr == b"err\n"
    assert result.args[0] == sys.executable


def test_large_output_on_both_pipes_does_not_deadlock_and_stderr_is_bounded() -> None:
    # 4 MiB on each pipe: far beyond a pipe buffer, so a reader that drained
    # only one pipe would hang here until the timeout.
    script = (
        "import sys\n"
        "for _ in range(64):\n"
        "    sys.stdout.write('o' * 65536); sys.stderr.write('e' * 65535 + '\\n')\n"
        "sys.stderr.write('LAST LINE\\n')\n"
    )
    result = run_process([sys.executable, "-c", script], timeout=60)
    assert len(result.stdout) == 64 * 65536
    assert len(result.stderr) <= STDERR_TAIL_BYTES
    assert result.stderr.endswith(b"LAST LINE\n")


def test_accepts_paths_in_the_argument_list(tmp_path: Path) -> None:
    target = tmp_path / "a file with spaces.txt"
    target.write_text("content")
    result = run_process(["cat", target])
    assert result.stdout == b"content"


def test_nonzero_exit_quotes_command_and_stderr_tail() -> None:
    script = (
        "import sys\n"
        "for i in range(100):\n"
        "    print(f'line {i}', file=sys.stderr)\n"
        "sys.exit(3)\n"
    )
    with pytest.raises(FFmpegError) as info:
        run_process([sys.executable, "-c", script], error_cls=FFmpegError)
    message = str(info.value)
    assert "exit code 3" in message
    assert sys.executable in message
    assert "line 99" in message
    assert "line 0\n" not in message and not message.endswith("line 0")
    assert message.count("line ") <= 20
    # The tail alone, for callers that quote the tool without the command line.
    assert info.value.stderr_tail.endswith("line 99")  # type: ignore[attr-defined]
    assert sys.executable not in info.value.stderr_tail  # type: ignore[attr-defined]


def test_killed_by_signal_is_named() -> None:
    with pytest.raises(LangFlixError, match="SIGKILL"):
        run_process([sys.executable, "-c", "import os; os.kill(os.getpid(), 9)"])


def test_missing_binary_names_it_and_gives_the_hint() -> None:
    with pytest.raises(TTSError) as info:
        run_process(
            ["langflix-no-such-binary", "--version"],
            error_cls=TTSError,
            install_hint="apt-get install espeak-ng",
        )
    assert str(info.value) == (
        "langflix-no-such-binary is not installed: apt-get install espeak-ng"
    )
    assert isinstance(info.value.__cause__, FileNotFoundError)


def test_missing_binary_without_hint_still_says_what_to_do() -> None:
    with pytest.raises(LangFlixError, match="not installed: install langflix-nope"):
        run_process(["langflix-nope"])


def test_shell_string_is_refused() -> None:
    with pytest.raises(TypeError, match="argument list"):
        run_process("echo hi")  # type: ignore[arg-type]


def test_command_is_logged_with_shlex_join(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="langflix.core.process"):
        run_process(["echo", "two words", "it's"])
    assert "echo 'two words' 'it'\"'\"'s'" in caplog.text


def test_timeout_stops_the_child(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    started = time.monotonic()
    with pytest.raises(FFmpegError, match=r"timed out after 1 s") as info:
        run_process(_sleeper(pid_file), timeout=1.0, error_cls=FFmpegError)
    assert time.monotonic() - started < 10
    assert sys.executable in str(info.value)
    pid = int(pid_file.read_text())
    assert not _exists(pid)


def test_cancel_from_another_thread_kills_the_child(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    token = CancelToken()
    seen: list[int] = []

    def cancel_when_started() -> None:
        seen.append(_wait_for_pid(pid_file))
        token.cancel("job 7 cancelled by user")

    thread = _in_thread(cancel_when_started)
    started = time.monotonic()
    with pytest.raises(CancelledError, match="job 7 cancelled by user"):
        run_process(_sleeper(pid_file), cancel=token)
    thread.join(5)
    assert time.monotonic() - started < 10
    assert seen and not _exists(seen[0])


def test_already_cancelled_token_starts_nothing(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    token = CancelToken()
    token.cancel()
    with pytest.raises(CancelledError):
        run_process(_sleeper(pid_file), cancel=token)
    time.sleep(0.3)
    assert not pid_file.exists()


def test_child_ignoring_sigterm_is_killed(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    token = CancelToken()

    def cancel_when_started() -> None:
        _wait_for_pid(pid_file)
        token.cancel()

    _in_thread(cancel_when_started)
    started = time.monotonic()
    with pytest.raises(CancelledError):
        run_process(_sleeper(pid_file, "ignore-term"), cancel=token, terminate_grace=0.3)
    assert time.monotonic() - started < 10
    assert not _exists(int(pid_file.read_text()))


def test_keyboard_interrupt_kills_and_reaps_the_child(tmp_path: Path) -> None:
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("SIGINT is delivered to the main thread only")
    pid_file = tmp_path / "pid"

    def interrupt_when_started() -> None:
        _wait_for_pid(pid_file)
        # Only our own pid: the child does not see this Ctrl-C, so it is
        # run_process that must stop it.
        os.kill(os.getpid(), signal.SIGINT)

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        _in_thread(interrupt_when_started)
        with pytest.raises(KeyboardInterrupt):
            run_process(_sleeper(pid_file))
    finally:
        signal.signal(signal.SIGINT, previous)
    assert not _exists(int(pid_file.read_text()))


class _BrokenToken(CancelToken):
    """A token whose poll blows up once the child runs: an unexpected exception mid-wait."""

    def __init__(self, pid_file: Path) -> None:
        super().__init__()
        self._pid_file = pid_file

    @property
    def cancelled(self) -> bool:
        if self._pid_file.exists():
            raise RuntimeError("token exploded")
        return False


def test_any_exception_while_waiting_kills_the_child(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    with pytest.raises(RuntimeError, match="token exploded"):
        run_process(_sleeper(pid_file), cancel=_BrokenToken(pid_file))
    assert not _exists(int(pid_file.read_text()))


def test_exports() -> None:
    import langflix.core.process as module

    assert module.__all__ == sorted(module.__all__)
    assert all(hasattr(module, name) for name in module.__all__)


# -- children die with their parent, however it dies -----------------------------------------

# A process that runs a long child through run_process, from its main thread
# or from a worker thread (as the service's job pool does), and reports the
# child's pid; then it waits to be killed.
_PARENT = """
import os, sys, threading, time
from langflix.core.process import run_process

def run():
    run_process([sys.executable, "-c", sys.argv[2], sys.argv[1], "normal"], timeout=120)

if sys.argv[3] == "worker":
    threading.Thread(target=run, daemon=True).start()
    time.sleep(120)
else:
    run()
"""


def _state(pid: int) -> str | None:
    """The /proc state letter of ``pid`` (Z for a zombie), None once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2]


def _dead_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if _state(pid) in (None, "Z"):
            return True
        time.sleep(0.02)
    return False


@pytest.mark.parametrize("where", ["main", "worker"])
def test_a_child_dies_with_its_sigkilled_parent(tmp_path: Path, where: str) -> None:
    pid_file = tmp_path / "child.pid"
    parent = subprocess.Popen([sys.executable, "-c", _PARENT, str(pid_file), _SLEEPER, where])
    child = 0
    try:
        child = _wait_for_pid(pid_file)
        # Stopped, the child could never exit by itself: only the kernel's death
        # signal can end it once its parent is gone.
        os.kill(child, signal.SIGSTOP)
        parent.kill()
        assert parent.wait(10) == -signal.SIGKILL
        assert _dead_within(child, 10), f"pid {child} outlived its SIGKILLed parent ({_state(child)})"
    finally:
        if child and _state(child) not in (None, "Z"):
            os.kill(child, signal.SIGKILL)
        if parent.poll() is None:
            parent.kill()
            parent.wait()


def test_a_launch_whose_parent_died_before_the_death_signal_was_armed_runs_nothing(tmp_path: Path) -> None:
    # The race: the parent is SIGKILLed after the fork but before setpriv arms
    # PR_SET_PDEATHSIG. The wrapper's check of its parent pid, run after the
    # arming, then sees another parent than the one that launched it.
    marker = tmp_path / "ran"
    command = _dies_with_parent(["/bin/sh", "-c", f"touch {marker}"])
    assert command[:4] == [_setpriv(), "--pdeathsig", "KILL", "--"], "setpriv is installed here"
    launcher = command.index(str(os.getpid()))
    stranger = list(command)
    stranger[launcher] = "1"  # what getppid() says once the launcher is gone: init (or a subreaper)
    assert subprocess.run(stranger, check=False).returncode == 1
    assert not marker.exists(), "the tool ran although its launcher was gone"
    assert subprocess.run(command, check=False).returncode == 0 and marker.exists()


def test_a_child_inherits_this_processs_session_locks(tmp_path: Path) -> None:
    with TempFileManager(base_dir=tmp_path / "tmp") as manager:
        session = manager.session_dir
        listing = run_process(["/bin/sh", "-c", 'for f in /proc/$$/fd/*; do readlink "$f"; done; true'])
    assert str(session) in listing.stdout.decode().splitlines(), "the child does not hold the session's lock"
