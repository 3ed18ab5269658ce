"""Resumable uploads: temp areas owned by their expiry, written in place, handed to a job by a rename.

An upload must outlive the request (and the server) that received its first
bytes, so no process owns it: its deadline does (:data:`~langflix.temp._owners.EXPIRY_OWNER`).
On disk, beside the sessions under ``base_dir``::

    <prefix>upload-<32 hex>/      0700; LOCK_SH held by a request writing it, LOCK_EX by a take/delete/sweep
      info.json                   length, client metadata, created, expires (written once, fsynced)
      offset                      "<received> <boot id> <durable>": bytes received so far (20 ASCII
                                  digits), the machine's boot then, bytes synced to disk (20 digits)
      data                        the upload, preallocated to its full length at creation

* Creation claims the whole declared length at once: a reservation on the
  manager's budget checks it (507 before a byte is sent) and ``posix_fallocate``
  then takes the blocks, so the claim holds across restarts (it is on disk, not
  in a process) and every later claim sees it. The manager's budget counts the
  uploads' bytes as its own.
* The area is built under a hidden ``building`` name, held ``LOCK_EX``, and
  renamed into view complete: a crash mid-creation leaves a building dir the
  sweep reclaims.
* Writing is ``pwrite`` at the offset into the preallocated file; the offset is
  committed after the bytes (every :data:`COMMIT_EVERY` bytes and at the end),
  so after a crash of the process the recorded offset never claims a byte the
  file lacks. A power loss can lose bytes the page cache held: a background
  thread ``fdatasync``-s the data behind the writer and only then records the
  durable offset; an offset written in an earlier boot of the machine is read
  as its durable one, so a restart after a power loss resumes from bytes that
  are on disk (and a request never waits for the disk).
* A completed upload becomes a job's input by ``rename`` into the job's scope
  (same filesystem: no copy), and can be given back if the job is refused.
* Expired or deleted areas are renamed to a ``garbage-`` name and deleted, by
  :func:`~langflix.temp.sweep_orphans` like a dead session, or at once by :meth:`ResumableUploads.delete`.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Final, Protocol

from langflix.errors import (
    ChecksumMismatchError,
    InsufficientDiskSpaceError,
    TempFileError,
    UploadConflictError,
    UploadExpiredError,
    UploadLengthError,
    UploadNotFoundError,
)
from langflix.temp._areas import TempArea
from langflix.temp._budget import Budget, Reservation, human_bytes
from langflix.temp._fds import CLOSED, LockFd
from langflix.temp._names import creation_error
from langflix.temp._owners import (
    DATA_FILE,
    EXPIRY_OWNER,
    INFO_FILE,
    OFFSET_FILE,
    UPLOAD_INFIX,
    UploadRecord,
    reclaim_locked,
)
from langflix.temp._sessions import BUILDING_INFIX, check_base_dir
from langflix.temp._trees import remove_tree

if TYPE_CHECKING:
    from langflix.temp._manager import TempFileManager

__all__ = [
    "COMMIT_EVERY",
    "DEFAULT_UPLOAD_EXPIRY",
    "SYNC_DELAY",
    "SYNC_LAG",
    "Digest",
    "ResumableUploads",
    "UploadClaim",
    "UploadState",
    "UploadWriter",
    "wait_uploads_durable",
]

logger = logging.getLogger("langflix.temp")

DEFAULT_UPLOAD_EXPIRY: Final = 24 * 3600.0
COMMIT_EVERY: Final = 64 * 1024 * 1024
"""Bytes written between two commits of the offset: at most this much is sent again after a SIGKILL."""
DELETE_WAIT: Final = 5.0
"""Seconds a delete waits for a request still writing the upload (a client that aborts then deletes)."""
SYNC_DELAY: Final = 1.0
"""Seconds an upload's writes must pause before its bytes are synced and its durable offset recorded."""
SYNC_LAG: Final = 1024 * 1024 * 1024
"""Bytes the durable offset may trail by before a sync is forced while the writes go on."""
_ID: Final = re.compile(EXPIRY_OWNER.id_pattern)
_HAS_SPLICE: Final = hasattr(os, "splice") and hasattr(fcntl, "F_SETPIPE_SZ")
_SPLICE_BYTES: Final = 1024 * 1024
"""Bytes moved by one splice: the pipe's size (1 MiB is the unprivileged maximum on Linux)."""
_SPLICE_MOVE: Final = getattr(os, "SPLICE_F_MOVE", 0)
_SPLICE_FLAGS: Final = _SPLICE_MOVE | getattr(os, "SPLICE_F_NONBLOCK", 0)
_IOV_MAX: Final = os.sysconf("SC_IOV_MAX") if "SC_IOV_MAX" in os.sysconf_names else 1024


