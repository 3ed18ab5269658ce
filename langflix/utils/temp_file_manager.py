"""The temp-file life cycle of LangFlix: every temporary byte has an owner and an end.

This is the only module allowed to call :mod:`tempfile`. It implements the API
sketched in TICKET-003 (``TempFileManager``, ``create_temp_file``,
``create_temp_dir``, ``register_file``, ``cleanup_all``, ``get_temp_manager``)
and the layers of cleanup from DESIGN.md, each a backstop for the one before:

1. ``with`` block exit (also on exceptions and cancellation);
2. scope exit: ``with manager.scope("job-42")`` removes a job's whole directory;
3. ``cleanup_all()`` at interpreter exit, only in the process that made the files
   (a forked child never deletes its parent's files);
4. SIGTERM / SIGHUP handlers (:func:`install_signal_handlers`);
5. :func:`sweep_orphans` of dead sessions after SIGKILL or a power cut.

Files that must outlive their block are kept with ``delete=False`` (still removed
by ``cleanup_all``) or moved out atomically with :meth:`TempFileManager.persist`.
"""

from __future__ import annotations

import asyncio
import atexit
import errno
import logging
import os
import shutil
import signal
import tempfile
import threading
import warnings
import weakref
from collections.abc import AsyncIterable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any, Final

from langflix.errors import InsufficientDiskSpaceError, QuotaExceededError, TempFileError
from langflix.utils.disk_budget import DEFAULT_MIN_FREE_BYTES, Budget, Reservation, human_bytes
from langflix.utils.temp_sessions import (
    OWNER_FILE,
    SessionLock,
    SweepReport,
    remove_tree,
    sweep_sessions,
    tree_bytes,
)

__all__ = [
    "DEFAULT_PREFIX",
    "InsufficientDiskSpaceError",
    "QuotaExceededError",
    "Reservation",
    "SweepReport",
    "TempFileError",
    "TempFileManager",
    "TempScope",
    "TempStats",
    "TrackedPaths",
    "awrite_stream",
    "default_base_dir",
    "get_temp_manager",
    "install_signal_handlers",
    "sweep_orphans",
    "write_stream",
]

logger = logging.getLogger("langflix.temp")

DEFAULT_PREFIX: Final = "langflix_"
STREAM_CHUNK_RESERVE: Final = 8 * 1024 * 1024
_MAX_PREFIX_LEN: Final = 80
_MAX_SUFFIX_LEN: Final = 32
_NAME_ATTEMPTS: Final = 100
_FILE_FLAGS: Final = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def default_base_dir() -> Path:
    """``LANGFLIX_TEMP_DIR`` when set, else the system temp dir."""
    configured = os.environ.get("LANGFLIX_TEMP_DIR")
    return Path(configured) if configured else Path(tempfile.gettempdir())


def _read_umask() -> int:
    # os.umask() can only be read by setting it, which races with other threads.
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return 0o022


_UMASK: Final = _read_umask()


def _join_name(directory: Path, name: str) -> Path:
    return directory / name


# ``directory / name`` re-parses ``name`` for separators (about 4 us on Python
# 3.11, a third of our overhead over bare mkstemp); our names are already
# single sanitised components, so use pathlib's own child constructor where it
# exists (CPython 3.11 and 3.12) and the public operator otherwise.
_child: Final = getattr(Path, "_make_child_relpath", None) or _join_name


def _safe_component(value: str, what: str, limit: int) -> str:
    """Make a user-supplied prefix/suffix unable to leave its directory.

    Job ids and upload names come from users; rather than refuse them, path
    separators, NUL and ``..`` are replaced by ``_`` (documented: sanitised,
    never raised), and the length is capped to keep names under NAME_MAX.
    """
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str, not {type(value).__name__}")
    cleaned = value.replace("\0", "_").replace("/", "_").replace("\\", "_")
    while ".." in cleaned:
        cleaned = cleaned.replace("..", "_")
    cleaned = cleaned[:limit] if what == "prefix" else cleaned[-limit:] if cleaned else cleaned
    try:
        encoded = os.fsencode(cleaned)
    except UnicodeEncodeError:
        # A lone surrogate (a JSON job id "\ud800", say) has no bytes on disk.
        cleaned = "".join(ch if _encodable(ch) else "_" for ch in cleaned)
        encoded = os.fsencode(cleaned)
    # NAME_MAX counts bytes, not characters: 80 Korean characters are 240 bytes,
    # and a name over 255 bytes fails with ENAMETOOLONG. Trim whole characters.
    while len(encoded) > limit:
        cleaned = cleaned[:-1] if what == "prefix" else cleaned[1:]
        encoded = os.fsencode(cleaned)
    return cleaned


