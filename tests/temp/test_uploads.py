"""Resumable uploads as temp areas owned by their expiry: claimed whole, written in place, swept when expired."""

from __future__ import annotations

import fcntl
import hashlib
import os
import select
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from langflix.errors import (
    ChecksumMismatchError,
    QuotaExceededError,
    TempFileError,
    UploadConflictError,
    UploadExpiredError,
    UploadLengthError,
    UploadNotFoundError,
)
from langflix.temp import (
    AreaOwner,
    OwnerState,
    ResumableUploads,
    TempFileManager,
    list_sessions,
    sweep_orphans,
    wait_uploads_durable,
)


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def areas(base: Path) -> list[str]:
    return sorted(
        p.name for p in base.iterdir() if "upload-" in p.name or "garbage-" in p.name or "building-" in p.name
    )


def test_the_whole_length_is_claimed_at_creation_and_counts_against_the_budget(
    make_mgr: Callable[..., TempFileManager],
) -> None:
    mgr = make_mgr(max_bytes=1024 * 1024)
    uploads = ResumableUploads(mgr)
    with pytest.raises(QuotaExceededError):
        uploads.create(2 * 1024 * 1024)
    assert areas(mgr.base_dir) == []  # a refused claim leaves nothing, not even a building dir
    first = uploads.create(600 * 1024)
    assert mgr.stats().live_bytes >= 600 * 1024  # preallocated, before a byte is written
    with pytest.raises(QuotaExceededError):
        uploads.create(600 * 1024)  # the first upload's claim holds
    with pytest.raises(QuotaExceededError):
        mgr.reserve(600 * 1024)  # and the manager's own work sees it too
    uploads.delete(first.id)
    assert areas(mgr.base_dir) == []


def test_writes_land_at_the_offset_and_survive_a_new_manager(
    tmp_path: Path, make_mgr: Callable[..., TempFileManager]
) -> None:
    data = os.urandom(10_000)
    uploads = ResumableUploads(make_mgr())
    state = uploads.create(len(data), "filename YS5taw==")
    with uploads.writer(state.id, 0) as writer:
        writer.write(data[:3000])
        writer.write_many([data[3000:4000], data[4000:6000]])
    with pytest.raises(UploadConflictError):
        uploads.writer(state.id, 0)  # it stands at 6000
    again = ResumableUploads(make_mgr())  # another process's view: the state is on disk
    assert (again.get(state.id).offset, again.get(state.id).metadata) == (6000, "filename YS5taw==")
    with again.writer(state.id, 6000) as writer, pytest.raises(UploadLengthError):
        writer.write(data[6000:] + b"more")
    assert again.get(state.id).complete  # the part that fitted was kept
    with again.claim(state.id) as claim:
        assert hashlib.sha256(claim.path.read_bytes()).digest() == hashlib.sha256(data).digest()
    again.delete(state.id)


def test_write_from_moves_what_a_socket_holds_into_the_file_at_the_offset(
    make_mgr: Callable[..., TempFileManager],
) -> None:
    data = os.urandom(3 * 1024 * 1024 + 5)
    uploads = ResumableUploads(make_mgr())
    state = uploads.create(len(data) + 10)
    receiving, sending = socket.socketpair()
    with receiving, sending, uploads.writer(state.id, 0) as writer:
        receiving.setblocking(False)
        with pytest.raises(BlockingIOError):
            writer.write_from(receiving.fileno(), 100)  # nothing sent yet: wait for it
        writer.write(data[:5])
        feeder = threading.Thread(target=sending.sendall, args=(data[5:],))
        feeder.start()
        while writer.offset < len(data):
            try:
                moved = writer.write_from(receiving.fileno(), len(data) - writer.offset)
            except BlockingIOError:
                select.select([receiving], [], [], 5)
                continue
            assert moved > 0
        feeder.join()
        with pytest.raises(UploadLengthError):
            writer.write_from(receiving.fileno(), 11)  # never past the declared length
        sending.close()
        assert writer.write_from(receiving.fileno(), 10) == 0  # the peer went away
    assert uploads.get(state.id).offset == len(data)  # committed when the writer closed
    with uploads.writer(state.id, len(data)) as writer:
        writer.write(b"0123456789")
    with uploads.claim(state.id) as claim:
        assert hashlib.sha256(claim.path.read_bytes()).digest() == hashlib.sha256(data + b"0123456789").digest()


