"""Tests for disk budgets: reservations, quotas, streaming, and a real full filesystem.

Budgets must refuse work before it starts (``reserve``), stop a stream the moment
it crosses a limit, and leave nothing half-written behind -- including when the
OS itself says ENOSPC. The full-disk cases run on a real tmpfs mounted under
``tmp_path`` (root only; skipped with the reason otherwise).
"""

from __future__ import annotations

import asyncio
import errno
import os
import subprocess
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from support.temp import leftovers

from langflix.errors import InsufficientDiskSpaceError, QuotaExceededError, TempFileError
from langflix.utils import temp_file_manager as tfm
from langflix.utils.disk_budget import free_bytes, human_bytes
from langflix.utils.temp_file_manager import TempFileManager, awrite_stream, write_stream

KiB = 1024
MiB = 1024 * KiB


@pytest.fixture
def make_mgr(tmp_path: Path) -> Iterator[Callable[..., TempFileManager]]:
    managers: list[TempFileManager] = []

    def make(base: Path | None = None, **kwargs: int) -> TempFileManager:
        manager = TempFileManager(base_dir=base or tmp_path / "tmp", **kwargs)
        managers.append(manager)
        return manager

    yield make
    for manager in managers:
        manager.close()


def _chunks(total: int, size: int = 64 * KiB, byte: bytes = b"d") -> Iterator[bytes]:
    while total > 0:
        n = min(size, total)
        yield byte * n
        total -= n


async def _achunks(total: int, size: int = 64 * KiB) -> AsyncIterator[bytes]:
    for chunk in _chunks(total, size):
        await asyncio.sleep(0)
        yield chunk


# -- reservations and quotas ------------------------------------------------------


def test_reserve_within_and_over_the_managers_budget(make_mgr: Callable[..., TempFileManager]) -> None:
    mgr = make_mgr(max_bytes=1 * MiB)
    first = mgr.reserve(600 * KiB, "the first job")
    assert mgr.stats().reserved_bytes == 600 * KiB
    with pytest.raises(QuotaExceededError) as info:
        mgr.reserve(600 * KiB, "the second job")
    message = str(info.value)
    assert isinstance(info.value, TempFileError)
    assert "the second job" in message
    assert human_bytes(600 * KiB) in message  # asked
    assert human_bytes(424 * KiB) in message  # available
    assert "max_bytes" in message and "LANGFLIX_TEMP_MAX_BYTES" in message  # the setting
    first.release()
    first.release()  # twice is a no-op
    assert mgr.stats().reserved_bytes == 0
    with mgr.reserve(600 * KiB) as again:
        assert again.nbytes == 600 * KiB
    assert again.released and mgr.stats().reserved_bytes == 0
    assert leftovers(mgr) == []


def test_bytes_on_disk_count_against_the_budget(make_mgr: Callable[..., TempFileManager]) -> None:
    mgr = make_mgr(max_bytes=1 * MiB)
    mgr.new_file(suffix=".bin").write_bytes(b"x" * 700 * KiB)
    with pytest.raises(QuotaExceededError):
        mgr.reserve(400 * KiB)
    mgr.reserve(300 * KiB).release()


def test_nested_scopes_check_every_ancestors_budget(make_mgr: Callable[..., TempFileManager]) -> None:
    mgr = make_mgr(max_bytes=1 * MiB)
    with mgr.scope("job", max_bytes=512 * KiB) as job, job.scope("step") as step, mgr.scope("other") as other:
        with pytest.raises(QuotaExceededError) as info:
            step.reserve(600 * KiB)
        assert str(job.path) in str(info.value)  # the scope whose budget said no
        held = step.reserve(400 * KiB)
        assert job.stats().reserved_bytes == mgr.stats().reserved_bytes == 400 * KiB
        with pytest.raises(QuotaExceededError):
            step.reserve(200 * KiB)  # job: 400 + 200 > 512
        with pytest.raises(QuotaExceededError) as info:
            other.reserve(700 * KiB)  # manager: 400 + 700 > 1024
        assert str(mgr.path) in str(info.value)
        other.reserve(600 * KiB).release()
        held.release()
        assert mgr.stats().reserved_bytes == 0
    assert leftovers(mgr) == []


def test_negative_reservation_is_refused(make_mgr: Callable[..., TempFileManager]) -> None:
    with pytest.raises(ValueError):
        make_mgr().reserve(-1)


def test_min_free_bytes_above_the_free_space_refuses_work(
    make_mgr: Callable[..., TempFileManager], tmp_path: Path
) -> None:
    free = free_bytes(tmp_path)
    mgr = make_mgr(min_free_bytes=free + 1024 * MiB)
    with pytest.raises(InsufficientDiskSpaceError) as info:
        mgr.reserve(1, "the upload")
    message = str(info.value)
    assert isinstance(info.value, TempFileError)
    assert "the upload" in message and "1 B" in message and "0 B available" in message
    assert "LANGFLIX_MIN_FREE_BYTES" in message and "LANGFLIX_TEMP_DIR" in message
    # The floor can also come from a scope of a manager that has none.
    plain = make_mgr(tmp_path / "other")
    with plain.scope("job", min_free_bytes=free + 1024 * MiB) as job:
        with pytest.raises(InsufficientDiskSpaceError):
            job.reserve(1)
        plain.reserve(1).release()