def _encodable(ch: str) -> bool:
    try:
        os.fsencode(ch)
    except UnicodeEncodeError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class TempStats:
    """A snapshot of an area's temp files (a manager's figures include its scopes)."""

    live_files: int
    live_dirs: int
    live_scopes: int
    live_bytes: int
    peak_bytes: int
    reserved_bytes: int
    created: int
    cleaned: int
    failures: int
    orphans_reclaimed: int


class _Counters:
    __slots__ = ("cleaned", "created", "failures", "orphans_reclaimed", "peak_bytes")

    def __init__(self) -> None:
        self.created = self.cleaned = self.failures = self.orphans_reclaimed = self.peak_bytes = 0


class TrackedPaths:
    """A list-like, O(1) view of an area's tracked files or dirs.

    Code written against the ticket's sketch (``self.temp_files`` as a list)
    keeps working: ``len``, ``in``, iteration, ``append`` (which registers),
    ``remove`` (stops tracking, raising ``ValueError`` when absent, like a list)
    and ``clear``. Underneath it is an insertion-ordered dict under the
    manager's lock, so membership and removal never search.
    """

    def __init__(self, area: _TempArea, kind: str) -> None:
        self._area = area
        self._kind = kind

    @property
    def _map(self) -> dict[Path, None]:
        return self._area._files if self._kind == "file" else self._area._dirs

    def __len__(self) -> int:
        return len(self._map)

    def __contains__(self, path: object) -> bool:
        try:
            return Path(path) in self._map  # type: ignore[arg-type]
        except TypeError:
            return False

    def __iter__(self) -> Iterator[Path]:
        with self._area._lock:
            return iter(list(self._map))

    def __getitem__(self, index: int) -> Path:
        with self._area._lock:
            return list(self._map)[index]

    def __bool__(self) -> bool:
        return bool(self._map)

    def __repr__(self) -> str:
        return f"TrackedPaths({list(self)!r})"

    def append(self, path: str | os.PathLike[str]) -> None:
        """Track ``path`` (the sketch's ``temp_files.append``)."""
        if self._kind == "file":
            self._area.register_file(path)
        else:
            self._area.register_dir(path)

    def remove(self, path: str | os.PathLike[str]) -> None:
        """Stop tracking ``path`` without deleting it."""
        with self._area._lock:
            try:
                del self._map[Path(path)]
            except KeyError:
                raise ValueError(f"{path} is not tracked by this temp manager") from None

    def discard(self, path: str | os.PathLike[str]) -> None:
        with self._area._lock:
            self._map.pop(Path(path), None)

    def clear(self) -> None:
        """Stop tracking everything (nothing is deleted)."""
        with self._area._lock:
            self._map.clear()


class _PathContext:
    """The context manager ``create_temp_file``/``create_temp_dir`` return.

    A small class rather than ``@contextmanager`` (cheaper per call), and it
    works in ``async with`` too, where a large directory is removed in a
    worker thread so the event loop never blocks on it.
    """

    __slots__ = ("_area", "_delete", "path")

    def __init__(self, area: _TempArea, path: Path, delete: bool) -> None:
        self._area = area
        self.path = path
        self._delete = delete

    def __enter__(self) -> Path:
        return self.path

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if self._delete:
            self._area.release(self.path)

    async def __aenter__(self) -> Path:
        return self.path

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if self._delete:
            await asyncio.to_thread(self._area.release, self.path)


