"""Tests for ``langflix/temp/_streams.py``: a stream stops the moment it crosses a limit, and leaves nothing.

Including when the OS itself says ENOSPC: those cases run on a real tmpfs
mounted under ``tmp_path`` (root only; skipped with the reason otherwise).
"""

from __future__ import annotations

import asyncio
import errno
import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from support.temp import leftovers

from langflix.errors import InsufficientDiskSpaceError, QuotaExceededError
from langflix.temp import TempFileManager, awrite_stream, free_bytes, write_stream
from langflix.temp._streams import STREAM_CHUNK_RESERVE

KiB = 1024
MiB = 1024 * KiB


def _chunks(total: int, size: int = 64 * KiB, byte: bytes = b"d") -> Iterator[bytes]:
    while total > 0:
        n = min(size, total)
        yield byte * n
        total -= n


async def _achunks(total: int, size: int = 64 * KiB) -> AsyncIterator[bytes]:
    for chunk in _chunks(total, size):
        await asyncio.sleep(0)
        yield chunk


def test_write_stream_within_budget(make_mgr: Callable[..., TempFileManager]) -> None:
    mgr = make_mgr(max_bytes=1 * MiB)
    with mgr.scope("upload", max_bytes=256 * KiB) as scope:
        path = write_stream(scope, _chunks(200 * KiB, 10 * KiB), suffix=".mkv", max_bytes=300 * KiB)
        assert path.parent == scope.path and path.suffix == ".mkv"
        assert path.read_bytes() == b"d" * 200 * KiB
        assert path in scope.temp_files
        assert scope.stats().reserved_bytes == mgr.stats().reserved_bytes == 0
        assert scope.stats().live_bytes == 200 * KiB
    assert leftovers(mgr) == []


def test_write_stream_over_its_max_bytes_removes_the_file(make_mgr: Callable[..., TempFileManager]) -> None:
    mgr = make_mgr()
    with mgr.scope("upload") as scope:
        with pytest.raises(QuotaExceededError) as info:
            write_stream(scope, _chunks(300 * KiB), max_bytes=100 * KiB, what="episode.mkv")
        assert "episode.mkv" in str(info.value) and "LANGFLIX_MAX_UPLOAD_BYTES" in str(info.value)
        assert list(scope.path.iterdir()) == [] and len(scope.temp_files) == 0
        assert mgr.stats().reserved_bytes == 0
    assert leftovers(mgr) == []


def test_write_stream_over_the_scope_budget_removes_the_file(make_mgr: Callable[..., TempFileManager]) -> None:
    mgr = make_mgr()
    with mgr.scope("upload", max_bytes=256 * KiB) as scope:
        keep = write_stream(scope, _chunks(100 * KiB))
        with pytest.raises(QuotaExceededError):
            write_stream(scope, _chunks(200 * KiB))
        assert list(scope.path.iterdir()) == [keep]  # the earlier complete file is intact
        assert keep.stat().st_size == 100 * KiB
        assert mgr.stats().reserved_bytes == 0
    assert leftovers(mgr) == []


def test_write_stream_source_failure_removes_the_file(make_mgr: Callable[..., TempFileManager]) -> None:
    mgr = make_mgr()

    def broken() -> Iterator[bytes]:
        yield b"a" * 1000
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        write_stream(mgr, broken())
    assert leftovers(mgr) == [] and mgr.stats().reserved_bytes == 0


def test_awrite_stream_within_and_over_budget(make_mgr: Callable[..., TempFileManager]) -> None:
    mgr = make_mgr()

    async def scenario() -> None:
        async with mgr.scope("upload", max_bytes=256 * KiB) as scope:
            path = await awrite_stream(scope, _achunks(150 * KiB), suffix=".srt")
            assert path.read_bytes() == b"d" * 150 * KiB
            with pytest.raises(QuotaExceededError):
                await awrite_stream(scope, _achunks(150 * KiB))
            assert list(scope.path.iterdir()) == [path]
            with pytest.raises(QuotaExceededError):
                await awrite_stream(scope, _achunks(10 * KiB), max_bytes=5 * KiB)
            assert list(scope.path.iterdir()) == [path]

    asyncio.run(scenario())
    assert leftovers(mgr) == [] and mgr.stats().reserved_bytes == 0


def test_awrite_stream_cancelled_mid_stream_removes_the_file(make_mgr: Callable[..., TempFileManager]) -> None:
    mgr = make_mgr()
    started = asyncio.Event()

    async def slow() -> AsyncIterator[bytes]:
        yield b"a" * 1000
        started.set()
        await asyncio.sleep(30)
        yield b"never"

    async def scenario() -> None:
        task = asyncio.create_task(awrite_stream(mgr, slow()))
        await started.wait()
        assert len(leftovers(mgr)) == 1  # the partial file exists while streaming
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    assert leftovers(mgr) == [] and mgr.stats().reserved_bytes == 0