def test_reserving_on_a_closed_manager_is_a_clear_error(make_mgr: Callable[..., TempFileManager]) -> None:
    mgr = make_mgr()
    mgr.close()
    with pytest.raises(TempFileError, match="closed"):
        mgr.reserve(1)


# -- streaming --------------------------------------------------------------------


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


def test_reservation_released_after_its_scope_closed(make_mgr: Callable[..., TempFileManager]) -> None:
    """A job cancelled mid-upload closes its scope first; releasing must still work."""
    mgr = make_mgr(max_bytes=1 * MiB)
    scope = mgr.scope("job")
    held = scope.reserve(800 * KiB)
    scope.close()
    held.release()
    assert mgr.stats().reserved_bytes == 0
    mgr.reserve(900 * KiB).release()  # the manager's budget got the space back


# -- a real small filesystem -------------------------------------------------------------


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


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Callable[[int], Path]]:
    """Mount small tmpfs filesystems under tmp_path (root only), unmounted afterwards."""
    mounts: list[Path] = []

    def mount(size: int) -> Path:
        if os.geteuid() != 0:
            pytest.skip("mounting a tmpfs needs root; the full-disk tests run in CI as root")
        where = tmp_path / f"tmpfs-{len(mounts)}"
        where.mkdir()
        result = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(where)],
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here ({result.stderr.strip() or result.returncode})")
        mounts.append(where)
        return where

    yield mount
    for where in reversed(mounts):
        subprocess.run(["umount", "-l", str(where)], check=False)


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


def test_outstanding_reservations_count_against_free_space(
    make_mgr: Callable[..., TempFileManager], tmpfs: Callable[[int], Path]
) -> None:
    disk = tmpfs(8 * MiB)
    first, second = make_mgr(disk / "a"), make_mgr(disk / "b")
    held = first.reserve(5 * MiB, "job one")
    with pytest.raises(InsufficientDiskSpaceError) as info:
        second.reserve(4 * MiB, "job two")  # another manager, same filesystem
    assert "reserved by running work" in str(info.value)
    assert human_bytes(5 * MiB) in str(info.value)
    held.release()
    second.reserve(4 * MiB).release()


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
    assert 2 * MiB <= tfm.STREAM_CHUNK_RESERVE <= 16 * MiB


# -- a reservation is a floor: the files it was made for fill it --------------


def _fill_file(path: Path, nbytes: int) -> None:
    with open(path, "wb") as fh:
        fh.write(b"x" * nbytes)


def test_a_held_reservation_is_filled_by_its_files_not_counted_twice(
    make_mgr: Callable[..., TempFileManager],
) -> None:
    mgr = make_mgr(max_bytes=16 * MiB)
    with mgr.scope("job-a") as a, mgr.scope("job-b") as b:
        with a.reserve(10 * MiB, "job a"):
            _fill_file(a.new_file(".mp4"), 8 * MiB)  # 8 of its 10 MiB are now on disk
            # In use: 8 MiB on disk + 2 MiB still claimed = 10 MiB; 6 MiB left.
            b.reserve(5 * MiB, "job b").release()
            with pytest.raises(QuotaExceededError) as info:
                b.reserve(7 * MiB, "job b")
            assert human_bytes(6 * MiB) in str(info.value)
            # Files beyond the claim count as they are: 12 MiB on disk, 4 MiB left.
            _fill_file(a.new_file(".mp4"), 4 * MiB)
            b.reserve(4 * MiB, "job b").release()
            with pytest.raises(QuotaExceededError):
                b.reserve(5 * MiB, "job b")


def test_filled_reservations_give_the_disk_back_to_other_managers(
    make_mgr: Callable[..., TempFileManager], tmpfs: Callable[[int], Path]
) -> None:
    disk = tmpfs(8 * MiB)
    first, second = make_mgr(disk / "a"), make_mgr(disk / "b")
    with first.scope("job") as job, job.reserve(4 * MiB, "job one"):
        with pytest.raises(InsufficientDiskSpaceError):
            second.reserve(5 * MiB, "job two")  # 8 MiB disk, 4 MiB claimed
        _fill_file(job.new_file(".mp4"), 3 * MiB)
        # The 3 MiB written left the free space and the claim alike: still 4 MiB held in all.
        with pytest.raises(InsufficientDiskSpaceError) as info:
            second.reserve(5 * MiB, "job two")
        assert human_bytes(1 * MiB) + " reserved by running work" in str(info.value)
        second.reserve(3 * MiB, "job two").release()


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