class _TempArea:
    """What a manager and its scopes share: one directory, its tracked paths, its budget."""

    _lock: threading.RLock
    _root: TempFileManager

    def _init_area(self, parent: _TempArea | None, max_bytes: int | None, min_free_bytes: int) -> None:
        self._files: dict[Path, None] = {}
        self._dirs: dict[Path, None] = {}
        self._outside: dict[Path, None] = {}  # registered paths not inside our directory
        self._scopes: dict[TempScope, None] = {}
        self._counters = _Counters()
        self._parent = parent
        self._closed = False
        self.temp_files = TrackedPaths(self, "file")
        self.temp_dirs = TrackedPaths(self, "dir")
        self.budget = Budget(
            lambda: self.path,
            self._usage_bytes,
            max_bytes=max_bytes,
            min_free_bytes=min_free_bytes,
            parent=parent.budget if parent is not None else None,
            lock=self._lock,
        )

    # -- subclasses provide ------------------------------------------------
    @property
    def path(self) -> Path:  # pragma: no cover - overridden
        raise NotImplementedError

    def _describe(self) -> str:  # pragma: no cover - overridden
        raise NotImplementedError

    def _has_dir(self) -> bool:
        return not self._closed

    # -- helpers -----------------------------------------------------------
    def _not_owner(self) -> bool:
        # True in a forked child (os.fork, multiprocessing "fork"): everything it
        # inherited belongs to the parent, which must find its files intact.
        return self._root._owner_pid != os.getpid()

    def _check_open(self) -> None:
        if self._closed and self._not_owner():
            raise TempFileError(
                f"{self._describe()} was inherited through fork and belongs to the parent process; "
                "a child must not use it. Make the child its own with get_temp_manager() or TempFileManager()."
            )
        if self._closed:
            raise TempFileError(
                f"{self._describe()} is closed; its files are gone. Create a new scope or manager."
            )

    def _count(self, name: str, amount: int = 1) -> None:
        area: _TempArea | None = self
        while area is not None:
            counters = area._counters
            setattr(counters, name, getattr(counters, name) + amount)
            area = area._parent

    def _usage_bytes(self) -> int:
        # No lock on purpose: another manager's budget check calls this while it
        # holds its own lock, so taking ours could deadlock two managers reserving
        # at once. list() of a dict is atomic under the GIL.
        session = self._root._box.session
        if session is None or (self._closed and self is not self._root):
            return 0
        # .owner is bookkeeping; a stream's bytes count as soon as they are written.
        excluded = frozenset([str(session.path / OWNER_FILE)])
        total = tree_bytes(session.path if self is self._root else self.path, excluded)
        for path in list(self._outside):
            try:
                total += os.lstat(path).st_size
            except OSError:
                pass
        return total

    def _note_peak(self, nbytes: int) -> None:
        area: _TempArea | None = self
        while area is not None:
            if nbytes > area._counters.peak_bytes:
                area._counters.peak_bytes = nbytes
            area = area._parent

    # -- the ticket's API --------------------------------------------------
    def create_temp_file(self, suffix: str = "", prefix: str | None = None, delete: bool = True) -> _PathContext:
        """A new, empty, closed file (0600) for the block; removed at exit when ``delete``.

        With ``delete=False`` the file stays after the block and is removed by
        :meth:`cleanup_all` (or moved out with :meth:`persist`). ``prefix`` and
        ``suffix`` may come from users: path separators, NUL and ``..`` are
        replaced by ``_`` (sanitised, never raised), so the file is always
        directly inside this area's directory.
        """
        return _PathContext(self, self.new_file(suffix, prefix), delete)

    def create_temp_dir(self, prefix: str | None = None) -> _PathContext:
        """A new directory (0700) for the block, removed with its contents at exit."""
        return _PathContext(self, self.new_dir(prefix), True)

    def new_file(self, suffix: str = "", prefix: str | None = None) -> Path:
        """A tracked empty file that lives until released, persisted or cleaned up."""
        if suffix or not isinstance(suffix, str):
            suffix = _safe_component(suffix, "suffix", _MAX_SUFFIX_LEN)
        # The manager's own prefix was sanitised once, in __init__.
        prefix = self._root.prefix if prefix is None else _safe_component(prefix, "prefix", _MAX_PREFIX_LEN)
        with self._lock:
            self._check_open()
            directory = self.path
            # What mkstemp does (O_EXCL, 0600, an unpredictable name: 48 bits from
            # os.urandom) without its per-call overhead, which made a create+cleanup
            # cycle 2.9x the cost of bare mkstemp (benchmarks/bench_temp_manager.py).
            # Under the lock so a concurrent close cannot rmtree the dir between
            # the check and the create.
            for _attempt in range(_NAME_ATTEMPTS):
                path = _child(directory, f"{prefix}{os.urandom(6).hex()}{suffix}")
                try:
                    fd = os.open(path, _FILE_FLAGS, 0o600)
                except FileExistsError:
                    continue
                break
            else:
                raise TempFileError(
                    f"could not find a free temp file name in {directory} after {_NAME_ATTEMPTS} tries; "
                    "is something creating files there?"
                )
            os.close(fd)
            self._files[path] = None
            self._count("created")
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("temp file created: %s (%s)", path, self._describe())
        return path

    def new_dir(self, prefix: str | None = None) -> Path:
        """A tracked directory (0700) that lives until released or cleaned up."""
        prefix = _safe_component(self._root.prefix if prefix is None else prefix, "prefix", _MAX_PREFIX_LEN)
        with self._lock:
            self._check_open()
            path = Path(tempfile.mkdtemp(prefix=prefix, dir=self.path))
            self._dirs[path] = None
            self._count("created")
        logger.debug("temp dir created: %s (%s)", path, self._describe())
        return path

    def register_file(self, path: str | os.PathLike[str], *, allow_outside: bool = False) -> Path:
        """Track a file made elsewhere (by ffmpeg, say) so cleanup removes it.

        A path outside ``base_dir`` is refused unless ``allow_outside=True``:
        registering a user's input by mistake would delete it.
        """
        return self._register(Path(path), self._files, allow_outside)

    def register_dir(self, path: str | os.PathLike[str], *, allow_outside: bool = False) -> Path:
        """Track a directory made elsewhere; cleanup removes it with its contents."""
        return self._register(Path(path), self._dirs, allow_outside)

    def _register(self, path: Path, into: dict[Path, None], allow_outside: bool) -> Path:
        path = Path(os.path.abspath(path))
        base = self._root.base_dir
        # Resolve the directories (not the last component: a registered symlink is
        # removed as a link): "<base>/link-to-home/thesis.docx" is lexically inside
        # base_dir but cleanup would delete the user's file through the symlink.
        real = Path(os.path.realpath(path.parent)) / path.name
        if not allow_outside and not (
            path.is_relative_to(base) and real.is_relative_to(os.path.realpath(base))
        ):
            raise ValueError(
                f"refusing to track {path}: it is outside the temp base dir {base}, so cleanup would "
                "delete a file LangFlix does not own. Pass allow_outside=True if it really is temporary."
            )
        with self._lock:
            self._check_open()
            into[path] = None
            if not path.is_relative_to(self.path):
                self._outside[path] = None
        logger.debug("temp path registered: %s (%s)", path, self._describe())
        return path

    def release(self, path: str | os.PathLike[str]) -> None:
        """Delete a tracked file or directory now; a missing one is not an error."""
        if self._not_owner():
            return  # a forked child leaving the parent's `with` block deletes nothing
        if not isinstance(path, Path):
            path = Path(path)  # a Path is used as is: rebuilding it would cost a parse and a hash
        with self._lock:
            is_file = self._files.pop(path, 0) is None
            is_dir = not is_file and self._dirs.pop(path, 0) is None
            self._outside.pop(path, None)
        if is_file or is_dir:
            self._delete(path)

    def _delete(self, path: Path) -> bool:
        try:
            try:
                os.unlink(path)
            except IsADirectoryError:
                remove_tree(path)
            except FileNotFoundError:
                pass
        except OSError as exc:
            if exc.errno == errno.EPERM and path.is_dir() and not path.is_symlink():
                try:  # unlink() on a directory is EPERM on Linux
                    remove_tree(path)
                except OSError as exc2:
                    return self._failed(path, exc2)
            else:
                return self._failed(path, exc)
        with self._lock:
            self._count("cleaned")
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("temp path cleaned: %s (%s)", path, self._describe())
        return True

    def _failed(self, path: Path, exc: OSError) -> bool:
        with self._lock:
            self._count("failures")
        logger.warning("could not remove temp path %s (%s): %s", path, self._describe(), exc)
        return False

    def cleanup_all(self) -> None:
        """Remove every tracked file, dir and live scope; log failures, never raise.

        The area stays usable afterwards.
        """
        if self._not_owner():
            return  # never the parent's files from a forked child
        with self._lock:
            scopes = list(self._scopes)
            paths = list(self._files) + list(self._dirs)
            self._files.clear()
            self._dirs.clear()
            self._outside.clear()
        for scope in scopes:
            scope.close()
        for path in paths:
            self._delete(path)

    # -- scopes, persist, budgets, stats -----------------------------------
    def scope(self, name: str = "scope", *, max_bytes: int | None = None, min_free_bytes: int = 0) -> TempScope:
        """A child area with its own directory, removed in one go when the scope closes."""
        with self._lock:
            self._check_open()
            scope = TempScope(self, name, max_bytes=max_bytes, min_free_bytes=min_free_bytes)
            self._scopes[scope] = None
        return scope

    def persist(self, temp_path: str | os.PathLike[str], destination: str | os.PathLike[str]) -> Path:
        """Move a finished temp file or dir to ``destination`` atomically and stop tracking it.

        Same filesystem: ``os.replace``. Across filesystems: copy to a hidden
        name beside the destination, fsync, then rename. Either way a reader
        (or a crash) sees the old destination or the complete new one, never
        half a file. The result gets the usual permissions (0666/0777 & ~umask).
        """
        source = Path(temp_path)
        dest = Path(destination)
        with self._lock:
            if source not in self._files and source not in self._dirs and not source.is_relative_to(self.path):
                raise TempFileError(
                    f"cannot persist {source}: it is not a temp path of {self._describe()}. "
                    "Persist only files made through this manager or scope."
                )
        if not source.exists():
            raise TempFileError(f"cannot persist {source}: it does not exist (was it already cleaned up?)")
        dest.parent.mkdir(parents=True, exist_ok=True)
        _apply_public_mode(source)
        try:
            os.replace(source, dest)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise TempFileError(f"cannot move {source} to {dest}: {exc}") from exc
            _copy_then_rename(source, dest)
            remove_tree(source)
        _fsync_dir(dest.parent)
        with self._lock:
            # The path may be tracked by a nested scope (a job's output persisted
            # through the manager): forget it wherever it is tracked, or that
            # scope would keep counting a file that is gone.
            stack: list[_TempArea] = [self]
            while stack:
                area = stack.pop()
                area._files.pop(source, None)
                area._dirs.pop(source, None)
                area._outside.pop(source, None)
                stack.extend(area._scopes)
        logger.debug("temp path persisted: %s -> %s (%s)", source, dest, self._describe())
        return dest

    def reserve(self, nbytes: int, what: str = "this work") -> Reservation:
        """Claim disk space before large work; raises a clear error when it is not there.

        ``QuotaExceededError``: this area's (or an ancestor's) ``max_bytes`` would be
        exceeded. ``InsufficientDiskSpaceError``: the filesystem lacks the space.
        Use it as a context manager or call ``release()``.
        """
        self._check_open()
        return self.budget.reserve(nbytes, what)

    def stats(self) -> TempStats:
        """Live files/dirs/bytes (bytes read from the filesystem) and life-time counters."""
        live_bytes = self._usage_bytes() if self._has_dir() else 0
        with self._lock:
            self._note_peak(live_bytes)
            files, dirs, scopes = self._subtree_counts()
            c = self._counters
            return TempStats(
                live_files=files,
                live_dirs=dirs,
                live_scopes=scopes,
                live_bytes=live_bytes,
                peak_bytes=c.peak_bytes,
                reserved_bytes=self.budget.reserved,
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


class TempScope(_TempArea):
    """Everything one job (or step) makes, in one directory removed at exit.

    Same API as the manager. Closing is one routine, safe to call twice, run by
    ``with``/``async with`` exit (also on exceptions and cancellation), by
    :meth:`close`, by the parent's cleanup, or by garbage collection (which
    warns with ``ResourceWarning``, like ``tempfile.TemporaryDirectory``).
    """

    def __init__(self, parent: _TempArea, name: str, *, max_bytes: int | None, min_free_bytes: int) -> None:
        self._root = parent._root
        self._lock = self._root._lock
        self.name = _safe_component(name, "prefix", _MAX_PREFIX_LEN) or "scope"
        self._path = Path(tempfile.mkdtemp(prefix=f"{self.name}-", dir=parent.path))
        self._init_area(parent, max_bytes, min_free_bytes)
        self._finalizer = weakref.finalize(self, _finalize_scope, self._path, os.getpid(), repr(self))
        self._finalizer.atexit = False  # the manager's own exit cleanup covers scopes
        logger.debug("temp scope opened: %s", self._path)

    @property
    def path(self) -> Path:
        return self._path

    @property
    def closed(self) -> bool:
        return self._closed

    def _describe(self) -> str:
        return f"temp scope {self.name!r}"

    def __repr__(self) -> str:
        return f"<TempScope {self.name!r} at {self._path}{' closed' if self._closed else ''}>"

    def close(self) -> None:
        """Remove the scope's directory and everything it tracks; twice is a no-op."""
        if self._not_owner():
            return  # a forked child unwinding `with scope:` must not rmtree the parent's job
        with self._lock:
            if self._closed:
                return
            scopes = list(self._scopes)
        for scope in scopes:
            scope.close()
        with self._lock:
            if self._closed:
                return
            self._closed = True
            outside = [p for p in list(self._files) + list(self._dirs) if p in self._outside]
            tracked = len(self._files) + len(self._dirs)
            self._files.clear()
            self._dirs.clear()
            self._outside.clear()
            if self._parent is not None:
                self._parent._scopes.pop(self, None)
        self._finalizer.detach()
        for path in outside:
            self._delete(path)
        try:
            _entries, nbytes = remove_tree(self._path)
        except OSError as exc:
            self._failed(self._path, exc)
            return
        with self._lock:
            self._note_peak(nbytes)
            self._count("cleaned", tracked - len(outside))
        logger.debug("temp scope closed: %s (%s freed)", self._path, human_bytes(nbytes))

    async def aclose(self) -> None:
        """:meth:`close` in a worker thread, so a large tree never blocks the event loop."""
        await asyncio.to_thread(self.close)

    def __enter__(self) -> TempScope:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: TracebackType | None) -> None:
        # close() logs instead of raising, so it can never hide the block's exception.
        self.close()

    async def __aenter__(self) -> TempScope:
        return self

    async def __aexit__(self, exc_type: Any, exc: Any, tb: TracebackType | None) -> None:
        # Shielded: a cancelled task must still finish removing its tree.
        await asyncio.shield(self.aclose())


