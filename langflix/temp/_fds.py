"""Fds that carry a lock (a session's, an upload's, a sweeper's), and who may inherit them.

A session's ownership *is* its ``flock`` (see ``_sessions``), an upload's writer
and taker hold theirs (``_uploads``), and the kernel keeps a flock as long as any
process holds an fd of its open file description. So who holds these fds
decides which sessions look alive and which uploads look busy:

* a forked Python child (``os.fork``, multiprocessing "fork") never keeps its
  parent's locks: every such fd is opened and closed under one lock that
  ``os.fork`` takes too (``register_at_fork``), so a fork never catches one
  opened but not yet registered, and the child closes all of them at once;
* they are ``O_CLOEXEC``, so no exec'd program inherits one by accident;
* an exec'd helper that writes into the sessions (ffmpeg, espeak-ng) is handed
  the session locks on purpose (:func:`session_lock_fds`): the sessions stay
  locked, and no sweep reclaims them, while the helper runs, even after its
  parent was SIGKILLed.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

from langflix.temp._trees import DIR_FLAGS

__all__ = ["CLOSED", "LockFd", "session_lock_fds"]

CLOSED: Final = -1

# Re-entrant: a Popen with a preexec_fn inside session_lock_fds() would run the
# fork hooks in the very thread that holds it.
_guard = threading.RLock()
_open: dict[int, LockFd] = {}


class LockFd:
    """An open fd (a directory unless ``flags`` say otherwise) that may carry a ``flock``.

    :meth:`close` is safe to call twice. ``session``: the fd is a session's own
    lock, which exec'd helpers inherit. ``fd`` is :data:`CLOSED` once closed
    (here, or in a forked child).
    """

    __slots__ = ("fd", "session")

    def __init__(self, path: str | os.PathLike[str], *, flags: int = DIR_FLAGS, session: bool = False) -> None:
        self.session = session
        # Under _guard: a fork between the open and the registration would hand
        # the child an fd its after-fork hook does not know to close.
        with _guard:
            self.fd = os.open(path, flags | os.O_CLOEXEC)
            _open[self.fd] = self

    def close(self) -> None:
        """Close the fd (dropping any flock that only it held)."""
        with _guard:
            fd, self.fd = self.fd, CLOSED
            if fd != CLOSED:
                del _open[fd]
                os.close(fd)


@contextmanager
def session_lock_fds() -> Iterator[tuple[int, ...]]:
    """The fds of this process's session locks, valid for the block: ``pass_fds`` for an exec'd helper.

    The helper then holds the very locks its parent holds, so the sessions it
    writes into count as alive for as long as it runs. Sessions are neither
    opened nor closed, and nothing forks, while the block runs: keep it to the
    ``Popen`` call.
    """
    with _guard:
        yield tuple(fd for fd, handle in _open.items() if handle.session)


def _before_fork() -> None:
    _guard.acquire()


def _after_fork_in_parent() -> None:
    _guard.release()


def _after_fork_in_child() -> None:
    # Closing the child's copies leaves the parent's locks alone (the parent
    # still holds the open file descriptions); the parent's death frees them.
    global _guard
    for fd, handle in _open.items():
        handle.fd = CLOSED
        os.close(fd)
    _open.clear()
    _guard = threading.RLock()


os.register_at_fork(before=_before_fork, after_in_parent=_after_fork_in_parent, after_in_child=_after_fork_in_child)
