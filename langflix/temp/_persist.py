"""Publishing a finished temp file or dir: whole at its destination or not there at all.

Never through a link. The source is reached from its session's directory one
component at a time with ``O_NOFOLLOW``, its tree is walked with fds, and a
symbolic link or a special file (device, FIFO, socket) anywhere in it is
refused before anything moves: a link would make root chmod and publish what
it points to, and a device node would be copied from until the disk is full.

Same filesystem: one rename. Across filesystems: copy into a hidden staging dir
beside the destination, fsync, then rename. The staging dir is recorded in the
session first (``.staging-<token>``), so the sweep that reclaims a crashed
session also removes a staging dir it left beside a destination. Either way a
reader, or a crash, sees the old destination or the complete new one. The
result gets the usual permissions (0666/0777 masked by the umask).
"""

from __future__ import annotations

import errno
import logging
import os
import re
import secrets
import stat
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from pathlib import Path
from typing import Final, Protocol

from langflix.errors import DestinationExistsError, InsufficientDiskSpaceError, TempFileError
from langflix.temp._names import creation_error
from langflix.temp._trees import DIR_FLAGS, remove_tree, remove_tree_at

__all__ = ["STAGING_RECORD_PREFIX", "Flight", "SessionAnchor", "publish", "remove_recorded_staging"]

logger = logging.getLogger("langflix.temp")

STAGING_RECORD_PREFIX: Final = ".staging-"
_STAGING_NAME: Final = re.compile(r"\..+\.(?P<token>[0-9a-f]{16})\.partial", re.DOTALL)
_COPY_CHUNK: Final = 1024 * 1024
_READ_FLAGS: Final = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_PATH_FLAGS: Final = os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC


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


class Flight(Protocol):
    """A persist in flight, as its area sees it: it may be stopped by a close."""

    def check(self) -> None:
        """Raise ``TempFileError`` when the area was closed (or cleaned up) meanwhile."""

    def final(self) -> AbstractContextManager[None]:
        """Held around the rename that publishes: a close cannot start inside it."""


class SessionAnchor(Protocol):
    """The session a source lives in: its directory and that directory's identity."""

    @property
    def path(self) -> Path: ...

    @property
    def identity(self) -> tuple[int, int]: ...


def publish(
    source: Path, dest: Path, *, anchor: SessionAnchor | None, flight: Flight, replace: bool = True
) -> None:
    """Move ``source`` to ``dest`` atomically (creating ``dest``'s parents); ``TempFileError`` on failure.

    ``anchor``: the session ``source`` lies in (walked from without following
    links); None for a path registered outside the temp base dir. With
    ``replace=False`` an existing ``dest`` is never replaced
    (:class:`~langflix.errors.DestinationExistsError`).
    """
    parent_fd, name = _open_parent(source, anchor)
    try:
        st = _lstat(parent_fd, name, source)
        _check(parent_fd, name, st, source)
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise TempFileError(f"cannot create {dest.parent} to persist {source} there: {exc.strerror}") from exc
        if not replace and os.path.lexists(dest):
            raise DestinationExistsError(f"cannot persist {source} to {dest}: it exists and must not be replaced")
        flight.check()
        moved = False
        if os.stat(dest.parent).st_dev == st.st_dev:
            _make_public(parent_fd, name, st)
            try:
                with flight.final():
                    _move(parent_fd, name, dest, replace=replace, what=source)
                moved = True
            except OSError as exc:  # EXDEV: one filesystem, two mounts (a bind mount)
                if exc.errno != errno.EXDEV:
                    raise TempFileError(f"cannot move {source} to {dest}: {exc.strerror}") from exc
        if not moved:
            _copy_then_rename(parent_fd, name, st, source, dest, anchor, flight, replace)
            with suppress(OSError):
                remove_tree_at(parent_fd, name)
    finally:
        os.close(parent_fd)
    _fsync_dir(dest.parent)


# -- reaching the source without following a link ---------------------------------