def _finalize_scope(path: Path, owner_pid: int, description: str) -> None:
    if os.getpid() != owner_pid:
        return
    warnings.warn(f"Implicitly cleaning up {description}", ResourceWarning, stacklevel=2)
    try:
        remove_tree(path)
    except OSError as exc:
        logger.warning("could not remove temp scope %s: %s", path, exc)


class TempFileManager(_TempArea):
    """Owns a session directory under ``base_dir`` and everything created in it.

    ``TempFileManager(prefix="langflix_", base_dir=None)`` as in the ticket;
    ``base_dir`` defaults to ``LANGFLIX_TEMP_DIR`` or the system temp dir. The
    session directory (``<prefix>session-<pid>-<random>``, 0700, flock-held for
    the manager's life) is created on first use. States: open (until
    :meth:`close`) then closed; a closed manager refuses new files with a clear
    error, and closing twice does nothing.
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
        self.prefix = _safe_component(prefix, "prefix", _MAX_PREFIX_LEN)
        self.base_dir = Path(os.path.abspath(base_dir if base_dir is not None else default_base_dir()))
        self._root = self
        self._lock = threading.RLock()
        self._box = _SessionBox()
        self._owner_pid = os.getpid()
        self._init_area(None, max_bytes, min_free_bytes)
        _live_managers.add(self)
        # Backstop for a manager dropped without close(): like TemporaryDirectory,
        # clean up and warn with ResourceWarning -- but only in the creating process.
        self._finalizer = weakref.finalize(self, _finalize_manager, self._box, self._owner_pid)
        self._finalizer.atexit = False  # exit is handled by _close_all_at_exit
        if sweep_on_start:
            # sweep_orphans logs what it reclaimed at INFO.
            self._counters.orphans_reclaimed += sweep_orphans(self.base_dir, self.prefix).removed

    @property
    def session_dir(self) -> Path:
        """This manager's session directory (created and locked on first use)."""
        with self._lock:
            if self._box.session is None:
                self._check_open()
                self._box.session = SessionLock(self.base_dir, self.prefix)
                logger.debug("temp session opened: %s", self._box.session.path)
            return self._box.session.path

    @property
    def path(self) -> Path:
        return self.session_dir

    @property
    def closed(self) -> bool:
        return self._closed

    def _describe(self) -> str:
        return f"temp manager {self.prefix!r} under {self.base_dir}"

    def __repr__(self) -> str:
        where = self._box.session.path if self._box.session else self.base_dir
        return f"<TempFileManager {self.prefix!r} at {where}{' closed' if self._closed else ''}>"

    def close(self) -> None:
        """Clean up everything, remove the session dir and drop its lock; twice is a no-op."""
        if os.getpid() != self._owner_pid:
            return  # a forked child never deletes its parent's files
        with self._lock:
            if self._closed:
                return
        self.cleanup_all()
        with self._lock:
            self._closed = True
            session, self._box.session = self._box.session, None
        self._finalizer.detach()
        if session is not None:
            try:
                session.release(remove=True)
            except OSError as exc:
                self._failed(session.path, exc)
            logger.debug("temp session closed: %s", session.path)

    async def aclose(self) -> None:
        await asyncio.to_thread(self.close)

    def __enter__(self) -> TempFileManager:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: TracebackType | None) -> None:
        self.close()

    async def __aenter__(self) -> TempFileManager:
        return self

    async def __aexit__(self, exc_type: Any, exc: Any, tb: TracebackType | None) -> None:
        await asyncio.shield(self.aclose())

    def _has_dir(self) -> bool:
        return self._box.session is not None

    def _disown_after_fork(self) -> None:
        self._owner_pid = -1
        # The lock is inherited in whatever state a parent thread left it (held
        # forever, if one was inside it at fork): every area of the tree gets a
        # fresh one, and every area is closed so the child refuses to use it.
        lock = threading.RLock()
        stack: list[_TempArea] = [self]
        while stack:
            area = stack.pop()
            area._lock = lock
            area.budget._lock = lock
            area._closed = True
            stack.extend(area._scopes)
        self._finalizer.detach()
        if self._box.session is not None:
            self._box.session.disown()
            self._box.session = None


