"""Deleting and measuring directory trees without ever following a symbolic link."""

from __future__ import annotations

import errno
import os
import stat
from typing import Final

__all__ = ["DIR_FLAGS", "remove_tree", "tree_bytes"]

# How every directory of ours is opened: never through a symlink, never inherited by exec.
DIR_FLAGS: Final = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def remove_tree(path: str | os.PathLike[str]) -> tuple[int, int]:
    """Delete ``path`` without following symlinks; return (entries, bytes) removed.

    Like ``shutil.rmtree``'s fd-based walk, but it also counts the bytes freed.
    Every directory is opened with ``O_NOFOLLOW`` relative to its parent's fd,
    so a symlink planted inside (or swapped in mid-walk) is unlinked, never
    followed. A missing tree is not an error.
    """
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return (0, 0)
    if not stat.S_ISDIR(st.st_mode):
        os.unlink(path)
        return (1, st.st_size)
    parent, name = os.path.split(os.path.abspath(path))
    parent_fd = os.open(parent, DIR_FLAGS)
    try:
        return _remove_dir_at(parent_fd, name)
    finally:
        os.close(parent_fd)


def _remove_dir_at(parent_fd: int, name: str) -> tuple[int, int]:
    try:
        fd = os.open(name, DIR_FLAGS, dir_fd=parent_fd)
    except FileNotFoundError:
        return (0, 0)
    except OSError as exc:
        if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
            raise
        # Swapped for a symlink or a file since we looked: remove the link itself.
        os.unlink(name, dir_fd=parent_fd)
        return (1, 0)
    entries = nbytes = 0
    try:
        with os.scandir(fd) as it:
            children = list(it)
        for entry in children:
            if entry.is_dir(follow_symlinks=False):
                sub_entries, sub_bytes = _remove_dir_at(fd, entry.name)
                entries += sub_entries
                nbytes += sub_bytes
                continue
            try:
                nbytes += entry.stat(follow_symlinks=False).st_size
                os.unlink(entry.name, dir_fd=fd)
                entries += 1
            except FileNotFoundError:
                pass
    finally:
        os.close(fd)
    try:
        os.rmdir(name, dir_fd=parent_fd)
        entries += 1
    except FileNotFoundError:
        pass
    return (entries, nbytes)


def tree_bytes(path: str | os.PathLike[str], exclude: frozenset[str] = frozenset()) -> int:
    """Bytes of regular files under ``path`` (not following symlinks); 0 when missing.

    ``exclude``: full paths (as ``str``) of files not to count.
    """
    total = 0
    stack = [os.fspath(path)]
    while stack:
        try:
            with os.scandir(stack.pop()) as it:
                for entry in it:
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
                    elif entry.path not in exclude:
                        try:
                            total += entry.stat(follow_symlinks=False).st_size
                        except FileNotFoundError:
                            pass
        except (FileNotFoundError, NotADirectoryError):
            continue
    return total