def test_after_a_power_loss_an_upload_resumes_from_bytes_synced_to_disk(
    make_mgr: Callable[..., TempFileManager],
) -> None:
    data = os.urandom(10_000)
    uploads = ResumableUploads(make_mgr())
    state = uploads.create(len(data))
    with uploads.writer(state.id, 0) as writer:
        writer.write(data[:6000])
    assert wait_uploads_durable(60)  # the sync runs behind the writer; the request never waited for it
    assert (uploads.get(state.id).offset, uploads.get(state.id).durable) == (6000, 6000)
    (area,) = [p for p in uploads.base_dir.iterdir() if p.name.endswith(state.id)]
    this_boot = Path("/proc/sys/kernel/random/boot_id").read_bytes().strip()
    # 9000 received, 6000 synced. In this boot, the page cache still holds the 3000 (a killed process loses none):
    (area / "offset").write_bytes(b"%020d %s %020d" % (9000, this_boot, 6000))
    assert uploads.get(state.id).offset == 9000
    # Written in an earlier boot: the machine went down, and only the synced bytes are vouched for.
    earlier_boot = b"00000000-0000-4000-8000-000000000000"
    assert earlier_boot != this_boot
    (area / "offset").write_bytes(b"%020d %s %020d" % (9000, earlier_boot, 6000))
    assert (uploads.get(state.id).offset, uploads.get(state.id).durable) == (6000, 6000)
    with uploads.writer(state.id, 6000) as writer:  # and the client resumes from there
        writer.write(data[6000:])
    with uploads.claim(state.id) as claim:
        assert hashlib.sha256(claim.path.read_bytes()).digest() == hashlib.sha256(data).digest()


def test_a_checksum_mismatch_keeps_nothing_of_the_request(make_mgr: Callable[..., TempFileManager]) -> None:
    uploads = ResumableUploads(make_mgr())
    state = uploads.create(100)
    with pytest.raises(ChecksumMismatchError), uploads.writer(state.id, 0, (hashlib.sha1(), b"wrong")) as writer:
        writer.write(b"x" * 50)
        writer.verify()
    assert uploads.get(state.id).offset == 0
    uploads.delete(state.id)


def test_one_writer_at_a_time_and_no_claim_while_writing(make_mgr: Callable[..., TempFileManager]) -> None:
    uploads = ResumableUploads(make_mgr())
    state = uploads.create(10)
    with uploads.writer(state.id, 0):
        with pytest.raises(UploadConflictError):
            uploads.writer(state.id, 0)
        with pytest.raises(UploadConflictError):
            uploads.claim(state.id)
    uploads.delete(state.id)
    with pytest.raises(UploadNotFoundError):
        uploads.get(state.id)


def test_the_sweep_reclaims_expired_uploads_never_live_or_busy_ones(make_mgr: Callable[..., TempFileManager]) -> None:
    clock = Clock()
    mgr = make_mgr()
    uploads = ResumableUploads(mgr, expiry=60, clock=clock)
    old = uploads.create(4096)
    writing = uploads.create(4096)
    writer = uploads.writer(writing.id, 0)
    clock.now += 30
    fresh = uploads.create(4096)
    clock.now += 40  # old and writing are past their deadline, fresh is not
    with pytest.raises(UploadExpiredError):
        uploads.get(old.id)

    # The sweep reads deadlines against the wall clock: move the upload's deadline into the past instead.
    states = {info.path.name: info.state for info in list_sessions(mgr.base_dir) if "upload-" in info.path.name}
    assert set(states.values()) <= {"live"}  # by the wall clock all three are young
    for state in (old, writing):
        record = mgr.base_dir / f"langflix_upload-{state.id}" / "info.json"
        record.write_text(record.read_text().replace(f'"expires": {state.expires}', '"expires": 1.0'))
    report = sweep_orphans(mgr.base_dir)
    assert report.expired_removed == 1 and report.bytes_freed >= 4096  # old only: writing is in use
    assert "expired upload" in report.summary()
    assert sorted(areas(mgr.base_dir)) == sorted(f"langflix_upload-{s.id}" for s in (writing, fresh))
    writer.close()
    assert sweep_orphans(mgr.base_dir).expired_removed == 1  # now nobody holds it
    assert areas(mgr.base_dir) == [f"langflix_upload-{fresh.id}"]
    uploads.delete(fresh.id)


def test_a_claim_moves_the_bytes_by_rename_and_gives_them_back_when_not_consumed(
    make_mgr: Callable[..., TempFileManager],
) -> None:
    mgr = make_mgr()
    uploads = ResumableUploads(mgr)
    state = uploads.create(5)
    with uploads.writer(state.id, 0) as writer:
        writer.write(b"hello")
    with mgr.scope("job") as scope:
        with uploads.claim(state.id) as claim:
            inode = os.stat(claim.path).st_ino
            moved = claim.move_into(scope, suffix=".mp4", prefix="video-")
            assert (moved.parent, os.stat(moved).st_ino) == (scope.path, inode)
        assert uploads.get(state.id).complete  # not consumed: given back
        with uploads.claim(state.id) as claim:
            moved = claim.move_into(scope, suffix=".mp4")
            claim.consume()
        assert moved.read_bytes() == b"hello"
    assert areas(mgr.base_dir) == []  # the upload's area went with the consume, the file with the scope


def test_an_unfinished_upload_is_not_a_job_input(make_mgr: Callable[..., TempFileManager]) -> None:
    mgr = make_mgr()
    uploads = ResumableUploads(mgr)
    state = uploads.create(5)
    with mgr.scope("job") as scope, uploads.claim(state.id) as claim, pytest.raises(UploadConflictError):
        claim.move_into(scope)
    uploads.delete(state.id)


