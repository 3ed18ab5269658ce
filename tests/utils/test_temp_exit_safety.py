"""Exit safety of ``langflix/utils/temp_file_manager.py`` with real processes and real signals.

Each test runs a child Python that builds a manager under ``tmp_path``, makes
files, and then exits normally, is signalled, or forks. The parent test only
looks at the disk and at exit codes, so nothing here is mocked.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

TIMEOUT = 30

# Every child starts with a manager holding a kept file, a dir and an open scope.
PRELUDE = textwrap.dedent(
    """
    import json, os, signal, sys, time
    from pathlib import Path
    from langflix.utils.temp_file_manager import TempFileManager, install_signal_handlers

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
        return json.loads(line)

    def finish(self) -> tuple[int, str, str]:
        stdout, stderr = self.proc.communicate(timeout=TIMEOUT)
        return self.proc.returncode, stdout, stderr

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(TIMEOUT)


Spawn = Callable[[str], Child]


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Spawn]:
    children: list[Child] = []

    def make(body: str) -> Child:
        child = Child(body, tmp_path)
        children.append(child)
        return child

    yield make
    for child in children:  # never leave a process behind, even when a test failed
        child.kill()
        for stream in (child.proc.stdin, child.proc.stdout, child.proc.stderr):
            if stream is not None:
                stream.close()


def sessions(base: Path) -> list[Path]:
    return sorted(base.iterdir()) if base.exists() else []


def wait_for_exit_status(child: Child) -> int:
    try:
        return child.proc.wait(TIMEOUT)
    finally:
        child.kill()


def test_normal_exit_removes_the_session(spawn: Spawn) -> None:
    child = spawn("report()\n")
    session = Path(str(child.read_report()["session"]))
    code, _out, err = child.finish()
    assert code == 0, err
    assert not session.exists()
    assert sessions(child.base) == []
    assert "ResourceWarning" not in err


def test_exit_with_an_exception_removes_the_session(spawn: Spawn) -> None:
    child = spawn("report()\nraise RuntimeError('crash in the pipeline')\n")
    session = Path(str(child.read_report()["session"]))
    code, _out, err = child.finish()
    assert code == 1 and "crash in the pipeline" in err
    assert not session.exists()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_signal_after_install_cleans_up_and_exits_128_plus_signum(spawn: Spawn, signum: int) -> None:
    child = spawn(
        """
        install_signal_handlers()
        try:
            report()
            time.sleep(60)
        finally:
            # finally blocks still run: the default is SystemExit, not an abrupt death.
            (out / "finally-ran").write_text(f"closed={m.closed}")
        """
    )
    session = Path(str(child.read_report()["session"]))
    assert session.is_dir()
    child.proc.send_signal(signum)
    assert wait_for_exit_status(child) == 128 + signum
    assert not session.exists()
    assert sessions(child.base) == []
    assert (child.out / "finally-ran").read_text() == "closed=True"  # cleanup ran before unwinding


def test_sigterm_without_handlers_leaves_the_session_for_the_sweep(spawn: Spawn) -> None:
    # The control case: Python's default SIGTERM skips atexit, which is why
    # install_signal_handlers exists (and the sweep is the next backstop).
    child = spawn("report()\ntime.sleep(60)\n")
    session = Path(str(child.read_report()["session"]))
    child.proc.send_signal(signal.SIGTERM)
    assert wait_for_exit_status(child) == -signal.SIGTERM
    assert session.is_dir()


def test_previous_handler_is_chained_after_cleanup(spawn: Spawn) -> None:
    child = spawn(
        """
        def previous(signum, frame):
            # Runs after the cleanup: the session must already be gone.
            (out / "previous-ran").write_text(json.dumps(
                {"signum": signum, "session_exists": Path(session_path).exists()}))
            sys.exit(7)

        signal.signal(signal.SIGTERM, previous)
        install_signal_handlers()
        install_signal_handlers()  # twice must not chain our handler to itself
        session_path = str(m.session_dir)
        report()
        time.sleep(60)
        """
    )
    session = Path(str(child.read_report()["session"]))
    child.proc.send_signal(signal.SIGTERM)
    assert wait_for_exit_status(child) == 7
    record = json.loads((child.out / "previous-ran").read_text())
    assert record == {"signum": signal.SIGTERM, "session_exists": False}
    assert not session.exists()


def test_previous_handler_that_returns_keeps_the_process_running(spawn: Spawn) -> None:
    child = spawn(
        """
        hits = []
        signal.signal(signal.SIGHUP, lambda s, f: hits.append(s))
        install_signal_handlers()
        report()
        sys.stdin.readline()  # PEP 475: the read resumes after the handler; EOF ends it
        print(json.dumps({"hits": hits, "closed": m.closed}), flush=True)
        """
    )
    session = Path(str(child.read_report()["session"]))
    child.proc.send_signal(signal.SIGHUP)
    time.sleep(0.5)
    assert child.proc.poll() is None, "a handler that returns must not end the process"
    assert not session.exists()  # cleaned up all the same
    code, out, err = child.finish()
    assert code == 0, err
    assert json.loads(out.strip().splitlines()[-1]) == {"hits": [signal.SIGHUP], "closed": True}


def test_ignored_signal_stays_ignored(spawn: Spawn) -> None:
    child = spawn(
        """
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        install_signal_handlers()
        report(ignored=signal.getsignal(signal.SIGTERM) is signal.SIG_IGN)
        sys.stdin.readline()
        report(alive=True)
        """
    )
    first = child.read_report()
    assert first["ignored"] is True
    session = Path(str(first["session"]))
    child.proc.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    assert child.proc.poll() is None
    assert session.is_dir()  # ignoring means ignoring: no cleanup either
    code, out, err = child.finish()
    assert code == 0, err
    assert json.loads(out.strip())["alive"] is True
    assert not session.exists()  # normal exit then cleans up


