"""Exit and fork safety of the process-wide hooks (``langflix/temp/_manager.py``), with real processes.

Each test runs a child Python with a manager under ``tmp_path`` (see
``support.temp_child``) that exits normally, raises, forks or is killed; the
test looks only at the disk and at exit codes, so nothing here is mocked.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from support.temp_child import Spawn, sessions, wait_for_exit_status

from langflix.temp import TempFileManager


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
    # neither deadlock on it (using the areas it inherited takes that lock) nor
    # delete anything when it exits.
    child = spawn(
        """
        import threading
        held, release = threading.Event(), threading.Event()

        def holder():
            with m._tree.lock:  # white-box: the only way to hold the tree's lock across a fork
                held.set()
                release.wait()

        t = threading.Thread(target=holder)
        t.start()
        held.wait()
        pid = os.fork()
        if pid == 0:
            from langflix.errors import TempFileError
            # Everything that takes the tree's lock, which a parent thread held at the fork.
            try:
                scope.new_file()
                os._exit(3)  # a child must not add files to its parent's scope
            except TempFileError:
                pass
            list(m.temp_files)
            m.stats()
            with scope:
                sys.exit(0)
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
        from langflix.temp import get_temp_manager

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


# Every start method, every way a child ends; the parent looks right after join(),
# before any sweep could hide a session the child left.
_MULTIPROCESSING_CHILDREN = """
import json, multiprocessing, sys, time
from pathlib import Path
from support.temp_mp import make_a_session_then

base, out = sys.argv[1], Path(sys.argv[2])
results = {}
for method in ("fork", "forkserver", "spawn"):
    ctx = multiprocessing.get_context(method)
    for how in ("return", "raise", "wait"):
        report = out / f"{method}-{how}"
        child = ctx.Process(target=make_a_session_then, args=(base, how, str(report)))
        child.start()
        if how == "wait":
            deadline = time.monotonic() + 30
            while not report.exists() and time.monotonic() < deadline:
                time.sleep(0.01)
            child.terminate()
        child.join(30)
        results[f"{method}-{how}"] = [child.exitcode, Path(report.read_text()).exists()]
print(json.dumps(results))
"""


def test_multiprocessing_childrens_sessions_end_with_them_however_started_and_ended(tmp_path: Path) -> None:
    base, out = tmp_path / "base", tmp_path / "out"
    out.mkdir()
    done = subprocess.run(
        [sys.executable, "-c", _MULTIPROCESSING_CHILDREN, str(base), str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)),
        check=False,
    )
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)
    expected_codes = {"return": 0, "raise": 1, "wait": -signal.SIGTERM}
    for case, (exitcode, session_left) in results.items():
        how = case.split("-")[1]
        assert exitcode == expected_codes[how], (case, exitcode)
        assert not session_left, f"{case}: the child's session outlived it"
    assert len(results) == 9
    assert sessions(base) == []
