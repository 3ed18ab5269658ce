"""SIGTERM/SIGHUP handlers (``langflix/temp/_signals.py``), with real processes and real signals.

Each test runs a child Python with a manager under ``tmp_path`` (see
``support.temp_child``), signals it, and looks only at the disk and the exit code.
"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest
from support.temp_child import Spawn, sessions, wait_for_exit_status

from langflix.temp import install_signal_handlers, uninstall_signal_handlers


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


def test_uninstall_puts_back_what_install_replaced() -> None:
    saved = signal.getsignal(signal.SIGHUP)

    def previous(signum: int, frame: object) -> None:
        """The application's own handler."""

    signal.signal(signal.SIGHUP, previous)
    try:
        install_signal_handlers([signal.SIGHUP])
        ours = signal.getsignal(signal.SIGHUP)
        assert ours is not previous
        install_signal_handlers([signal.SIGHUP])  # twice changes nothing
        assert signal.getsignal(signal.SIGHUP) is ours
        uninstall_signal_handlers()
        assert signal.getsignal(signal.SIGHUP) is previous
        uninstall_signal_handlers()  # nothing installed: nothing to do
        assert signal.getsignal(signal.SIGHUP) is previous
        install_signal_handlers([signal.SIGHUP])  # and it can be installed again
        assert signal.getsignal(signal.SIGHUP) is ours
    finally:
        uninstall_signal_handlers()
        signal.signal(signal.SIGHUP, saved)