class _SessionBox:
    """Holds a manager's session so its finalizer can reach it without the manager."""

    __slots__ = ("session",)

    def __init__(self) -> None:
        self.session: SessionLock | None = None


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
    """The process-wide manager (created on first call, sweeping dead sessions once)."""
    global _default_manager
    with _default_lock:
        if _default_manager is None or _default_manager.closed:
            _default_manager = _make_default_manager()
        return _default_manager


def _make_default_manager() -> TempFileManager:
    # Read from the environment directly: the manager depends on nothing of ours
    # but the error tree; the defaults match langflix.config.Settings.
    max_bytes = os.environ.get("LANGFLIX_TEMP_MAX_BYTES")
    min_free = os.environ.get("LANGFLIX_MIN_FREE_BYTES")
    return TempFileManager(
        max_bytes=int(max_bytes) if max_bytes else None,
        min_free_bytes=int(min_free) if min_free else DEFAULT_MIN_FREE_BYTES,
        sweep_on_start=True,
    )


@atexit.register
def _close_all_at_exit() -> None:
    # Layer 3: interpreter exit. Managers disowned after a fork are skipped by close().
    for manager in list(_live_managers):
        try:
            manager.close()
        except Exception:  # exit must go on for the other managers
            logger.exception("temp cleanup at exit failed for %r", manager)


