"""Deleting and measuring directory trees without ever following a symbolic link."""

from __future__ import annotations

import errno
import logging
import os
import stat
import warnings
from typing import Final

__all__ = ["DIR_FLAGS", "finalize_tree", "remove_tree", "remove_tree_at", "tree_bytes"]

logger = logging.getLogger("langflix.temp")

# How every directory of ours is opened: never through a symlink, never inherited by exec.
DIR_FLAGS: Final = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_PATH_DIR_FLAGS: Final = os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_OWNER_RWX: Final = stat.S_IRWXU


def remove_tree(path: str | os.PathLike[str]) -> tuple[int, int]:
    """Delete ``path`` without following symlinks; return (entries, bytes) removed.

    Like ``shutil.rmtree``'s fd-based walk, but it also counts the bytes freed.
    Every directory is opened with ``O_NOFOLLOW`` relative to its parent's fd,
    so a symlink planted inside (or swapped in mid-walk) is unlinked, never
    followed. A directory of ours that its owner made unreadable or unwritable
    (0000, 0500) gets its owner's rwx back first (as pytest's ``on_rm_rf_error``
    does); one of another user is never changed. A missing tree is not an error.
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


def finalize_tree(path: str, owner_pid: int, description: str) -> None:
    """A weakref finalizer's body: the owner process forgot to close ``description``; remove its tree now, loudly.

    A forked child inherits the finalizer but never the tree, hence the pid.
    """
    if os.getpid() != owner_pid:
        return
    warnings.warn(f"Implicitly cleaning up {description}", ResourceWarning, stacklevel=2)
    try:
        remove_tree(path)
    except OSError as exc:
        logger.warning("could not remove %s at %s: %s", description, path, exc)


def remove_tree_at(dir_fd: int, name: str) -> tuple[int, int]:
    """:func:`remove_tree` of the entry ``name`` of the open directory ``dir_fd``."""
    try:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return (0, 0)
    if not stat.S_ISDIR(st.st_mode):
        os.unlink(name, dir_fd=dir_fd)
        return (1, st.st_size)
    return _remove_dir_at(dir_fd, name)


def _grant_owner(fd: int, path: str | None = None) -> bool:
    """Give the owner rwx on the directory open at ``fd`` if we own it and lack it; whether it changed.

    ``path``: a name for ``fd`` to chmod through when ``fd`` is an ``O_PATH`` fd
    (which ``fchmod`` refuses); ``/proc/self/fd/N`` names exactly that inode.
    """
    st = os.fstat(fd)
    if st.st_uid != os.geteuid() or st.st_mode & _OWNER_RWX == _OWNER_RWX:
        return False
    mode = stat.S_IMODE(st.st_mode) | _OWNER_RWX
    if path is None:
        os.fchmod(fd, mode)
    else:
        os.chmod(path, mode)
    return True


def _open_dir_for_removal(parent_fd: int, name: str) -> int:
    try:
        return os.open(name, DIR_FLAGS, dir_fd=parent_fd)
    except PermissionError:
        # A 0000 (or write-only) directory cannot be opened for reading even by
        # its owner; O_PATH needs no permission on it and never follows a link.
        probe = os.open(name, _PATH_DIR_FLAGS, dir_fd=parent_fd)
        try:
            if not _grant_owner(probe, f"/proc/self/fd/{probe}"):
                raise
            identity = os.fstat(probe)
        finally:
            os.close(probe)
        fd = os.open(name, DIR_FLAGS, dir_fd=parent_fd)
        opened = os.fstat(fd)
        if (opened.st_dev, opened.st_ino) != (identity.st_dev, identity.st_ino):
            os.close(fd)
            raise
        return fd


def _remove_dir_at(parent_fd: int, name: str) -> tuple[int, int]:
    try:
        fd = _open_dir_for_removal(parent_fd, name)
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
        # r-x or rw- is not enough to empty a directory: its owner gets rwx back.
        _grant_owner(fd)
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
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            continue  # gone, or a directory its owner locked: measured once cleanup reopens it
    return total
