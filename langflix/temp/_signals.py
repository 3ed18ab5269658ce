"""SIGTERM/SIGHUP: clean up every manager of this process first, then behave as before.

Python's default SIGTERM skips ``atexit``, so a service stopped by systemd or
Docker would leave its temp files for the next start's sweep. The CLI and the
server install these handlers; they chain whatever handler was there before.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable, Iterable
from types import FrameType
from typing import Any

from langflix.temp._manager import close_live_managers

__all__ = ["install_signal_handlers", "uninstall_signal_handlers"]

logger = logging.getLogger("langflix.temp")

_Handler = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None

# The handler each signal had before ours, by signal number.
_previous: dict[int, _Handler] = {}


def install_signal_handlers(signals: Iterable[int] = (signal.SIGTERM, signal.SIGHUP)) -> None:
    """Make ``signals`` clean up every manager of this process, then behave as before.

    After the cleanup the previous handler runs: a callable is called; the
    default exits with status 128+signum via ``SystemExit``, so ``finally``
    blocks still run. A signal that was ignored stays ignored; installing twice
    changes nothing. Call from the main thread.
    """
    for signum in signals:
        previous = signal.getsignal(signum)
        if previous is signal.SIG_IGN or previous is _handle_exit_signal or signum in _previous:
            continue
        _previous[signum] = previous
        signal.signal(signum, _handle_exit_signal)


def uninstall_signal_handlers() -> None:
    """Put back the handlers :func:`install_signal_handlers` replaced, where ours is still the one installed.

    Call from the main thread (an embedding application shutting down, a test).
    """
    for signum, previous in list(_previous.items()):
        if signal.getsignal(signum) is _handle_exit_signal:
            signal.signal(signum, previous if previous is not None else signal.SIG_DFL)
        del _previous[signum]


def _handle_exit_signal(signum: int, frame: FrameType | None) -> None:
    logger.info("signal %s: cleaning up temp files", signal.Signals(signum).name)
    close_live_managers("on signal")
    previous = _previous.get(signum)
    if callable(previous):
        previous(signum, frame)
        return
    raise SystemExit(128 + signum)