def _open_parent(source: Path, anchor: SessionAnchor | None) -> tuple[int, str]:
    """An fd of ``source``'s directory, reached through no link when it lies in ``anchor``; and its name."""
    if anchor is None or not source.is_relative_to(anchor.path) or source == anchor.path:
        # Registered outside base_dir: the caller said so explicitly; only the
        # last component is never followed.
        try:
            return os.open(source.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC), source.name
        except FileNotFoundError as exc:
            raise _missing(source) from exc
        except OSError as exc:
            raise TempFileError(f"cannot persist {source}: {exc.strerror}") from exc
    parts = source.relative_to(anchor.path).parts
    try:
        fd = os.open(anchor.path, DIR_FLAGS)
    except OSError as exc:
        raise TempFileError(f"cannot persist {source}: its session {anchor.path} is gone ({exc.strerror})") from exc
    try:
        st = os.fstat(fd)
        if (st.st_dev, st.st_ino) != anchor.identity:
            raise TempFileError(
                f"cannot persist {source}: {anchor.path} is no longer this process's session directory "
                "(something replaced it); nothing was published"
            )
        for part in parts[:-1]:
            try:
                child = os.open(part, DIR_FLAGS, dir_fd=fd)
            except FileNotFoundError as exc:
                raise _missing(source) from exc
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise TempFileError(
                        f"cannot persist {source}: {part} on its way is not a directory but a link or a file; "
                        "persist never follows a link"
                    ) from exc
                raise TempFileError(f"cannot persist {source}: {exc.strerror}") from exc
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd, parts[-1]


def _lstat(parent_fd: int, name: str, where: Path) -> os.stat_result:
    try:
        return os.stat(name, dir_fd=parent_fd, follow_symlinks=False)
    except FileNotFoundError as exc:
        raise _missing(where) from exc


def _missing(source: Path) -> TempFileError:
    return TempFileError(f"cannot persist {source}: it does not exist (was it already cleaned up?)")


def _check(dir_fd: int, name: str, st: os.stat_result, where: Path) -> None:
    """Refuse ``where`` if it, or anything under it, is a link or a special file."""
    if stat.S_ISREG(st.st_mode):
        return
    if not stat.S_ISDIR(st.st_mode):
        raise _not_publishable(where, st)
    fd = _open_dir_at(dir_fd, name, st, where)
    try:
        with os.scandir(fd) as it:
            names = [entry.name for entry in it]
        for child in names:
            try:
                child_st = os.stat(child, dir_fd=fd, follow_symlinks=False)
            except FileNotFoundError:
                continue
            _check(fd, child, child_st, where / child)
    finally:
        os.close(fd)


def _not_publishable(where: Path, st: os.stat_result) -> TempFileError:
    kind = _kind(st.st_mode)
    if kind == "symbolic link":
        reason = "persist never follows a link (it would publish and chmod what the link points to)"
    else:
        reason = "persist publishes regular files and directories only (a device would be read until the disk is full)"
    return TempFileError(f"cannot persist {where}: it is a {kind}; {reason}. Nothing was published.")


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISLNK, "symbolic link"),
        (stat.S_ISCHR, "character device"),
        (stat.S_ISBLK, "block device"),
        (stat.S_ISFIFO, "named pipe (FIFO)"),
        (stat.S_ISSOCK, "socket"),
    ):
        if test(mode):
            return name
    return "special file"


def _open_dir_at(dir_fd: int, name: str, st: os.stat_result, where: Path) -> int:
    try:
        fd = os.open(name, DIR_FLAGS, dir_fd=dir_fd)
    except OSError as exc:
        raise TempFileError(f"cannot persist {where}: {exc.strerror}") from exc
    opened = os.fstat(fd)
    if (opened.st_dev, opened.st_ino) != (st.st_dev, st.st_ino):
        os.close(fd)
        raise TempFileError(f"cannot persist {where}: it was replaced while being published; nothing was published")
    return fd


# -- same filesystem: chmod, then one rename ----------------------------------------