class Digest(Protocol):
    """A running checksum (any ``hashlib`` object): what a writer feeds when a request sends one."""

    def update(self, data: bytes, /) -> None: ...

    def digest(self) -> bytes: ...


@dataclass(frozen=True, slots=True)
class UploadState:
    """One upload as a client sees it: its id, length, offset, metadata and deadline."""

    id: str
    length: int
    offset: int
    metadata: str
    created: float
    expires: float
    durable: int = 0
    """Bytes known to be on disk (synced); the offset may be ahead of it until the sync catches up."""

    @property
    def complete(self) -> bool:
        return self.offset == self.length


def _boot_id() -> bytes:
    try:
        with open("/proc/sys/kernel/random/boot_id", "rb") as f:
            boot = f.read().strip()
    except OSError:
        return b""
    return boot if len(boot) == _BOOT_WIDTH else b""


_BOOT_WIDTH: Final = 36
_BOOT_ID: Final = _boot_id()
"""This boot of the machine (Linux); empty where unknown, and then the received offset is trusted."""
_DURABLE_AT: Final = 20 + 1 + _BOOT_WIDTH + 1


def _offsets(area: Path) -> tuple[int, int]:
    """(received, durable) of an upload (see :data:`OFFSET_FILE`'s layout in the module's doc)."""
    try:
        raw = (area / OFFSET_FILE).read_bytes()
        received = int(raw[:20] or b"0")
        durable = int(raw[_DURABLE_AT : _DURABLE_AT + 20] or b"0")
    except (OSError, ValueError):
        return 0, 0
    boot = raw[21 : 21 + _BOOT_WIDTH]
    if len(raw) <= 20 or not _BOOT_ID or boot == _BOOT_ID:
        return received, min(durable, received)
    # Written before the machine restarted: the page cache that held the
    # received bytes may be gone, and only what was synced is on disk.
    return min(durable, received), min(durable, received)


def _write_offset(fd: int, offset: int) -> None:
    # One pwrite of a fixed width: a SIGKILL sees the old or the new value, never half.
    os.pwrite(fd, b"%020d %-36s " % (offset, _BOOT_ID), 0)


@dataclass(slots=True)
class _Due:
    offset: int
    """The offset to vouch for: every byte below it was in the file when it was asked."""
    base: int
    """The offset when this round of asking began: how far behind the durable offset may be."""
    at: float
    """When to sync (monotonic clock)."""


