"""Scopes: everything one job (or step) makes, in one directory removed at once."""

from __future__ import annotations

import logging
import os
import weakref
from pathlib import Path
from types import TracebackType

from langflix.temp._areas import TempArea
from langflix.temp._budget import human_bytes
from langflix.temp._names import create_dir, safe_prefix
from langflix.temp._trees import finalize_tree, remove_tree

__all__ = ["TempScope"]

logger = logging.getLogger("langflix.temp")


class TempScope(TempArea):
    """A child area: its own directory inside its parent's, removed with everything in it at exit.

    Made by ``scope()`` on a manager or another scope; same API as the manager.
    Closing is one routine, safe to call twice, run by ``with``/``async with``
    exit (also on exceptions and cancellation), by :meth:`close`, by the
    parent's cleanup, or by garbage collection (which warns with
    ``ResourceWarning``, like ``tempfile.TemporaryDirectory``).
    """

    def __init__(
        self,
        parent: TempArea,
        name: str,
        *,
        max_bytes: int | None = None,
        min_free_bytes: int = 0,
    ) -> None:
        self.name = safe_prefix(name) or "scope"
        self._key = create_dir(parent.path, f"{self.name}-")
        self._path = Path(self._key)
        super().__init__(
            tree=parent._tree, root=parent._root, parent=parent, max_bytes=max_bytes, min_free_bytes=min_free_bytes
        )
        self._finalizer = weakref.finalize(self, finalize_tree, self._key, os.getpid(), repr(self))
        self._finalizer.atexit = False  # the manager's own exit cleanup covers scopes
        logger.debug("temp scope opened: %s", self._key)

    @property
    def path(self) -> Path:
        return self._path

    def _directory_path(self) -> Path:
        return self._path

    def _measured(self) -> tuple[str, frozenset[str]] | None:
        return None if self.closed else (self._key, frozenset())

    def _describe(self) -> str:
        return f"temp scope {self.name!r}"

    def __repr__(self) -> str:
        return f"<TempScope {self.name!r} at {self._key}{' closed' if self._closed else ''}>"

    def close(self) -> None:
        """Remove the scope's directory and everything it tracks; twice is a no-op.

        A persist from it in flight is stopped first (and, in another thread,
        waited for): it publishes all of its source or raises, never half. The
        scope's reservations are released.
        """
        if self._not_owner():
            return  # a forked child unwinding `with scope:` must not remove the parent's job
        with self._tree.lock:
            if self._closed:
                return
            scopes = list(self._scopes)
        for scope in scopes:
            scope.close()
        with self._tree.lock:
            if self.closed:  # another thread closed it while the nested scopes were closing
                return
            self._closed = True
            self._budget.release_all()
            if self._parent is not None:
                self._parent._forget_scope(self)
            # Closed: no new persist from this scope. Doomed: none from the
            # manager of a path in it either; and the running ones end first.
            doomed = self._doom(lambda: [self._key, *(p for p in [*self._files, *self._dirs] if p in self._outside)])
            outside = doomed[1:]
            tracked = len(self._files) + len(self._dirs)
            self._files.clear()
            self._dirs.clear()
            self._outside.clear()
        try:
            self._remove_everything(outside, tracked)
        finally:
            self._tree.spare(doomed)

    def _remove_everything(self, outside: list[str], tracked: int) -> None:
        self._finalizer.detach()
        for path in outside:
            self._delete(path)
        try:
            _entries, nbytes = remove_tree(self._key)
        except OSError as exc:
            self._failed(self._key, exc)
            return
        with self._tree.lock:
            self._note_peak(nbytes)
            self._count("cleaned", tracked - len(outside))
        logger.debug("temp scope closed: %s (%s freed)", self._key, human_bytes(nbytes))

    def __enter__(self) -> TempScope:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        # close() logs instead of raising, so it can never hide the block's exception.
        self.close()

    async def __aenter__(self) -> TempScope:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        # aclose() is shielded: a cancelled task still finishes removing its tree.
        await self.aclose()