def _after_fork_in_child() -> None:
    # CPython's TemporaryDirectory finalizer would delete the parent's files when
    # a forked child exits; here the child disowns every inherited manager.
    global _default_manager, _default_lock
    _default_lock = threading.Lock()
    for manager in list(_live_managers):
        manager._disown_after_fork()
    _default_manager = None


os.register_at_fork(after_in_child=_after_fork_in_child)


def sweep_orphans(
    base_dir: str | os.PathLike[str] | None = None,
    prefix: str = DEFAULT_PREFIX,
    *,
    min_age: float = 0.0,
    dry_run: bool = False,
) -> SweepReport:
    """Reclaim the sessions of dead processes under ``base_dir`` (see ``temp_sessions``).

    A session whose lock is held is never touched, whatever its age; ``min_age``
    only matters where the lock cannot vouch (another host, no flock support).
    """
    base = Path(base_dir) if base_dir is not None else default_base_dir()
    report = sweep_sessions(base, _safe_component(prefix, "prefix", _MAX_PREFIX_LEN), min_age=min_age, dry_run=dry_run)
    if report.removed or report.garbage_finished:
        logger.info("temp sweep: %s", report.summary())
    return report


# -- signals -------------------------------------------------------------------

_installed_handlers: dict[int, Any] = {}