FORK_BODY = """
    mine = [kept, d, d / "f.png", scope.path]

    def grandchild(how):
        # Worst case: the fork happens inside the parent's with-blocks, so the
        # child unwinds them (sys.exit) and then runs the exit machinery.
        with m.scope("forked") as inner, m.create_temp_file(suffix=".open") as p:
            inner.new_file().write_bytes(b"x")
            pid = os.fork()
            if pid == 0:
                if how == "os._exit":
                    os._exit(0)
                sys.exit(0)
            _, status = os.waitpid(pid, 0)
            return [os.waitstatus_to_exitcode(status), p.exists(), inner.path.is_dir(), len(list(inner.path.iterdir()))]

    children = [grandchild("os._exit"), grandchild("sys.exit")]
    report(children=children, intact=[p.exists() for p in mine], tracked=len(m.temp_files) + len(scope.temp_files))
    """


def test_forked_child_never_deletes_the_parents_files(spawn: Spawn) -> None:
    child = spawn(FORK_BODY)
    result = child.read_report()
    code, _out, err = child.finish()
    assert code == 0, err
    # [exit code, the open block's file still there, the open scope's dir, its entries]
    assert result["children"] == [[0, True, True, 1], [0, True, True, 1]], result
    assert result["intact"] == [True] * 4, result
    assert result["tracked"] == 2  # kept + the scope's file
    assert sessions(child.base) == []


def test_fork_while_scope_lock_is_held_by_another_thread(spawn: Spawn) -> None:
    # A thread holds the manager's lock at the moment of fork: the child must
    # neither deadlock on it nor delete anything when it exits.
    child = spawn(
        """
        import threading
        held, release = threading.Event(), threading.Event()

        def holder():
            with m._lock:
                held.set()
                release.wait()

        t = threading.Thread(target=holder)
        t.start()
        held.wait()
        pid = os.fork()
        if pid == 0:
            try:
                with scope:
                    sys.exit(0)
            finally:
                pass
        release.set()
        t.join()
        # A deadlocked grandchild would hang forever: give it 10 s, then kill it.
        deadline = time.monotonic() + 10
        while (done := os.waitpid(pid, os.WNOHANG))[0] == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        if done[0] == 0:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            report(code="deadlocked", scope_exists=scope.path.exists())
        else:
            report(code=os.waitstatus_to_exitcode(done[1]), scope_exists=scope.path.exists())
        """
    )
    result = child.read_report()
    code, _out, err = child.finish()
    assert code == 0, err
    assert result["code"] == 0 and result["scope_exists"] is True, result


def test_multiprocessing_fork_children_never_delete_the_parents_files(spawn: Spawn) -> None:
    child = spawn(
        """
        import gc, multiprocessing

        def work_and_exit(code):
            gc.collect()
            m.cleanup_all()  # even an explicit call in the child must not touch the parent's files
            scope.close()
            sys.exit(code)

        def square(x):
            gc.collect()
            return x * x

        ctx = multiprocessing.get_context("fork")
        proc = ctx.Process(target=work_and_exit, args=(3,))
        proc.start()
        proc.join(20)
        with ctx.Pool(2) as pool:
            squares = pool.map(square, range(6))
        report(exitcode=proc.exitcode, squares=squares,
               intact=[kept.exists(), d.is_dir(), scope.path.is_dir()],
               tracked=[p.exists() for p in [*m.temp_files, *scope.temp_files]])
        """
    )
    result = child.read_report()
    code, _out, err = child.finish()
    assert code == 0, err
    assert result["exitcode"] == 3
    assert result["squares"] == [0, 1, 4, 9, 16, 25]
    assert result["intact"] == [True, True, True], result
    assert result["tracked"] == [True, True], result
    assert sessions(child.base) == []


def test_sigkill_leaves_a_dead_session_that_the_next_manager_reclaims(spawn: Spawn) -> None:
    from langflix.utils.temp_file_manager import TempFileManager

    child = spawn("report()\ntime.sleep(60)\n")
    session = Path(str(child.read_report()["session"]))
    child.proc.kill()
    assert wait_for_exit_status(child) == -signal.SIGKILL
    assert session.is_dir()
    survivor = TempFileManager(base_dir=child.base, sweep_on_start=True)
    try:
        assert not session.exists()
        assert survivor.stats().orphans_reclaimed == 1
    finally:
        survivor.close()
    assert sessions(child.base) == []


def test_forked_child_is_told_to_make_its_own_manager(spawn: Spawn) -> None:
    child = spawn(
        """
        from langflix.errors import TempFileError
        from langflix.utils.temp_file_manager import get_temp_manager

        parent_session = m.session_dir
        pid = os.fork()
        if pid == 0:
            try:
                scope.new_file()
                (out / "child").write_text("created a file in the parent's scope")
            except TempFileError as exc:
                own = TempFileManager(base_dir=base)
                with own.create_temp_file() as p:
                    ok = p.exists() and own.session_dir != parent_session
                own.close()
                (out / "child").write_text(f"{ok}|{exc}")
            os._exit(0)
        os.waitpid(pid, 0)
        report()
        """
    )
    session = Path(str(child.read_report()["session"]))
    code, _out, err = child.finish()
    assert code == 0, err
    ok, message = (child.out / "child").read_text().split("|", 1)
    assert ok == "True"
    assert "inherited through fork" in message and "get_temp_manager()" in message
    assert not session.exists() and sessions(child.base) == []