class _Syncer:
    """One daemon thread making uploads' bytes durable behind their writers, then recording how far.

    A request never waits for the disk: :meth:`request` returns at once; the
    thread ``fdatasync``-s the data file (on its own descriptor, so the
    writer's lock is not shared) and only then writes the durable offset.
    It syncs an upload once its writes pause for :data:`SYNC_DELAY` s, or
    at once when it trails by :data:`SYNC_LAG` bytes: forcing the bytes out
    while they still arrive would take the disk and CPU from the receive
    path (the kernel writes them back soon anyway), so the durable offset
    trails during a long burst and catches up when it pauses.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._pending: dict[Path, _Due] = {}
        self._busy = 0
        self._pid = -1

    def request(self, area: Path, offset: int) -> None:
        with self._cond:
            if self._pid != os.getpid():  # first use, or a forked child: the parent's thread is not here
                self._pid, self._pending, self._busy = os.getpid(), {}, 0
                threading.Thread(target=self._run, name="langflix-upload-sync", daemon=True).start()
            now = time.monotonic()
            due = self._pending.setdefault(area, _Due(offset, offset, now))
            due.offset = max(due.offset, offset)
            due.at = now if due.offset - due.base >= SYNC_LAG else now + SYNC_DELAY
            self._cond.notify_all()

    def wait(self, timeout: float) -> bool:
        """Sync everything asked so far now, and wait until it is done; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            for due in self._pending.values():
                due.at = 0.0
            self._cond.notify_all()
            while self._pending or self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def _run(self) -> None:
        while True:
            with self._cond:
                while True:
                    soonest = min(self._pending.items(), key=lambda item: item[1].at, default=None)
                    if soonest is not None and soonest[1].at <= time.monotonic():
                        break
                    self._cond.wait(None if soonest is None else soonest[1].at - time.monotonic())
                area, due = soonest
                del self._pending[area]
                self._busy += 1
            try:
                _make_durable(area, due.offset)
            except OSError as exc:  # deleted, reclaimed or made into a job meanwhile: nothing left to vouch for
                logger.debug("upload %s: no durable offset recorded: %s", area.name, exc)
            finally:
                with self._cond:
                    self._busy -= 1
                    self._cond.notify_all()