def install_signal_handlers(signals: Iterable[int] = (signal.SIGTERM, signal.SIGHUP)) -> None:
    """Make SIGTERM/SIGHUP clean up every manager of this process, then behave as before.

    Python's default SIGTERM skips ``atexit``; this closes the managers first,
    then chains the previous handler (a callable is called; the default exits
    with status 128+signum via ``SystemExit``, so ``finally`` blocks still run).
    A signal that was ignored stays ignored. Call from the main thread.
    """
    for signum in signals:
        previous = signal.getsignal(signum)
        if previous is signal.SIG_IGN or signum in _installed_handlers:
            continue
        _installed_handlers[signum] = previous
        signal.signal(signum, _handle_exit_signal)


def _handle_exit_signal(signum: int, frame: FrameType | None) -> None:
    logger.info("signal %s: cleaning up temp files", signal.Signals(signum).name)
    for manager in list(_live_managers):
        try:
            manager.close()
        except Exception:  # a signal handler must never fail half-way
            logger.exception("temp cleanup on signal failed for %r", manager)
    previous = _installed_handlers.get(signum)
    if callable(previous):
        previous(signum, frame)
        return
    raise SystemExit(128 + signum)


# -- streaming into a budget -------------------------------------------------


class _StreamWriter:
    """Writes chunks into a new file of ``area``, reserving space ahead of each write."""

    def __init__(
        self,
        area: _TempArea,
        suffix: str,
        prefix: str | None,
        max_bytes: int | None,
        what: str,
        claim: Reservation | None = None,
    ) -> None:
        self.area = area
        self.max_bytes = max_bytes
        self.what = what
        self.path = area.new_file(suffix, prefix)
        self.written = 0
        # A caller's claim (an upload's Content-Length, reserved before the first
        # byte) is filled first and grown only past its size; it stays the caller's.
        self._reservation: Reservation | None = claim
        self._owns_reservation = claim is None
        self._fh = open(self.path, "wb")  # noqa: SIM115 - closed in finish()/fail()

    def write(self, chunk: bytes) -> None:
        if not chunk:
            return
        self.written += len(chunk)
        if self.max_bytes is not None and self.written > self.max_bytes:
            raise QuotaExceededError(
                f"{self.what} is larger than the limit of {human_bytes(self.max_bytes)}; "
                "send a smaller file or raise the limit (LANGFLIX_MAX_UPLOAD_BYTES for uploads)."
            )
        # The reservation stays ahead of the bytes written: the file fills it, so
        # the written part is not counted twice (a reservation is a floor).
        held = self._reservation.nbytes if self._reservation else 0
        if self.written > held:
            self._claim(self.written - held)
        try:
            self._fh.write(chunk)
            self._fh.flush()
        except OSError as exc:
            raise _disk_error(exc, self.what, self.path) from exc

    def _claim(self, deficit: int) -> None:
        # Reserve a large slice ahead so most chunks need no check; when that
        # slice does not fit (a small budget or disk), claim just this chunk --
        # a 100 KiB upload into a 1 MiB scope must not need 8 MiB.
        for need in (max(STREAM_CHUNK_RESERVE, deficit), deficit):
            try:
                if self._reservation is None:
                    self._reservation = self.area.reserve(need, self.what)
                else:
                    self._reservation.grow(need, self.what)
                return
            except TempFileError:
                if need == deficit:
                    raise

    def finish(self) -> Path:
        try:
            self._fh.close()
        except OSError as exc:  # a delayed ENOSPC surfaces at flush
            raise _disk_error(exc, self.what, self.path) from exc
        self._done()
        return self.path

    def fail(self) -> None:
        try:
            self._fh.close()
        except OSError:
            pass
        self._done()
        self.area.release(self.path)

    def _done(self) -> None:
        with self.area._lock:
            if self._reservation is not None and self._owns_reservation:
                self._reservation.release()
        self.area._note_peak(self.written)


