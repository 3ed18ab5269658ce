"""The manager (one session directory per live manager) and the process-wide hooks around it.

Interpreter exit closes every manager of this process (``atexit``), but only in
the process that made it: a forked child disowns everything it inherited, so
neither its exit nor its ``with`` blocks delete its parent's files.
:func:`get_temp_manager` is the process-wide instance, made from
:class:`~langflix.temp.TempSettings`.
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import sys
import threading
import warnings
import weakref
from pathlib import Path
from types import TracebackType

from langflix.temp._areas import TempArea, Tree
from langflix.temp._names import DEFAULT_PREFIX, safe_prefix
from langflix.temp._persist import SessionAnchor, remove_recorded_staging
from langflix.temp._scope import TempScope
from langflix.temp._sessions import OWNER_FILE, SessionLock
from langflix.temp._settings import TempSettings, default_base_dir
from langflix.temp._sweep import sweep_orphans

__all__ = ["TempFileManager", "close_live_managers", "close_temp_manager", "get_temp_manager"]

logger = logging.getLogger("langflix.temp")


class _SessionBox:
    """Holds a manager's session so its finalizer can reach it without the manager."""

    __slots__ = ("session",)

    def __init__(self) -> None:
        self.session: SessionLock | None = None


class TempFileManager(TempArea):
    """Owns a session directory under ``base_dir`` and everything created in it.

    ``TempFileManager(prefix="langflix_", base_dir=None)``: ``base_dir``
    defaults to ``LANGFLIX_TEMP_DIR`` or the system temp dir. The session
    directory (``<prefix>session-<pid>-<random>``, 0700, flock-held for the
    manager's life) is created on first use. ``max_bytes``/``min_free_bytes``:
    the byte budget and the free-space floor of every reservation in it.
    ``sweep_on_start``: reclaim the sessions of dead processes under
    ``base_dir`` now. A manager dropped without :meth:`close` is cleaned up by
    garbage collection with a ``ResourceWarning``.
    """

    def __init__(
        self,
        prefix: str = DEFAULT_PREFIX,
        base_dir: str | os.PathLike[str] | None = None,
        *,
        max_bytes: int | None = None,
        min_free_bytes: int = 0,
        sweep_on_start: bool = False,
    ) -> None:
        self.prefix = safe_prefix(prefix)
        self.base_dir = Path(os.path.abspath(base_dir if base_dir is not None else default_base_dir()))
        self._box = _SessionBox()
        tree = Tree(lock=threading.RLock(), owner_pid=os.getpid())
        super().__init__(tree=tree, root=self, parent=None, max_bytes=max_bytes, min_free_bytes=min_free_bytes)
        _live_managers.add(self)
        _hook_multiprocessing_child()
        # Backstop for a manager dropped without close(): like TemporaryDirectory,
        # clean up and warn with ResourceWarning -- but only in the creating process.
        self._finalizer = weakref.finalize(self, _finalize_manager, self._box, tree.owner_pid)
        self._finalizer.atexit = False  # exit is handled by _close_all_at_exit
        if sweep_on_start:
            # sweep_orphans logs what it reclaimed at INFO.
            self._counters.orphans_reclaimed += sweep_orphans(self.base_dir, self.prefix).removed

    @property
    def session_dir(self) -> Path:
        """This manager's session directory (created and locked on first use)."""
        with self._tree.lock:
            session = self._box.session
            if session is None:
                self._check_open()
                session = self._box.session = SessionLock(self.base_dir, self.prefix)
                logger.debug("temp session opened: %s", session.path)
            return session.path

    @property
    def path(self) -> Path:
        return self.session_dir

    def _directory_path(self) -> Path:
        session = self._box.session
        return session.path if session is not None else self.session_dir

    def _measured(self) -> tuple[str, frozenset[str]] | None:
        session = self._box.session
        if session is None:
            return None
        # .owner is bookkeeping; a stream's bytes count as soon as they are written.
        return str(session.path), frozenset([str(session.path / OWNER_FILE)])

    def _describe(self) -> str:
        return f"temp manager {self.prefix!r} under {self.base_dir}"

    def __repr__(self) -> str:
        where = self._box.session.path if self._box.session else self.base_dir
        return f"<TempFileManager {self.prefix!r} at {where}{' closed' if self._closed else ''}>"

    def _new_scope(self, parent: TempArea, name: str, *, max_bytes: int | None, min_free_bytes: int) -> TempScope:
        # Every area's scope() comes here: the scope class needs this tree's root.
        return TempScope(parent, name, max_bytes=max_bytes, min_free_bytes=min_free_bytes)

    def close(self) -> None:
        """Clean up everything, remove the session dir and drop its lock; twice is a no-op.

        Persists in flight are stopped first (see :meth:`persist`); every
        reservation of the tree is released.
        """
        if self._not_owner():
            return  # a forked child never deletes its parent's files
        with self._tree.lock:
            if self._closed:
                return
        self.cleanup_all()
        with self._tree.lock:
            self._closed = True
            self._budget.release_all()
            session, self._box.session = self._box.session, None
            # Closed: no persist starts; the ones running from untracked paths
            # of the session end before it goes (the tree is closed for good:
            # the mark stays).
            if session is not None:
                self._doom(lambda: [str(session.path)])
        self._finalizer.detach()
        if session is not None:
            # A persist interrupted here (a signal handler closing us in its own
            # thread) may have left its staging dir beside its destination.
            remove_recorded_staging(session.path)
            try:
                session.release(remove=True)
            except OSError as exc:
                self._failed(session.path, exc)
            logger.debug("temp session closed: %s", session.path)

    def _anchor(self) -> SessionAnchor | None:
        return self._box.session

    def __enter__(self) -> TempFileManager:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    async def __aenter__(self) -> TempFileManager:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()  # shielded: see aclose()

    def _disown_after_fork(self) -> None:
        # The whole tree (this manager and every scope) shares self._tree, so
        # these two changes reach each of them: none creates or deletes here, and
        # none waits forever on a lock a parent thread held at the fork.
        self._tree.owner_pid = -1
        self._tree.replace_lock()
        self._finalizer.detach()
        session, self._box.session = self._box.session, None
        if session is not None:
            session.disown()