def _make_durable(area: Path, offset: int) -> None:
    data = os.open(area / DATA_FILE, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    try:
        os.fdatasync(data)  # every byte below ``offset`` was written before this call
    finally:
        os.close(data)
    fd = os.open(area / OFFSET_FILE, os.O_WRONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    try:
        os.pwrite(fd, b"%020d" % offset, _DURABLE_AT)
    finally:
        os.close(fd)


_SYNCER: Final = _Syncer()


def wait_uploads_durable(timeout: float = 60.0) -> bool:
    """Wait until the bytes every upload writer committed so far are synced and their durable offsets recorded.

    Nothing needs this to be correct (a restart after a power loss resumes
    from the durable offset); it exists for a clean stop and for tests.
    """
    return _SYNCER.wait(timeout)


def _open_dir(path: Path) -> LockFd:
    # A LockFd: a fork while a request holds the upload never hands the child its lock.
    try:
        return LockFd(path)
    except FileNotFoundError:
        raise UploadNotFoundError(
            f"no upload {path.name.rpartition('-')[2]}: it was never made, deleted, or reclaimed"
        ) from None


class UploadWriter:
    """Appends one request's bytes to an upload at its offset; a context manager holding the writer's locks.

    ``write`` is a ``pwrite`` and an addition: no hashing unless ``checksum``
    (a hashlib object and the digest it must reach) is given. Leaving the block
    commits the offset reached, so a cut connection keeps what arrived; with a
    checksum nothing is kept unless :meth:`verify` passed.
    """

    def __init__(
        self, uploads: ResumableUploads, upload_id: str, offset: int, checksum: tuple[Digest, bytes] | None
    ) -> None:
        self._dir = uploads._open(upload_id)
        self._data: LockFd | None = None
        self._data_fd = self._offset_fd = -1
        self._pipe: tuple[int, int] | None = None
        try:
            area = uploads._area(upload_id)
            fcntl.flock(self._dir.fd, fcntl.LOCK_SH)  # a user: the sweep and a take leave it alone
            state = uploads._state(upload_id)  # under the lock: a take/delete cannot be halfway
            self._data = LockFd(area / DATA_FILE, flags=os.O_WRONLY | os.O_NOFOLLOW)
            self._data_fd = self._data.fd
            try:
                fcntl.flock(self._data_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # one writer at a time
            except BlockingIOError:
                raise UploadConflictError(
                    f"upload {upload_id} is being written by another request; wait for it to end, "
                    "then ask for the offset again (HEAD)"
                ) from None
            if offset != state.offset:
                raise UploadConflictError(
                    f"Upload-Offset {offset} is not where upload {upload_id} stands ({state.offset} bytes "
                    "received); ask for the offset (HEAD) and resume from there"
                )
            self._offset_fd = os.open(area / OFFSET_FILE, os.O_WRONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
        except BaseException:
            self._close_fds()
            raise
        self.id = upload_id
        self._area = area
        self.state = state
        self.start = self.offset = offset
        self.length = state.length
        self._committed = offset
        self._checksum = checksum
        self._verified = checksum is None

    def write(self, chunk: bytes) -> None:
        """Write ``chunk`` at the offset; past the declared length: the part that fits, then UploadLengthError."""
        n = len(chunk)
        room = self.length - self.offset
        if n > room:
            self.write(chunk[:room])
            raise UploadLengthError(
                f"the request sends more than upload {self.id}'s declared length of {self.length} bytes; "
                "send at most Upload-Length minus Upload-Offset bytes"
            )
        view = memoryview(chunk)
        done = 0
        while done < n:
            done += os.pwrite(self._data_fd, view[done:], self.offset + done)
        self.offset += n
        if self._checksum is not None:
            self._checksum[0].update(chunk)
        elif self.offset - self._committed >= COMMIT_EVERY:
            self.commit()

    def write_many(self, chunks: list[bytes]) -> None:
        """Write ``chunks`` in order at the offset with one ``pwritev`` (at most ``IOV_MAX`` chunks).

        Safe to run in a worker thread while the event loop receives the next
        chunks (the GIL is released during the write): the offset moves only
        after the bytes are in the file.
        """
        total = sum(map(len, chunks))
        if total > self.length - self.offset or len(chunks) > _IOV_MAX:
            for chunk in chunks:
                self.write(chunk)
            return
        done = os.pwritev(self._data_fd, chunks, self.offset)
        if done < total:  # a short write (rare on a regular file): finish the rest piece by piece
            rest = b"".join(chunks)[done:]
            while rest:
                n = os.pwrite(self._data_fd, rest, self.offset + done)
                done += n
                rest = rest[n:]
        if self._checksum is not None:
            for chunk in chunks:
                self._checksum[0].update(chunk)
        self.offset += total
        if self._checksum is None and self.offset - self._committed >= COMMIT_EVERY:
            self.commit()

    def write_from(self, fd: int, count: int) -> int:
        """Move up to ``count`` bytes that ``fd`` (a non-blocking socket or pipe) holds now into the file at the offset.

        Returns the bytes moved; 0 when ``fd`` is at its end (the peer went
        away); BlockingIOError when it holds none yet (wait for it to be
        readable). On Linux the bytes go socket -> pipe -> file by ``splice``,
        never through Python: one copy, into the page cache. Like
        :meth:`write_many`, safe in a worker thread; the offset moves only after
        the bytes are in the file.
        """
        if self._checksum is not None:
            raise RuntimeError("write_from cannot feed a checksum; use write/write_many for a checked request")
        if count > self.length - self.offset:
            raise UploadLengthError(
                f"{count} more bytes would pass upload {self.id}'s declared length of {self.length} bytes; "
                "send at most Upload-Length minus Upload-Offset bytes"
            )
        count = min(count, _SPLICE_BYTES)
        if count <= 0:
            raise ValueError(f"write_from needs a count of at least 1 byte, not {count}")
        if not _HAS_SPLICE:
            data = os.read(fd, count)
            if data:
                self.write(data)
            return len(data)
        if self._pipe is None:
            self._pipe = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
            with contextlib.suppress(OSError):  # a smaller pipe only means more splices
                fcntl.fcntl(self._pipe[1], fcntl.F_SETPIPE_SZ, _SPLICE_BYTES)
        reader, writer = self._pipe
        moved = os.splice(fd, writer, count, flags=_SPLICE_FLAGS)
        done = 0
        try:
            while done < moved:  # drained before returning: the pipe never holds bytes across calls
                at = self.offset + done
                done += os.splice(reader, self._data_fd, moved - done, offset_dst=at, flags=_SPLICE_MOVE)
        finally:
            self.offset += done  # what is in the file, even when the file refused the rest
            if done < moved:
                self._close_pipe()
        if self.offset - self._committed >= COMMIT_EVERY:
            self.commit()
        return moved

    def commit(self) -> None:
        """Record the offset reached (after its bytes are in the file: never an offset the data lacks)."""
        if self._verified and self.offset != self._committed:
            _write_offset(self._offset_fd, self.offset)
            self._committed = self.offset
            _SYNCER.request(self._area, self.offset)

    def verify(self) -> None:
        """Check the request's bytes against its checksum; :class:`ChecksumMismatchError` keeps none of them."""
        if self._checksum is None:
            return
        hasher, expected = self._checksum
        if hasher.digest() != expected:
            raise ChecksumMismatchError(
                f"the {self.offset - self.start} bytes sent for upload {self.id} do not match their Upload-Checksum; "
                f"none were kept, send them again from offset {self.start}"
            )
        self._verified = True

    def _close_pipe(self) -> None:
        if self._pipe is not None:
            for end in self._pipe:
                os.close(end)
            self._pipe = None

    def _close_fds(self) -> None:
        self._close_pipe()
        if self._offset_fd >= 0:
            os.close(self._offset_fd)
        if self._data is not None:
            self._data.close()
        self._dir.close()
        self._offset_fd = self._data_fd = -1

    def close(self) -> None:
        """Commit what was verified and drop the locks; twice does nothing."""
        if self._dir.fd == CLOSED:
            return
        try:
            self.commit()
        finally:
            self._close_fds()

    def __enter__(self) -> UploadWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class UploadClaim:
    """A completed upload held exclusively (no writer, sweep or delete meanwhile) while a job is made of it.

    :meth:`move_into` renames its bytes into an area (a job's scope): no copy.
    Leaving the block after :meth:`consume` removes what is left of the upload;
    leaving it otherwise gives the bytes back, so a refused job costs no upload.
    """

    def __init__(self, uploads: ResumableUploads, upload_id: str) -> None:
        self._uploads = uploads
        self._lock = uploads._open(upload_id)
        try:
            try:
                fcntl.flock(self._lock.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise UploadConflictError(
                    f"upload {upload_id} is still being written or removed; wait for its last request to end"
                ) from None
            self.state = uploads._state(upload_id)
        except BaseException:
            self._lock.close()
            raise
        self.id = upload_id
        self.path = uploads._area(upload_id) / DATA_FILE
        self._moved: Path | None = None
        self._consumed = False

    def move_into(self, area: TempArea, *, suffix: str = "", prefix: str | None = None) -> Path:
        """Rename the upload's bytes to a new tracked file of ``area`` (same filesystem) and return its path."""
        if not self.state.complete:
            raise UploadConflictError(
                f"upload {self.id} holds {self.state.offset} of its {self.state.length} bytes; "
                "finish it (resume from its offset) before making a job of it"
            )
        target = area.new_file(suffix, prefix)
        try:
            os.replace(self.path, target)  # over the empty placeholder: the name stays tracked
        except OSError as exc:
            area.release(target)
            if exc.errno == errno.EXDEV:
                raise TempFileError(
                    f"cannot move upload {self.id} into {area.path}: another filesystem. Uploads and job "
                    "scopes live under the same LANGFLIX_TEMP_DIR; keep it one filesystem."
                ) from exc
            raise TempFileError(f"cannot move upload {self.id} into {area.path}: {exc}") from exc
        self._moved = target
        self.path = target
        return target

    def consume(self) -> None:
        """The job took the bytes: the rest of the upload goes when the block ends."""
        self._consumed = True

    def close(self) -> None:
        if self._lock.fd == CLOSED:
            return
        try:
            if self._consumed:
                self._uploads._remove_locked(self.id, self._lock.fd)
            elif self._moved is not None:
                # Refused: the bytes go back where the client can still use them.
                os.replace(self._moved, self._uploads._area(self.id) / DATA_FILE)
        except OSError as exc:
            logger.warning("could not finish with upload %s: %s", self.id, exc)
        finally:
            self._lock.close()

    def __enter__(self) -> UploadClaim:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class ResumableUploads:
    """The resumable uploads under a manager's ``base_dir``: create, read, write, delete, hand to a job.

    State is on disk only, so a restarted server (any process with the same
    ``base_dir`` and prefix) resumes the uploads of the last one. ``expiry``:
    seconds from creation after which an upload is no one's and the sweep
    reclaims it. ``clock``: the wall clock (deadlines survive restarts).

    ``base_dir``: where the uploads live when not beside the manager's
    sessions. A scaled-out service keeps them in its shared dir, beside the
    leased staging areas: a job made of one takes its bytes by a rename there
    (whatever filesystem the server's own temp dir is on), and any API host
    can resume it. Their claims are then checked against that disk, with
    ``max_bytes`` (a budget of the uploads there) and ``min_free_bytes``.
    """

    def __init__(
        self,
        manager: TempFileManager,
        *,
        expiry: float = DEFAULT_UPLOAD_EXPIRY,
        clock: Callable[[], float] = time.time,
        base_dir: str | os.PathLike[str] | None = None,
        max_bytes: int | None = None,
        min_free_bytes: int = 0,
    ) -> None:
        if not expiry > 0:
            raise ValueError(f"an upload's expiry must be > 0 seconds, not {expiry}")
        self.manager = manager
        self.prefix = manager.prefix
        self.expiry = expiry
        self.clock = clock
        self.base_dir = manager.base_dir if base_dir is None else Path(os.path.abspath(base_dir))
        self._reserve: Callable[[int, str], Reservation]
        if self.base_dir == manager.base_dir:
            # The uploads' bytes count against the manager's budget like its own files.
            manager._count_beside(self.bytes_on_disk)
            self._reserve = manager.reserve
        else:
            self.lock = threading.RLock()  # what the budget is checked and changed under
            budget = Budget(
                lambda: self.base_dir, self.bytes_on_disk, max_bytes=max_bytes, min_free_bytes=min_free_bytes,
                parent=None, guard=self,
            )  # fmt: skip
            self._reserve = budget.reserve

    def _area(self, upload_id: str) -> Path:
        if not _ID.fullmatch(upload_id):
            raise UploadNotFoundError(f"no upload {upload_id!r}: upload ids are 32 hexadecimal digits")
        return self.base_dir / f"{self.prefix}{UPLOAD_INFIX}{upload_id}"

    def _open(self, upload_id: str) -> LockFd:
        return _open_dir(self._area(upload_id))

    def _state(self, upload_id: str) -> UploadState:
        area = self._area(upload_id)
        record = UploadRecord.read(area)
        if record is None or not os.path.lexists(area / DATA_FILE):
            raise UploadNotFoundError(f"no upload {upload_id}: it was deleted or made into a job")
        if record.expires <= self.clock():
            raise UploadExpiredError(
                f"upload {upload_id} expired at {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime(record.expires))}; "
                "start a new upload"
            )
        received, durable = _offsets(area)
        return UploadState(upload_id, record.length, received, record.metadata, record.created, record.expires, durable)

    def create(self, length: int, metadata: str = "") -> UploadState:
        """A new upload of ``length`` bytes, its whole length claimed now (507-class errors when it cannot fit)."""
        if length < 0:
            raise ValueError(f"an upload's length must be >= 0, not {length}")
        try:
            self.base_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise creation_error(self.base_dir, exc, "a resumable upload") from exc
        check_base_dir(self.base_dir)  # whoever may rename our uploads could swap one for a link
        now = self.clock()
        record = UploadRecord(length, metadata, now, now + self.expiry)
        # Its expiry's building name (not this process's): on a shared dir a
        # sweeper of another host judges it, by its lock and then by its age.
        building = self.base_dir / f".{self.prefix}{BUILDING_INFIX}{UPLOAD_INFIX}{secrets.token_hex(6)}"
        os.mkdir(building, 0o700)
        lock = LockFd(building)
        try:
            # Held while building: a sweep sees it busy, not abandoned.
            fcntl.flock(lock.fd, fcntl.LOCK_EX)
            # Held until the area is in view, where bytes_on_disk (the budget's
            # count) sees its blocks: no instant in which neither counts them.
            with self._reserve(length, "the upload"):
                self._allocate(building / DATA_FILE, length)
                _write_file(building / OFFSET_FILE, b"%020d" % 0)
                _write_file(building / INFO_FILE, record.to_json().encode())
                upload_id = secrets.token_hex(16)
                os.rename(building, self._area(upload_id))
        except BaseException:
            remove_tree(building)
            raise
        finally:
            lock.close()
        logger.debug("upload %s created: %s, expires in %.0f s", upload_id, human_bytes(length), self.expiry)
        return UploadState(upload_id, length, 0, metadata, record.created, record.expires)

    def _allocate(self, path: Path, length: int) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
        try:
            if length:
                os.posix_fallocate(fd, 0, length)
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise InsufficientDiskSpaceError(
                    f"the upload needs {human_bytes(length)} but the disk holding {self.base_dir} cannot give it: "
                    f"{exc.strerror}. Free some space or point LANGFLIX_TEMP_DIR at a larger disk."
                ) from exc
            raise TempFileError(f"cannot allocate {human_bytes(length)} for an upload in {path.parent}: {exc}") from exc
        finally:
            os.close(fd)

    def get(self, upload_id: str) -> UploadState:
        """The upload's state; :class:`UploadNotFoundError` when gone, :class:`UploadExpiredError` when expired."""
        lock = self._open(upload_id)
        try:
            return self._state(upload_id)
        finally:
            lock.close()

    def writer(self, upload_id: str, offset: int, checksum: tuple[Digest, bytes] | None = None) -> UploadWriter:
        """A writer appending at ``offset`` (:class:`UploadConflictError` when the upload stands elsewhere)."""
        return UploadWriter(self, upload_id, offset, checksum)

    def claim(self, upload_id: str) -> UploadClaim:
        """Hold the upload exclusively to make a job of it (see :class:`UploadClaim`)."""
        return UploadClaim(self, upload_id)

    def delete(self, upload_id: str) -> None:
        """Remove the upload now (rename, then delete); waits up to :data:`DELETE_WAIT` s for a request writing it."""
        lock = self._open(upload_id)
        try:
            deadline = time.monotonic() + DELETE_WAIT
            while True:
                try:
                    fcntl.flock(lock.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise UploadConflictError(
                            f"upload {upload_id} is still being written; stop its request, then delete it"
                        ) from None
                    time.sleep(0.05)
            self._remove_locked(upload_id, lock.fd)
        finally:
            lock.close()

    def _remove_locked(self, upload_id: str, fd: int) -> None:
        # The sweep's own step (rename, then delete): a crash halfway leaves a
        # garbage tree the next sweep finishes, never a half upload.
        if reclaim_locked(self._area(upload_id), fd, self.prefix) is not None:
            logger.debug("upload %s removed", upload_id)

    def all(self) -> list[UploadState]:
        """Every upload that can still be resumed or used (not expired)."""
        states = []
        for upload_id in self._ids():
            try:
                states.append(self.get(upload_id))
            except TempFileError:
                continue
        return states

    def _ids(self) -> list[str]:
        start = f"{self.prefix}{UPLOAD_INFIX}"
        try:
            names = os.listdir(self.base_dir)
        except FileNotFoundError:
            return []
        return [n[len(start) :] for n in names if n.startswith(start) and _ID.fullmatch(n[len(start) :])]

    def bytes_on_disk(self) -> int:
        """Bytes the uploads hold on disk (their declared lengths, preallocated), expired ones included."""
        total = 0
        for upload_id in self._ids():
            try:
                total += os.lstat(self._area(upload_id) / DATA_FILE).st_size
            except OSError:
                continue
        return total


def _write_file(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
