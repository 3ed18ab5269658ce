"""Publishing a finished temp file or dir: whole at its destination or not there at all.

Same filesystem: ``os.replace``. Across filesystems: copy beside the destination
under a hidden name, fsync, then rename. Either way a reader (or a crash) sees
the old destination or the complete new one, never half a file. The result gets
the usual permissions (0666/0777 masked by the umask) instead of the temp 0600/0700.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Final

from langflix.errors import TempFileError
from langflix.temp._trees import remove_tree

__all__ = ["publish"]

logger = logging.getLogger("langflix.temp")


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


def publish(source: Path, dest: Path) -> None:
    """Move ``source`` to ``dest`` atomically (creating ``dest``'s parents); ``TempFileError`` on failure."""
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


def _apply_public_mode(path: Path) -> None:
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