def _finalize_manager(box: _SessionBox, owner_pid: int) -> None:
    session, box.session = box.session, None
    if session is None or os.getpid() != owner_pid:
        return
    warnings.warn(f"Implicitly cleaning up temp session {session.path}", ResourceWarning, stacklevel=2)
    try:
        session.release(remove=True)
    except OSError as exc:
        logger.warning("could not remove temp session %s: %s", session.path, exc)


# -- process-wide pieces -----------------------------------------------------

_live_managers: weakref.WeakSet[TempFileManager] = weakref.WeakSet()
_default_manager: TempFileManager | None = None
_default_lock = threading.Lock()


def get_temp_manager() -> TempFileManager:
    """The process-wide manager, made on first call (sweeping dead sessions once).

    Its base dir, budget and free-space floor come from :class:`TempSettings`
    (``LANGFLIX_TEMP_DIR``, ``LANGFLIX_TEMP_MAX_BYTES``, ``LANGFLIX_MIN_FREE_BYTES``);
    an invalid one raises :class:`~langflix.errors.ConfigError` naming it.
    """
    global _default_manager
    with _default_lock:
        if _default_manager is None or _default_manager.closed:
            settings = TempSettings.from_env()
            _default_manager = TempFileManager(
                base_dir=settings.temp_base_dir(),
                max_bytes=settings.temp_max_bytes,
                min_free_bytes=settings.min_free_bytes,
                sweep_on_start=True,
            )
        return _default_manager


def close_temp_manager() -> None:
    """Close the process-wide manager, if one was made, and forget it.

    Its files and session go now instead of at exit; the next
    :func:`get_temp_manager` makes a fresh one, reading the settings again.
    """
    global _default_manager
    with _default_lock:
        manager, _default_manager = _default_manager, None
    if manager is not None:
        manager.close()


def close_live_managers(when: str) -> None:
    """Close every manager of this process, logging (never raising) a failure; ``when`` is for the log."""
    for manager in list(_live_managers):
        try:
            manager.close()
        except Exception:  # the other managers must still be closed
            logger.exception("temp cleanup %s failed for %r", when, manager)


_hooked_pid = 0


def _hook_multiprocessing_child() -> None:
    """In a multiprocessing child, make this process's managers end with it, however it ends.

    Such a child ends with ``os._exit`` (fork, forkserver), which skips
    ``atexit``, but after multiprocessing's own exit finalizers; and its
    ``Process.terminate()`` is a SIGTERM whose default skips both. So the
    managers are closed by a multiprocessing finalizer, and by a SIGTERM handler
    that then dies by the same signal (the exit code stays ``-SIGTERM``). A
    handler the program installed is left alone.
    """
    global _hooked_pid
    multiprocessing = sys.modules.get("multiprocessing")  # never imported: not a multiprocessing child
    if multiprocessing is None or _hooked_pid == os.getpid() or multiprocessing.parent_process() is None:
        return
    _hooked_pid = os.getpid()
    from multiprocessing import util

    util.Finalize(None, close_live_managers, args=("at multiprocessing child exit",), exitpriority=100)
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _close_then_die)


def _close_then_die(signum: int, frame: object) -> None:
    close_live_managers("on signal")
    signal.signal(signum, signal.SIG_DFL)
    signal.raise_signal(signum)


@atexit.register
def _close_all_at_exit() -> None:
    # Layer 3: interpreter exit. Managers disowned after a fork are skipped by close().
    close_live_managers("at exit")


def _after_fork_in_child() -> None:
    # CPython's TemporaryDirectory finalizer would delete the parent's files when
    # a forked child exits; here the child disowns every inherited manager.
    global _default_manager, _default_lock
    _default_lock = threading.Lock()
    for manager in list(_live_managers):
        manager._disown_after_fork()
    _default_manager = None


os.register_at_fork(after_in_child=_after_fork_in_child)