class _Flagged(AreaOwner):
    """A stand-in for another kind of owner (a lease, say): gone once its area holds a ``released`` file."""

    infix = "staging-"
    id_pattern = "[0-9a-f]{8}"

    def state(self, fd: int, path: Path, now: float) -> OwnerState:
        return "expired" if (path / "released").exists() else "live"


def test_another_kind_of_owner_is_judged_beside_the_others(tmp_path: Path) -> None:
    base = tmp_path / "tmp"
    kept, gone = base / "langflix_staging-0000aaaa", base / "langflix_staging-0000bbbb"
    for area in (kept, gone):
        area.mkdir(parents=True)
        (area / "input.mkv").write_bytes(b"x" * 1000)
    (gone / "released").touch()
    assert sweep_orphans(base).expired_removed == 0  # unknown to the default owners: never touched
    report = sweep_orphans(base, owners=(_Flagged(),))
    assert (report.expired_removed, report.skipped_live, report.bytes_freed) == (1, 1, 1000)
    assert sorted(p.name for p in base.iterdir()) == [kept.name]
    assert [(i.area, i.state) for i in list_sessions(base, owners=(_Flagged(),))] == [("staging", "live")]


def test_a_child_forked_while_a_request_writes_never_keeps_the_upload_busy(
    make_mgr: Callable[..., TempFileManager],
) -> None:
    uploads = ResumableUploads(make_mgr())
    upload = uploads.create(10)
    read_end, write_end = os.pipe()
    ready_read, ready_write = os.pipe()
    with uploads.writer(upload.id, 0) as writer:
        writer.write(b"hello")
        child = os.fork()
        if child == 0:  # holds on to whatever it still has (fork hooks done) until the parent says so
            os.close(write_end)
            os.write(ready_write, b"r")
            os.read(read_end, 1)
            os._exit(0)
    os.close(read_end)
    os.close(ready_write)
    assert os.read(ready_read, 1) == b"r"
    os.close(ready_read)
    try:
        # The child still runs; the parent's request is over: the upload is free.
        with uploads.writer(upload.id, 5) as writer:
            writer.write(b"world")
        with uploads.claim(upload.id) as claim:
            assert claim.state.complete
    finally:
        os.close(write_end)
        os.waitpid(child, 0)


def test_uploads_refuse_a_base_dir_others_may_rewrite(tmp_path: Path) -> None:
    base = tmp_path / "open-to-all"
    base.mkdir()
    manager = TempFileManager(base_dir=base)
    try:
        session = manager.session_dir  # made while the dir was private
        base.chmod(0o777)  # then opened to everyone: the next upload must not go there
        with pytest.raises(TempFileError, match=r"writable by every user \(mode 0777\)"):
            ResumableUploads(manager).create(10)
        assert list(base.iterdir()) == [session]
    finally:
        manager.close()


def test_a_half_built_upload_is_its_makers_while_locked_then_reclaimed_once_past_its_grace(tmp_path: Path) -> None:
    base = tmp_path / "tmp"
    base.mkdir(mode=0o700)
    held, young, old = (base / f".langflix_building-upload-{n * 12}" for n in ("a", "b", "c"))
    for path in (held, young, old):
        path.mkdir()
        (path / "data").write_bytes(b"d" * 100)
    long_ago = time.time() - 3600  # well past the grace of a building dir
    for path in (held, old):
        os.utime(path, (long_ago, long_ago))
    maker = os.open(held, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(maker, fcntl.LOCK_EX)  # its maker is still building it, however old the dir
        report = sweep_orphans(base)
        assert sorted(p.name for p in base.iterdir()) == sorted([held.name, young.name])
        assert report.expired_by_area == {"upload": 1} and report.bytes_freed == 100
    finally:
        os.close(maker)
    assert sweep_orphans(base).expired_removed == 1  # its maker died: past its grace, reclaimed
    assert [p.name for p in base.iterdir()] == [young.name]


def test_uploads_kept_in_another_dir_claim_that_disk_and_their_own_budget(
    tmp_path: Path, make_mgr: Callable[..., TempFileManager]
) -> None:
    mgr = make_mgr()
    mgr.path  # its session exists: the manager's own base dir is there to look into  # noqa: B018
    shared = tmp_path / "shared" / "staging"
    uploads = ResumableUploads(mgr, base_dir=shared, max_bytes=1024 * 1024)
    first = uploads.create(600 * 1024)
    assert areas(shared) == [f"langflix_upload-{first.id}"] and areas(mgr.base_dir) == []
    assert mgr.stats().live_bytes == 0  # not the manager's disk: not its bytes
    with pytest.raises(QuotaExceededError, match=str(shared)):
        uploads.create(600 * 1024)  # the uploads' own budget holds the first claim
    mgr.reserve(600 * 1024).release()  # and the manager's work is not charged for them
    record = shared / f"langflix_upload-{first.id}" / "info.json"
    record.write_text(record.read_text().replace(f'"expires": {first.expires}', '"expires": 1.0'))
    assert sweep_orphans(mgr.base_dir).expired_removed == 0  # the manager's dir holds none of them
    assert sweep_orphans(shared).expired_by_area == {"upload": 1}
    assert areas(shared) == []
