"""Streaming bytes into a temp area within every budget, leaving nothing half-written.

The moment a limit is crossed (the stream's ``max_bytes``, the area's budget or
an ancestor's, the free-space floor, or ENOSPC from the OS) the file is removed
and a :class:`~langflix.errors.TempFileError` subclass is raised.
"""

from __future__ import annotations

import errno
from collections.abc import AsyncIterable, Iterable
from pathlib import Path
from typing import Final

from langflix.errors import InsufficientDiskSpaceError, QuotaExceededError, TempFileError
from langflix.temp._areas import TempArea
from langflix.temp._budget import Reservation, human_bytes

__all__ = ["STREAM_CHUNK_RESERVE", "awrite_stream", "write_stream"]

# How far ahead of the bytes written a stream reserves, so most chunks need no check.
STREAM_CHUNK_RESERVE: Final = 8 * 1024 * 1024


class _StreamWriter:
    """Writes chunks into a new file of ``area``, reserving space ahead of each write."""

    def __init__(
        self,
        area: TempArea,
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
    area: TempArea,
    chunks: Iterable[bytes],
    *,
    suffix: str = "",
    prefix: str | None = None,
    max_bytes: int | None = None,
    what: str = "the upload",
    claim: Reservation | None = None,
) -> Path:
    """Stream ``chunks`` into a new tracked file of ``area`` (a manager or a scope), within every budget.

    When a limit is crossed the file is removed and a ``TempFileError``
    subclass is raised: nothing half-written stays. ``claim``: a reservation
    made for this data beforehand (it is filled, grown only when the data
    outgrows it, and left to the caller to release).
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
    area: TempArea,
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
