"""Areas: one directory whose files, dirs and scopes are tracked, budgeted and cleaned up.

:class:`TempArea` is the public base type that :class:`~langflix.temp.TempFileManager`
and :class:`~langflix.temp.TempScope` share; every signature that accepts "a
manager or a scope" names it. Tracking is an insertion-ordered dict under the
tree's lock, keyed by the path's ``str``: membership and removal never search,
and the hot path (create, then clean up) builds one ``Path`` for the caller.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from langflix.errors import TempFileError
from langflix.temp._budget import Budget, Reservation
from langflix.temp._counters import Counters
from langflix.temp._flights import Tree
from langflix.temp._names import create_dir, create_file, is_inside, safe_prefix, safe_suffix
from langflix.temp._persist import SessionAnchor, publish
from langflix.temp._trees import remove_tree, tree_bytes
from langflix.temp._views import TempPathContext, TempStats, TrackedPaths, path_in, path_key

if TYPE_CHECKING:
    from langflix.temp._manager import TempFileManager
    from langflix.temp._scope import TempScope

__all__ = ["TempArea", "Tree"]

logger = logging.getLogger("langflix.temp")


class TempArea(ABC):
    """A manager or a scope: one directory, what is tracked in it, its budget and its scopes.

    Everything here is thread-safe. ``prefix``/``suffix``/names may come from
    users: they are sanitised, never raised on, so every path stays directly
    inside this area's directory. States: open until :meth:`close`, then
    closed (new files are refused with a clear error; closing twice does nothing).
    """

    temp_files: TrackedPaths
    temp_dirs: TrackedPaths
    _budget: Budget
    _counters: Counters

    def __init__(
        self,
        *,
        tree: Tree,
        root: TempFileManager,
        parent: TempArea | None,
        max_bytes: int | None,
        min_free_bytes: int,
    ) -> None:
        self._tree = tree
        self._root = root
        self._parent = parent
        self._files: dict[str, None] = {}
        self._dirs: dict[str, None] = {}
        self._outside: dict[str, None] = {}  # registered paths not inside our directory
        self._scopes: dict[TempScope, None] = {}
        self._beside: list[Callable[[], int]] = []  # bytes kept outside the directory that count as ours
        self._counters = Counters(parent._counters if parent is not None else None)
        self._closed = False
        self.temp_files = TrackedPaths(self, "file")
        self.temp_dirs = TrackedPaths(self, "dir")
        self._budget = Budget(
            lambda: self.path,
            self._usage_bytes,
            max_bytes=max_bytes,
            min_free_bytes=min_free_bytes,
            parent=parent._budget if parent is not None else None,
            guard=tree,
        )

    # -- what each kind of area provides ------------------------------------
    @property
    @abstractmethod
    def path(self) -> Path:
        """This area's directory."""

    @abstractmethod
    def close(self) -> None:
        """Remove everything this area holds; safe to call twice."""

    @abstractmethod
    def _directory_path(self) -> Path:
        """This area's directory, made on first use; the same ``Path`` object every time."""

    @abstractmethod
    def _measured(self) -> tuple[str, frozenset[str]] | None:
        """The directory whose bytes count as this area's, and files in it not to count; None when gone."""

    @abstractmethod
    def _describe(self) -> str:
        """The area in words, for messages and logs."""

    # -- what the views read and change ---------------------------------------
    def _tracked(self, kind: Literal["file", "dir"]) -> dict[str, None]:
        # Read without the lock: len() and `in` on a dict are atomic under the GIL.
        return self._files if kind == "file" else self._dirs

    def _tracked_keys(self, kind: Literal["file", "dir"]) -> list[str]:
        with self._tree.lock:
            return list(self._tracked(kind))

    def _untrack(self, kind: Literal["file", "dir"], key: str) -> bool:
        """Stop tracking ``key`` (nothing is deleted); whether it was tracked."""
        with self._tree.lock:
            tracked = self._tracked(kind).pop(key, 0) is None
            if tracked and key not in self._files and key not in self._dirs:
                self._outside.pop(key, None)  # or its bytes would still count against the budget
            return tracked

    def _untrack_all(self, kind: Literal["file", "dir"]) -> None:
        with self._tree.lock:
            tracked = self._tracked(kind)
            other = self._dirs if kind == "file" else self._files
            for key in tracked:
                if key not in other:
                    self._outside.pop(key, None)
            tracked.clear()

    # -- state ------------------------------------------------------------
    @property
    def closed(self) -> bool:
        """True once closed, and in a forked child (the files are the parent's)."""
        return self._closed or self._not_owner()

    async def aclose(self) -> None:
        """:meth:`close` in a worker thread, so a large tree never blocks the event loop.

        Cancelling the caller does not cancel the close: it is a shielded
        executor job, which the executor runs even once the loop is gone.
        """
        await asyncio.shield(asyncio.get_running_loop().run_in_executor(None, self.close))

    def _not_owner(self) -> bool:
        # True in a forked child (os.fork, multiprocessing "fork"): everything it
        # inherited belongs to the parent, which must find its files intact.
        return self._tree.owner_pid != os.getpid()

    def _check_open(self) -> None:
        if self._not_owner():
            raise TempFileError(
                f"{self._describe()} was inherited through fork and belongs to the parent process; "
                "a child must not use it. Make the child its own with get_temp_manager() or TempFileManager()."
            )
        if self._closed:
            raise TempFileError(f"{self._describe()} is closed; its files are gone. Create a new scope or manager.")

    def _check_open_fast(self) -> None:
        # The hot path's form of _check_open: two comparisons unless something is wrong.
        if self._closed or self._tree.owner_pid != os.getpid():
            self._check_open()

    def _count(self, name: str, amount: int = 1) -> None:
        self._counters.add(name, amount)

    def _note_peak(self, nbytes: int) -> None:
        self._counters.note_peak(nbytes)

    def _usage_bytes(self) -> int:
        # No lock on purpose: another manager's budget check calls this while it
        # holds its own lock, so taking ours could deadlock two managers reserving
        # at once. list() of a dict is atomic under the GIL.
        beside = sum(count() for count in list(self._beside))
        measured = self._measured()
        if measured is None:
            return beside
        directory, excluded = measured
        total = tree_bytes(directory, excluded) + beside
        for path in list(self._outside):
            try:
                total += os.lstat(path).st_size
            except OSError:
                pass
        return total

    def _count_beside(self, count: Callable[[], int]) -> None:
        """Count the bytes ``count()`` reports as this area's too (uploads beside the sessions)."""
        self._beside.append(count)

    # -- creating and tracking ------------------------------------------------
    def create_temp_file(self, suffix: str = "", prefix: str | None = None, delete: bool = True) -> TempPathContext:
        """A new, empty, closed file (0600) for the block; removed at exit when ``delete``.

        With ``delete=False`` the file stays after the block and is removed by
        :meth:`cleanup_all` (or moved out with :meth:`persist`).
        """
        return TempPathContext(self, self._new_file(suffix, prefix), delete)

    def create_temp_dir(self, prefix: str | None = None) -> TempPathContext:
        """A new directory (0700) for the block, removed with its contents at exit."""
        return TempPathContext(self, self._new_dir(prefix), True)

    def new_file(self, suffix: str = "", prefix: str | None = None) -> Path:
        """A tracked empty file (0600) that lives until released, persisted or cleaned up."""
        return path_in(self._directory_path(), self._new_file(suffix, prefix))

    def new_dir(self, prefix: str | None = None) -> Path:
        """A tracked directory (0700) that lives until released, persisted or cleaned up."""
        return path_in(self._directory_path(), self._new_dir(prefix))

    def _new_file(self, suffix: str, prefix: str | None) -> str:
        if suffix or not isinstance(suffix, str):
            suffix = safe_suffix(suffix)
        # The manager's own prefix was made safe once, at construction.
        prefix = self._root.prefix if prefix is None else safe_prefix(prefix)
        with self._tree.lock:
            # Under the lock, so a concurrent close cannot remove the directory
            # between the check and the create.
            self._check_open_fast()
            # str() of the directory's own Path object is computed once and cached.
            key = create_file(str(self._directory_path()), prefix, suffix)
            self._files[key] = None
            self._counters.created_one()
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("temp file created: %s (%s)", key, self._describe())
        return key

    def _new_dir(self, prefix: str | None) -> str:
        prefix = safe_prefix(self._root.prefix if prefix is None else prefix)
        with self._tree.lock:
            self._check_open()
            key = create_dir(str(self._directory_path()), prefix)
            self._dirs[key] = None
            self._count("created")
        logger.debug("temp dir created: %s (%s)", key, self._describe())
        return key

    def register_file(self, path: str | os.PathLike[str], *, allow_outside: bool = False) -> Path:
        """Track a file made elsewhere (by ffmpeg, say) so cleanup removes it.

        A path outside ``base_dir`` is refused unless ``allow_outside=True``:
        registering a user's input by mistake would delete it.
        """
        return self._register(path, self._files, allow_outside)

    def register_dir(self, path: str | os.PathLike[str], *, allow_outside: bool = False) -> Path:
        """Track a directory made elsewhere; cleanup removes it with its contents."""
        return self._register(path, self._dirs, allow_outside)

    def _register(self, path: str | os.PathLike[str], into: dict[str, None], allow_outside: bool) -> Path:
        absolute = Path(os.path.abspath(path))
        base = self._root.base_dir
        if not allow_outside and not is_inside(absolute, base):
            raise ValueError(
                f"refusing to track {absolute}: it is outside the temp base dir {base}, so cleanup would "
                "delete a file LangFlix does not own. Pass allow_outside=True if it really is temporary."
            )
        key = str(absolute)
        with self._tree.lock:
            self._check_open()
            into[key] = None
            if not absolute.is_relative_to(self.path):
                self._outside[key] = None
        logger.debug("temp path registered: %s (%s)", key, self._describe())
        return absolute

    # -- cleaning up -------------------------------------------------------------
    def release(self, path: str | os.PathLike[str]) -> None:
        """Delete a tracked file or directory now; a missing or untracked one is not an error."""
        self._release_key(path_key(path))

    def _release_key(self, key: str) -> None:
        if self._not_owner():
            return  # a forked child leaving the parent's `with` block deletes nothing
        doomed: list[str] = []
        with self._tree.lock:
            # A directory's deletion walks it by fds: a persist renaming it
            # meanwhile would have its published tree emptied. A file needs it
            # only when a persist of it runs (an unlink cannot follow a rename).
            if self._tree.flights or key in self._dirs:
                doomed = self._doom(lambda: [key])
            is_file = self._files.pop(key, 0) is None
            is_dir = not is_file and self._dirs.pop(key, 0) is None
            self._outside.pop(key, None)
        try:
            if is_file or is_dir:
                self._delete(key)
        finally:
            if doomed:
                self._tree.spare(doomed)

    def _delete(self, path: str) -> bool:
        try:
            try:
                os.unlink(path)
            except IsADirectoryError:
                remove_tree(path)
            except FileNotFoundError:
                pass
        except OSError as exc:
            if exc.errno == errno.EPERM and os.path.isdir(path) and not os.path.islink(path):
                try:  # unlink() on a directory is EPERM on Linux
                    remove_tree(path)
                except OSError as exc2:
                    return self._failed(path, exc2)
            else:
                return self._failed(path, exc)
        with self._tree.lock:
            self._count("cleaned")
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("temp path cleaned: %s (%s)", path, self._describe())
        return True

    def _failed(self, path: str | os.PathLike[str], exc: OSError) -> bool:
        with self._tree.lock:
            self._count("failures")
        logger.warning("could not remove temp path %s (%s): %s", path, self._describe(), exc)
        return False

    def cleanup_all(self) -> None:
        """Remove every tracked file, dir and live scope; log failures, never raise.

        The area stays usable afterwards.
        """
        if self._not_owner():
            return  # never the parent's files from a forked child
        with self._tree.lock:
            scopes = list(self._scopes)
            # A persist must not see its source deleted half-way: the running
            # ones are stopped (and waited for), and no new one may start, so
            # each publishes the whole thing or nothing.
            paths = self._doom(lambda: list(self._files) + list(self._dirs))
            self._files.clear()
            self._dirs.clear()
            self._outside.clear()
        try:
            for scope in scopes:
                scope.close()
            for path in paths:
                self._delete(path)
        finally:
            self._tree.spare(paths)

    def _doom(self, paths: Callable[[], list[str]]) -> list[str]:
        """Mark ``paths()`` as being deleted, once no persist of them runs (:meth:`Tree.doom`; lock held)."""
        return self._tree.doom(paths)

    # -- scopes, persist, budgets, stats -----------------------------------
    def scope(self, name: str = "scope", *, max_bytes: int | None = None, min_free_bytes: int = 0) -> TempScope:
        """A child area with its own directory, removed in one go when the scope closes."""
        with self._tree.lock:
            self._check_open()
            scope = self._root._new_scope(self, name, max_bytes=max_bytes, min_free_bytes=min_free_bytes)
            self._scopes[scope] = None
        return scope

    def _forget_scope(self, scope: TempScope) -> None:
        with self._tree.lock:
            self._scopes.pop(scope, None)

    def persist(
        self, temp_path: str | os.PathLike[str], destination: str | os.PathLike[str], *, replace: bool = True
    ) -> Path:
        """Move a finished temp file or dir to ``destination`` atomically and stop tracking it.

        Same filesystem: one rename. Across filesystems: copy to a hidden name
        beside the destination, fsync, then rename. Either way a reader (or a
        crash) sees the old destination or the complete new one, never half a
        file. The result gets the usual permissions (0666/0777 & ~umask). A
        symbolic link or a special file (device, FIFO, socket), as the source or
        anywhere in its tree, is refused: nothing is ever published through a
        link. Closing the area meanwhile (from another thread, a signal
        handler, ``cleanup_all()``) makes this raise ``TempFileError`` with
        nothing published. ``replace=False``: an existing destination is kept
        and :class:`~langflix.errors.DestinationExistsError` raised.
        """
        source = Path(temp_path)
        dest = Path(destination)
        key = str(source)
        with self._tree.lock:
            self._check_open()
            if key not in self._files and key not in self._dirs and not source.is_relative_to(self.path):
                raise TempFileError(
                    f"cannot persist {source}: it is not a temp path of {self._describe()}. "
                    "Persist only files made through this manager or scope."
                )
            flight = self._tree.take_off(self, key)  # refused while a deletion of it runs
        try:
            publish(source, dest, anchor=self._root._anchor(), flight=flight, replace=replace)
        finally:
            self._tree.land(flight)
        logger.debug("temp path persisted: %s -> %s (%s)", source, dest, self._describe())
        return dest

    def _forget_everywhere(self, key: str) -> None:
        # The path may be tracked by a nested scope (a job's output persisted
        # through the manager): forget it wherever it is tracked, or that scope
        # would keep counting a file that is gone. Called with the lock held.
        stack: list[TempArea] = [self._root]
        while stack:
            area = stack.pop()
            area._files.pop(key, None)
            area._dirs.pop(key, None)
            area._outside.pop(key, None)
            stack.extend(area._scopes)

    def _anchor(self) -> SessionAnchor | None:
        """The session this tree's files live in, for persist's link-free walk (the root provides it)."""
        return None

    def reserve(self, nbytes: int, what: str = "this work") -> Reservation:
        """Claim disk space before large work; raises a clear error when it is not there.

        ``QuotaExceededError``: this area's (or an ancestor's) ``max_bytes`` would be
        exceeded. ``InsufficientDiskSpaceError``: the filesystem lacks the space.
        Use it as a context manager or call ``release()``.
        """
        # Under the lock: a close cannot remove the directory between the check
        # and the budget's look at its filesystem.
        with self._tree.lock:
            self._check_open()
            return self._budget.reserve(nbytes, what)

    def stats(self) -> TempStats:
        """Live files/dirs/bytes (bytes read from the filesystem) and life-time counters."""
        live_bytes = self._usage_bytes()
        with self._tree.lock:
            self._note_peak(live_bytes)
            files, dirs, scopes = self._subtree_counts()
            c = self._counters
            return TempStats(
                live_files=files,
                live_dirs=dirs,
                live_scopes=scopes,
                live_bytes=live_bytes,
                peak_bytes=c.peak_bytes,
                reserved_bytes=self._budget.reserved,
                created=c.created,
                cleaned=c.cleaned,
                failures=c.failures,
                orphans_reclaimed=c.orphans_reclaimed,
            )

    def _subtree_counts(self) -> tuple[int, int, int]:
        files, dirs, scopes = len(self._files), len(self._dirs), len(self._scopes)
        for scope in self._scopes:
            sub = scope._subtree_counts()
            files, dirs, scopes = files + sub[0], dirs + sub[1], scopes + sub[2]
        return files, dirs, scopes