def _fill(path: Path) -> None:
    """Write to ``path`` until the OS says ENOSPC (unbuffered, so the error is raised here)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        while True:
            os.write(fd, b"f" * MiB)
    except OSError as exc:
        assert exc.errno == errno.ENOSPC, exc
    finally:
        os.close(fd)


def test_full_tmpfs_refuses_through_the_manager_and_leaves_no_half_file(
    make_mgr: Callable[..., TempFileManager], tmpfs: Callable[[int], Path]
) -> None:
    disk = tmpfs(8 * MiB)
    mgr = make_mgr(disk / "tmp")
    with pytest.raises(InsufficientDiskSpaceError):
        mgr.reserve(16 * MiB, "a 16 MiB job")
    # A stream that fits is accepted, even at more than half the disk.
    kept = write_stream(mgr, _chunks(5 * MiB, 256 * KiB))
    assert kept.stat().st_size == 5 * MiB
    # One that does not is refused by the budget before the OS runs out.
    with pytest.raises(InsufficientDiskSpaceError) as info:
        write_stream(mgr, _chunks(16 * MiB, 256 * KiB), what="episode.mkv")
    assert "episode.mkv" in str(info.value)
    assert leftovers(mgr) == [kept]
    assert mgr.stats().reserved_bytes == 0
    mgr.release(kept)
    assert free_bytes(disk) > 7 * MiB  # everything came back


def test_quota_fills_before_the_tmpfs(make_mgr: Callable[..., TempFileManager], tmpfs: Callable[[int], Path]) -> None:
    disk = tmpfs(8 * MiB)
    mgr = make_mgr(disk / "tmp", max_bytes=3 * MiB)
    with mgr.scope("job") as job:
        write_stream(job, _chunks(2 * MiB))
        with pytest.raises(QuotaExceededError):
            write_stream(job, _chunks(2 * MiB))
        assert len(list(job.path.iterdir())) == 1
    assert leftovers(mgr) == []


def test_enospc_from_the_os_mid_write_is_the_same_clean_failure(
    make_mgr: Callable[..., TempFileManager], tmpfs: Callable[[int], Path]
) -> None:
    """Space granted to the stream is taken by someone else (another program): the OS says ENOSPC."""
    disk = tmpfs(24 * MiB)
    mgr = make_mgr(disk / "tmp")
    filler = disk / "someone-elses-file"

    def chunks() -> Iterator[bytes]:
        yield b"a" * MiB  # the stream now holds a reservation ahead of this
        _fill(filler)  # another program fills the disk
        assert free_bytes(disk) < MiB
        yield b"b" * MiB  # within the reservation: only the OS can refuse it
        yield b"c" * MiB

    with pytest.raises(InsufficientDiskSpaceError) as info:
        write_stream(mgr, chunks(), what="episode.mkv")
    assert isinstance(info.value.__cause__, OSError) and info.value.__cause__.errno == errno.ENOSPC
    assert "episode.mkv" in str(info.value)
    assert leftovers(mgr) == []
    assert mgr.stats().reserved_bytes == 0
    filler.unlink()


def test_enospc_in_awrite_stream(make_mgr: Callable[..., TempFileManager], tmpfs: Callable[[int], Path]) -> None:
    disk = tmpfs(24 * MiB)
    mgr = make_mgr(disk / "tmp")
    filler = disk / "filler"

    async def chunks() -> AsyncIterator[bytes]:
        yield b"a" * MiB
        _fill(filler)
        yield b"b" * MiB

    with pytest.raises(InsufficientDiskSpaceError) as info:
        asyncio.run(awrite_stream(mgr, chunks()))
    assert isinstance(info.value.__cause__, OSError) and info.value.__cause__.errno == errno.ENOSPC
    assert leftovers(mgr) == [] and mgr.stats().reserved_bytes == 0


def test_stream_reserve_ahead_is_what_makes_the_enospc_test_meaningful() -> None:
    # The ENOSPC tests rely on a stream reserving ahead of what it wrote by more
    # than one 1 MiB chunk on a 24 MiB disk; guard that assumption.
    assert 2 * MiB <= STREAM_CHUNK_RESERVE <= 16 * MiB


def test_write_stream_fills_the_callers_claim_and_leaves_it_to_the_caller(
    make_mgr: Callable[..., TempFileManager],
) -> None:
    mgr = make_mgr(max_bytes=10 * MiB)
    with mgr.scope("upload") as upload, mgr.scope("other") as other:
        claim = upload.reserve(6 * MiB, "the upload")  # e.g. its Content-Length
        with pytest.raises(QuotaExceededError):
            other.reserve(5 * MiB)
        path = write_stream(upload, _chunks(4 * MiB), claim=claim)
        assert path.stat().st_size == 4 * MiB
        # Filled, not grown, and still held: 4 MiB on disk + 2 MiB to come.
        assert not claim.released and claim.nbytes == 6 * MiB
        other.reserve(4 * MiB).release()
        with pytest.raises(QuotaExceededError):
            other.reserve(5 * MiB)
        claim.release()
        other.reserve(6 * MiB).release()


def test_write_stream_grows_a_claim_the_data_outgrows(make_mgr: Callable[..., TempFileManager]) -> None:
    mgr = make_mgr(max_bytes=4 * MiB)
    with mgr.scope("upload") as upload:
        claim = upload.reserve(1 * MiB, "the upload")  # the client lied about its size
        with pytest.raises(QuotaExceededError):
            write_stream(upload, _chunks(5 * MiB), claim=claim)
        assert [p for p in upload.path.iterdir()] == []
        assert not claim.released
        claim.release()
        assert mgr.stats().reserved_bytes == 0


def test_out_of_inodes_is_the_same_clear_failure(
    make_mgr: Callable[..., TempFileManager], tmpfs: Callable[..., Path]
) -> None:
    disk = tmpfs(8 * MiB, inodes=16)
    mgr = make_mgr(disk / "base", min_free_bytes=0)
    made = []
    with pytest.raises(InsufficientDiskSpaceError, match="no free inodes") as info:
        for _ in range(32):
            made.append(mgr.new_file(suffix=".bin"))
    assert str(mgr.session_dir) in str(info.value)
    with pytest.raises(InsufficientDiskSpaceError, match="no free inodes"):
        write_stream(mgr, _chunks(10 * KiB), suffix=".upload")
    with pytest.raises(InsufficientDiskSpaceError, match="no free inodes"):
        mgr.new_dir()
    with pytest.raises(InsufficientDiskSpaceError, match="no free inodes"):
        mgr.scope("job")
    assert sorted(leftovers(mgr)) == sorted(made), "only the files made before the inodes ran out"