def _disk_error(exc: OSError, what: str, path: Path) -> TempFileError:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return InsufficientDiskSpaceError(
            f"the disk filled up while writing {what} to {path.parent}: {exc.strerror}. "
            "Free some space or point LANGFLIX_TEMP_DIR at a larger disk."
        )
    return TempFileError(f"could not write {what} to {path}: {exc}")


def write_stream(
    area: _TempArea,
    chunks: Iterable[bytes],
    *,
    suffix: str = "",
    prefix: str | None = None,
    max_bytes: int | None = None,
    what: str = "the upload",
    claim: Reservation | None = None,
) -> Path:
    """Stream ``chunks`` into a new tracked file of ``area``, within every budget.

    The moment a limit is crossed (``max_bytes``, the area's budget, the free
    disk, or ENOSPC from the OS) the file is removed and a
    :class:`TempFileError` subclass is raised: nothing half-written stays.
    ``claim``: a reservation made for this data beforehand (it is filled, grown
    only when the data outgrows it, and left to the caller to release).
    """
    writer = _StreamWriter(area, suffix, prefix, max_bytes, what, claim)
    try:
        for chunk in chunks:
            writer.write(chunk)
        return writer.finish()
    except BaseException:
        writer.fail()
        raise


async def awrite_stream(
    area: _TempArea,
    chunks: AsyncIterable[bytes],
    *,
    suffix: str = "",
    prefix: str | None = None,
    max_bytes: int | None = None,
    what: str = "the upload",
    claim: Reservation | None = None,
) -> Path:
    """:func:`write_stream` for an async source (an HTTP request body, say).

    Writes are plain ``write`` calls on chunks already in memory (page cache),
    which is what aiofiles would do in a thread anyway; cancellation (a client
    disconnecting) removes the file.
    """
    writer = _StreamWriter(area, suffix, prefix, max_bytes, what, claim)
    try:
        async for chunk in chunks:
            writer.write(chunk)
        return writer.finish()
    except BaseException:
        writer.fail()
        raise


# -- persist helpers -------------------------------------------------------


def _apply_public_mode(path: Path) -> None:
    """Temp files are 0600/0700; a published output gets the usual umask-based mode."""
    try:
        if path.is_dir():
            for sub in [path, *path.rglob("*")]:
                if not sub.is_symlink():
                    os.chmod(sub, (0o777 if sub.is_dir() else 0o666) & ~_UMASK)
        else:
            os.chmod(path, 0o666 & ~_UMASK)
    except OSError as exc:
        logger.warning("could not set permissions of %s: %s", path, exc)


def _copy_then_rename(source: Path, dest: Path) -> None:
    """Across filesystems: copy beside ``dest`` under a hidden name, fsync, rename."""
    hidden = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".partial", dir=dest.parent))
    staged = hidden / dest.name
    try:
        if source.is_dir():
            shutil.copytree(source, staged, symlinks=True)
            for sub in [staged, *staged.rglob("*")]:
                if sub.is_file() and not sub.is_symlink():
                    _fsync_file(sub)
        else:
            shutil.copy2(source, staged)
            _fsync_file(staged)
        os.replace(staged, dest)
    except OSError as exc:
        raise TempFileError(f"cannot copy {source} to {dest}: {exc}") from exc
    finally:
        remove_tree(hidden)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