def _make_public(dir_fd: int, name: str, st: os.stat_result) -> None:
    """Give the tree the usual permissions instead of the temp 0600/0700, through fds only."""
    try:
        if stat.S_ISDIR(st.st_mode):
            fd = os.open(name, DIR_FLAGS, dir_fd=dir_fd)
            try:
                with os.scandir(fd) as it:
                    entries = [(e.name, e.stat(follow_symlinks=False)) for e in it]
                for child, child_st in entries:
                    _make_public(fd, child, child_st)
                os.fchmod(fd, 0o777 & ~_UMASK)
            finally:
                os.close(fd)
        elif stat.S_ISREG(st.st_mode):
            # O_PATH opens without read permission and never follows the last
            # component; the /proc link then names exactly that inode.
            fd = os.open(name, _PATH_FLAGS, dir_fd=dir_fd)
            try:
                if stat.S_ISREG(os.fstat(fd).st_mode):
                    os.chmod(f"/proc/self/fd/{fd}", 0o666 & ~_UMASK)
            finally:
                os.close(fd)
    except OSError as exc:
        logger.warning("could not set the permissions of %s: %s", name, exc)


def _move(dir_fd: int, name: str, dest: Path, *, replace: bool, what: Path) -> None:
    try:
        if replace:
            os.replace(name, dest, src_dir_fd=dir_fd)
        elif stat.S_ISDIR(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode):
            # rename(2) fails on a non-empty directory or a file: only an empty
            # directory could be replaced, and that loses nothing.
            os.rename(name, dest, src_dir_fd=dir_fd)
        else:
            os.link(name, dest, src_dir_fd=dir_fd, follow_symlinks=False)  # fails when dest exists
            os.unlink(name, dir_fd=dir_fd)
    except OSError as exc:
        if not replace and exc.errno in (errno.EEXIST, errno.ENOTEMPTY, errno.ENOTDIR, errno.EISDIR):
            raise DestinationExistsError(
                f"cannot persist {what} to {dest}: it exists and must not be replaced"
            ) from exc
        raise  # the caller words it (EXDEV sends it to the copy instead)


# -- across filesystems: copy into a recorded staging dir, fsync, rename --------------


def _copy_then_rename(
    parent_fd: int,
    name: str,
    st: os.stat_result,
    source: Path,
    dest: Path,
    anchor: SessionAnchor | None,
    flight: Flight,
    replace: bool,
) -> None:
    token = secrets.token_hex(8)
    # 60 characters of the name: even in a 3-byte script the staging name stays under NAME_MAX.
    hidden = dest.parent / f".{dest.name[:60]}.{token}.partial"
    with _staging_recorded(anchor, token, hidden):
        try:
            os.mkdir(hidden, 0o700)
        except OSError as exc:
            raise _copy_error(source, dest, exc) from exc
        try:
            hidden_fd = os.open(hidden, DIR_FLAGS)
            try:
                _copy_at(parent_fd, name, st, hidden_fd, dest.name, source, flight)
                with flight.final():
                    _move(hidden_fd, dest.name, dest, replace=replace, what=source)
            finally:
                os.close(hidden_fd)
        except OSError as exc:
            raise _copy_error(source, dest, exc) from exc
        finally:
            try:
                remove_tree(hidden)
            except OSError as exc:
                logger.warning("could not remove the staging dir %s: %s", hidden, exc)


def _copy_at(
    src_dir: int, name: str, st: os.stat_result, dst_dir: int, dst_name: str, where: Path, flight: Flight
) -> None:
    """Copy ``name`` (a file or a tree) into ``dst_dir`` as ``dst_name``, never through a link."""
    flight.check()
    if stat.S_ISDIR(st.st_mode):
        src = _open_dir_at(src_dir, name, st, where)
        try:
            os.mkdir(dst_name, 0o777, dir_fd=dst_dir)  # the umask gives the published mode
            dst = os.open(dst_name, DIR_FLAGS, dir_fd=dst_dir)
            try:
                with os.scandir(src) as it:
                    names = [entry.name for entry in it]
                for child in names:
                    child_st = os.stat(child, dir_fd=src, follow_symlinks=False)
                    _copy_at(src, child, child_st, dst, child, where / child, flight)
                os.fsync(dst)
            finally:
                os.close(dst)
        finally:
            os.close(src)
        return
    if not stat.S_ISREG(st.st_mode):
        raise _not_publishable(where, st)
    # O_NONBLOCK: a FIFO swapped in after the check must not hang the open.
    src = os.open(name, _READ_FLAGS, dir_fd=src_dir)
    try:
        opened = os.fstat(src)
        if not stat.S_ISREG(opened.st_mode) or (opened.st_dev, opened.st_ino) != (st.st_dev, st.st_ino):
            raise _not_publishable(where, opened)
        dst = os.open(dst_name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666, dir_fd=dst_dir)
        try:
            _copy_bytes(src, dst, opened.st_size, flight)
            os.fsync(dst)
            os.utime(dst, ns=(opened.st_atime_ns, opened.st_mtime_ns))
        finally:
            os.close(dst)
    finally:
        os.close(src)


