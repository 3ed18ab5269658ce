"""Tests for ``langflix/temp/_budget.py``: reservations and quotas, on real disks and real tmpfs mounts.

Budgets must refuse work before it starts (``reserve``), count a reservation as
a floor its files fill (never twice), and give the space back when released.
The full-disk cases run on a real tmpfs mounted under ``tmp_path`` (root only;
skipped with the reason otherwise).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from support.temp import leftovers

from langflix.errors import InsufficientDiskSpaceError, QuotaExceededError, TempFileError
from langflix.temp import Reservation, TempFileManager, free_bytes, human_bytes

KiB = 1024
MiB = 1024 * KiB


def test_human_bytes_reads_like_a_person_would_say_it() -> None:
    assert [human_bytes(n) for n in (0, 1023, 1536, 5 * MiB, 3 * 1024**3, 2 * 1024**4, 5000 * 1024**4)] == [
        "0 B",
        "1023 B",
        "1.5 KiB",
        "5.0 MiB",
        "3.0 GiB",
        "2.0 TiB",
        "5000.0 TiB",
    ]


def test_a_reservation_is_made_by_reserve_only(make_mgr: Callable[..., TempFileManager]) -> None:
    with pytest.raises(TypeError, match="reserve()"):
        Reservation()
    held = make_mgr().reserve(1)
    assert repr(held) == "<Reservation 1 B held>"
    held.release()
    assert repr(held) == "<Reservation 1 B released>"
    with pytest.raises(TempFileError, match="already released"):
        held.grow(1)


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


def test_reservation_released_after_its_scope_closed(make_mgr: Callable[..., TempFileManager]) -> None:
    """A job cancelled mid-upload closes its scope first; releasing must still work."""
    mgr = make_mgr(max_bytes=1 * MiB)
    scope = mgr.scope("job")
    held = scope.reserve(800 * KiB)
    scope.close()
    held.release()
    assert mgr.stats().reserved_bytes == 0
    mgr.reserve(900 * KiB).release()  # the manager's budget got the space back


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


def test_closing_releases_the_claims_an_area_still_held(
    make_mgr: Callable[..., TempFileManager], tmpfs: Callable[[int], Path]
) -> None:
    disk = tmpfs(16 * MiB)
    first = make_mgr(disk / "a", min_free_bytes=0)
    second = make_mgr(disk / "b", min_free_bytes=0)
    forgotten = first.reserve(10 * MiB, "a job that never released its claim")
    scope = first.scope("job")
    scope.reserve(3 * MiB)
    with pytest.raises(InsufficientDiskSpaceError):
        second.reserve(10 * MiB)
    scope.close()
    assert first.stats().reserved_bytes == 10 * MiB, "the closed scope's claim went with it"
    first.close()
    assert forgotten.released
    second.reserve(10 * MiB).release()  # the closed manager no longer holds the disk
    forgotten.release()  # releasing again is still harmless
    with pytest.raises(TempFileError, match="already released"):
        forgotten.grow(1)


def test_a_claim_growing_while_its_scope_closes_fails_in_the_family(make_mgr: Callable[..., TempFileManager]) -> None:
    # A stream keeps growing its claim while another thread closes the scope
    # (a cancelled job): never a FileNotFoundError from the removed directory.
    mgr = make_mgr()
    unexpected: list[BaseException] = []
    refused = 0
    for _ in range(50):
        scope = mgr.scope("job")
        claim = scope.reserve(1024)
        started = threading.Event()

        def grow(claim: Reservation, started: threading.Event) -> None:
            started.set()
            try:
                while True:
                    claim.grow(1)
            except TempFileError:
                pass  # released with its closed scope: the clear error
            except BaseException as exc:
                unexpected.append(exc)

        worker = threading.Thread(target=grow, args=(claim, started))
        worker.start()
        started.wait()
        scope.close()
        worker.join(10)
        refused += not worker.is_alive()
    assert unexpected == [] and refused == 50
    assert mgr.stats().reserved_bytes == 0
