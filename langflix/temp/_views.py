"""What areas hand out: stats snapshots, the list-like views of what they track, path contexts."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePath
from types import TracebackType
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from langflix.temp._areas import TempArea

__all__ = ["TempPathContext", "TempStats", "TrackedPaths", "path_in", "path_key"]


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


def path_key(path: str | os.PathLike[str]) -> str:
    """The tracking key of ``path``: the ``str`` of its ``Path`` (a ``Path``'s own ``str`` is cached)."""
    return str(path) if isinstance(path, PurePath) else str(Path(path))


def path_in(directory: Path, key: str) -> Path:
    """The ``Path`` of ``key``, a direct child of ``directory``.

    ``joinpath`` on the directory's already parsed ``Path`` parses only the last
    component: half the cost of ``Path(key)``, which re-parses the whole path.
    """
    return directory.joinpath(key.rpartition("/")[2])


class TrackedPaths:
    """A list-like, O(1) view of an area's tracked files (``temp_files``) or dirs (``temp_dirs``).

    It behaves like the plain list code written against ``self.temp_files``
    expects: ``len``, ``in`` (a ``Path`` or a ``str``), iteration in creation
    order, indexing, ``append`` (which registers), ``remove`` (stops tracking,
    raising ``ValueError`` when absent, like a list) and ``clear``.
    """

    def __init__(self, area: TempArea, kind: Literal["file", "dir"]) -> None:
        self._area = area
        self._kind = kind

    def __len__(self) -> int:
        return len(self._area._tracked(self._kind))

    def __contains__(self, path: object) -> bool:
        if not isinstance(path, (str, os.PathLike)):
            return False
        try:
            return path_key(path) in self._area._tracked(self._kind)
        except TypeError:  # a PathLike of bytes is no path of ours
            return False

    def __iter__(self) -> Iterator[Path]:
        return iter([Path(key) for key in self._area._tracked_keys(self._kind)])

    def __getitem__(self, index: int) -> Path:
        return Path(self._area._tracked_keys(self._kind)[index])

    def __bool__(self) -> bool:
        return bool(self._area._tracked(self._kind))

    def __repr__(self) -> str:
        return f"TrackedPaths({list(self)!r})"

    def append(self, path: str | os.PathLike[str]) -> None:
        """Track ``path`` (``register_file``/``register_dir`` under a list's name)."""
        if self._kind == "file":
            self._area.register_file(path)
        else:
            self._area.register_dir(path)

    def remove(self, path: str | os.PathLike[str]) -> None:
        """Stop tracking ``path`` without deleting it; ``ValueError`` when it is not tracked."""
        if not self._area._untrack(self._kind, path_key(path)):
            raise ValueError(f"{path} is not tracked by this temp manager")

    def discard(self, path: str | os.PathLike[str]) -> None:
        """Stop tracking ``path`` if it is tracked (nothing is deleted)."""
        self._area._untrack(self._kind, path_key(path))

    def clear(self) -> None:
        """Stop tracking everything (nothing is deleted)."""
        self._area._untrack_all(self._kind)


class TempPathContext:
    """What ``create_temp_file``/``create_temp_dir`` return: ``with`` (or ``async with``) yields the path.

    At block exit the path is removed (unless made with ``delete=False``); in
    ``async with`` a large directory is removed in a worker thread so the event
    loop never blocks on it, and cancelling the task again meanwhile does not
    stop the removal. A small class rather than ``@contextmanager``: it
    costs less per call.
    """

    __slots__ = ("_area", "_delete", "_directory", "_key", "_path")

    def __init__(self, area: TempArea, key: str, delete: bool) -> None:
        self._area = area
        self._directory = area._directory_path()
        self._key = key
        self._delete = delete
        self._path: Path | None = None

    @property
    def path(self) -> Path:
        """The new file or directory."""
        if self._path is None:
            self._path = path_in(self._directory, self._key)
        return self._path

    def __enter__(self) -> Path:
        return self.path

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._delete:
            self._area._release_key(self._key)

    async def __aenter__(self) -> Path:
        return self.path

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if not self._delete:
            return
        # A plain executor future, shielded: a second cancellation while the
        # removal waits for a busy executor must not cancel the removal itself
        # (an awaited to_thread() would be). The executor runs it, even after
        # the loop is gone: asyncio.run and the interpreter wait for its jobs.
        removal = asyncio.get_running_loop().run_in_executor(None, self._area._release_key, self._key)
        await asyncio.shield(removal)