def _copy_bytes(src: int, dst: int, size: int, flight: Flight) -> None:
    offset = 0
    while True:
        try:
            sent = os.sendfile(dst, src, offset, _COPY_CHUNK)
        except OSError as exc:
            if exc.errno not in (errno.EINVAL, errno.ENOSYS) or offset:
                raise
            _copy_by_reads(src, dst, flight)
            return
        if sent == 0:
            return
        offset += sent
        if offset < size:
            flight.check()


def _copy_by_reads(src: int, dst: int, flight: Flight) -> None:
    while chunk := os.read(src, _COPY_CHUNK):
        view = memoryview(chunk)
        while view:
            view = view[os.write(dst, view) :]
        flight.check()


def _copy_error(source: Path, dest: Path, exc: OSError) -> TempFileError:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return InsufficientDiskSpaceError(
            f"cannot copy {source} to {dest}: the disk holding {dest.parent} is full ({exc.strerror}); "
            "free some space there and try again. Nothing was published."
        )
    return TempFileError(f"cannot copy {source} to {dest}: {exc.strerror or exc}. Nothing was published.")


@contextmanager
def _staging_recorded(anchor: SessionAnchor | None, token: str, hidden: Path) -> Iterator[None]:
    """Record ``hidden`` in the session before it exists, and drop the record once it is gone."""
    if anchor is None:
        yield
        return
    record = anchor.path / f"{STAGING_RECORD_PREFIX}{token}"
    try:
        fd = os.open(record, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, os.fsencode(hidden))
            os.fsync(fd)  # the staging dir's bytes get fsynced: so does the note that finds them
        finally:
            os.close(fd)
    except OSError as exc:
        raise creation_error(anchor.path, exc, f"the record of a staging dir for {hidden.parent}") from exc
    try:
        yield
    finally:
        with suppress(OSError):
            os.unlink(record)


def remove_recorded_staging(session_dir: Path) -> int:
    """Remove the staging dirs that a dead session's persists left beside their destinations; bytes freed.

    A record is honoured only for what a persist of that session could have
    made: a real directory (no link) named ``.<name>.<the record's token>.partial``
    and owned by the session's own user.
    """
    freed = 0
    try:
        owner = os.lstat(session_dir).st_uid
        with os.scandir(session_dir) as it:
            records = [entry.path for entry in it if entry.name.startswith(STAGING_RECORD_PREFIX)]
    except OSError:
        return 0
    for record in records:
        token = os.path.basename(record)[len(STAGING_RECORD_PREFIX) :]
        try:
            with open(record, "rb") as fh:
                hidden = Path(os.fsdecode(fh.read(4096)))
        except OSError:
            continue
        match = _STAGING_NAME.fullmatch(hidden.name)
        if not hidden.is_absolute() or match is None or match["token"] != token:
            continue
        try:
            st = os.lstat(hidden)
        except OSError:
            continue
        if stat.S_ISDIR(st.st_mode) and st.st_uid == owner:
            try:
                freed += remove_tree(hidden)[1]
                logger.info("removed %s, left by an interrupted persist", hidden)
            except OSError as exc:
                logger.warning("could not remove the staging dir %s: %s", hidden, exc)
    return freed


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
