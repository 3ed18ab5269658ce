"""Areas owned by a lease, and their sweep: never a held lease's bytes, always an abandoned one's."""

from __future__ import annotations

import ast
import gc
import json
import os
import time
import warnings
from pathlib import Path

import pytest

import langflix.temp
from langflix.errors import TempFileError
from langflix.temp import OWNER_FILE, LeasedArea, sweep_leased, write_stream


class Leases:
    """A lease checker as the layer above gives one: which leases are abandoned, and whether it can tell."""

    def __init__(self, abandoned: set[str] | None = None, *, down: bool = False) -> None:
        self.gone = abandoned or set()
        self.down = down
        self.asked: list[str] = []

    def abandoned(self, lease: str) -> bool:
        self.asked.append(lease)
        if self.down:
            raise ConnectionError("the lease server is unreachable")
        return lease in self.gone


def staged(base: Path, lease: str, payload: bytes = b"x" * 1000) -> Path:
    area = LeasedArea(base, lease)
    write_stream(area, [payload], suffix=".mp4")
    area.handover()
    return area.path


def test_an_area_is_visible_complete_and_names_its_lease(tmp_path: Path) -> None:
    area = LeasedArea(tmp_path, "job1")
    try:
        assert area.path.parent == tmp_path and area.path.name.startswith("langflix_lease-job1-")
        owner = json.loads((area.path / OWNER_FILE).read_text())
        assert owner["kind"] == "lease" and owner["lease"] == "job1" and owner["pid"] == os.getpid()
        assert [p.name for p in tmp_path.iterdir()] == [area.path.name]  # no building dir left over
        path = write_stream(area, [b"abc"], suffix=".srt")
        assert path.parent == area.path and path.read_bytes() == b"abc"
        assert area.stats().live_bytes == 3
    finally:
        area.close()
    assert list(tmp_path.iterdir()) == []
    area.close()  # twice: nothing


def test_handover_keeps_the_bytes_for_the_next_holder_who_adopts_and_removes_them(tmp_path: Path) -> None:
    area = LeasedArea(tmp_path, "job2")
    video = write_stream(area, [b"v" * 10], suffix=".mp4")
    area.handover()
    area.close()  # after a handover: not ours to delete
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResourceWarning)
        del area
        gc.collect()
    assert video.read_bytes() == b"v" * 10

    adopted = LeasedArea.adopt(video.parent)
    assert adopted.lease == "job2" and adopted.path == video.parent
    adopted.close()
    assert not video.parent.exists()


def test_adopt_refuses_what_is_not_an_area(tmp_path: Path) -> None:
    (tmp_path / "langflix_lease-notes").mkdir()
    with pytest.raises(TempFileError, match="not a leased temp area"):
        LeasedArea.adopt(tmp_path / "langflix_lease-notes")
    with pytest.raises(ValueError, match="lease name"):
        LeasedArea(tmp_path, "../escape")


def test_a_closed_area_refuses_new_files(tmp_path: Path) -> None:
    area = LeasedArea(tmp_path, "job3")
    area.handover()
    with pytest.raises(TempFileError, match="closed"):
        area.new_file()


def test_sweep_reclaims_only_abandoned_leases_and_reports_the_bytes(tmp_path: Path) -> None:

    held = staged(tmp_path, "held", b"h" * 300)
    gone = staged(tmp_path, "gone", b"g" * 700)
    (tmp_path / "langflix_lease-unrelated").mkdir()  # not an area's name: never touched
    leases = Leases({"gone"})

    dry = sweep_leased(tmp_path, leases, dry_run=True)
    assert (dry.removed, dry.bytes_freed) == (1, 700 + (gone / OWNER_FILE).stat().st_size)
    assert gone.exists()

    report = sweep_leased(tmp_path, leases)
    assert (report.removed, report.skipped_live, report.errors) == (1, 1, [])
    assert report.bytes_freed >= 700
    assert "reclaimed 1 abandoned staging area(s)" in report.summary()
    assert not gone.exists() and held.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([held.name, "langflix_lease-unrelated"])


def test_sweep_keeps_everything_when_the_leases_cannot_be_checked(tmp_path: Path) -> None:

    area = staged(tmp_path, "job4")
    report = sweep_leased(tmp_path, Leases({"job4"}, down=True))
    assert area.exists()
    assert report.removed == 0 and report.skipped_unverifiable == 1
    assert "unreachable" in report.errors[0]


def test_sweep_finishes_interrupted_deletions_and_old_building_dirs_only(tmp_path: Path) -> None:

    garbage = tmp_path / "langflix_garbage-0123456789abcdef"
    garbage.mkdir()
    (garbage / "half.mp4").write_bytes(b"z" * 50)
    young = tmp_path / ".langflix_building-lease-aaaaaaaaaaaa"
    old = tmp_path / ".langflix_building-lease-bbbbbbbbbbbb"
    young.mkdir()
    old.mkdir()
    long_ago = time.time() - 3600
    os.utime(old, (long_ago, long_ago))

    report = sweep_leased(tmp_path, Leases())
    assert not garbage.exists() and not old.exists() and young.exists()
    assert report.garbage_finished == 1 and report.removed == 1


def test_sweep_never_follows_a_symlink_named_like_an_area(tmp_path: Path) -> None:

    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.txt").write_text("mine")
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "langflix_lease-job5-0123456789ab").symlink_to(precious)
    report = sweep_leased(shared, Leases({"job5"}))
    assert report.removed == 0 and (precious / "thesis.txt").read_text() == "mine"


def test_the_temp_layer_knows_no_lease_server() -> None:
    """Leases are checked through LeaseChecker: no module of the temp layer imports redis or rq."""
    package = Path(langflix.temp.__file__).parent
    imported = set()
    for module in package.glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                imported.add(node.module.split(".")[0])
    assert "langflix" in imported and not imported & {"redis", "rq"}


# -- the temp core's guarantees hold for leased areas too ----------------------------------


def test_closing_or_handing_over_an_area_releases_its_claims(tmp_path: Path) -> None:
    for end in ("close", "handover"):
        area = LeasedArea(tmp_path / end, "job5")
        claim = area.reserve(1024, "an upload")
        getattr(area, end)()
        assert claim.released, f"{end} kept this process's claim on the disk"
        with pytest.raises(TempFileError, match="already released"):
            claim.grow(1)
    LeasedArea.adopt(next((tmp_path / "handover").iterdir())).close()


def test_persist_from_an_area_never_goes_through_a_link_swapped_in_on_the_way(tmp_path: Path) -> None:
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    area = LeasedArea(tmp_path / "shared", "job6")
    try:
        with area.scope("job") as scope:
            out = scope.new_file(suffix=".mp4")
            (private / out.name).write_text("root's private file")
            (private / out.name).chmod(0o600)
            os.rename(scope.path, tmp_path / "moved-away")
            scope.path.symlink_to(private)
            with pytest.raises(TempFileError, match="never follows a link"):
                area.persist(out, tmp_path / "published.mp4")
            assert (private / out.name).stat().st_mode & 0o777 == 0o600
            assert not os.path.lexists(tmp_path / "published.mp4")
            scope.path.unlink()
            os.rename(tmp_path / "moved-away", scope.path)
    finally:
        area.close()


def test_a_staging_dir_a_killed_persist_left_is_removed_with_its_area(tmp_path: Path) -> None:
    # What a cross-filesystem persist from the area leaves when its process is
    # SIGKILLed mid-copy: a staging dir beside the destination, recorded in the area.
    out = tmp_path / "out"
    staging = out / ".lesson.mp4.0123456789abcdef.partial"
    staging.mkdir(parents=True)
    (staging / "lesson.mp4").write_bytes(b"s" * 100)
    path = staged(tmp_path / "shared", "job7")
    (path / ".staging-0123456789abcdef").write_bytes(os.fsencode(staging))
    report = sweep_leased(tmp_path / "shared", Leases({"job7"}))
    assert (report.removed, report.errors) == (1, []) and not path.exists()
    assert not staging.exists() and list(out.iterdir()) == []


def test_a_shared_dir_others_may_rewrite_is_refused(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    path = staged(shared, "job8")
    shared.chmod(0o777)
    with pytest.raises(TempFileError, match=r"writable by every user \(mode 0777\)"):
        LeasedArea(shared, "job9")
    with pytest.raises(TempFileError, match="writable by every user"):
        sweep_leased(shared, Leases({"job8"}))
    assert path.exists(), "nothing in such a dir steers a deletion"
    shared.chmod(0o700)
    assert sweep_leased(shared, Leases({"job8"})).removed == 1


def test_the_shared_sweep_reclaims_expired_uploads_beside_the_leased_areas(tmp_path: Path) -> None:
    from langflix.temp import ResumableUploads, TempFileManager

    shared = tmp_path / "shared"
    with TempFileManager(base_dir=tmp_path / "local") as manager:
        uploads = ResumableUploads(manager, base_dir=shared)
        expired, fresh = uploads.create(300), uploads.create(200)
    record = shared / f"langflix_upload-{expired.id}" / "info.json"
    record.write_text(record.read_text().replace(f'"expires": {expired.expires}', '"expires": 1.0'))
    held = staged(shared, "held")

    report = sweep_leased(shared, Leases({"other"}))
    assert (report.removed, report.skipped_live, report.expired_removed, report.errors) == (0, 2, 1, [])
    assert "reclaimed 1 expired upload(s)" in report.summary()
    assert sorted(p.name for p in shared.iterdir()) == sorted([held.name, f"langflix_upload-{fresh.id}"])


def test_listing_names_each_areas_lease_and_state_and_touches_nothing(tmp_path: Path) -> None:
    from langflix.temp import list_leased

    held, gone = staged(tmp_path, "held"), staged(tmp_path, "gone")
    listed = {info.path: info for info in list_leased(tmp_path, Leases({"gone"}))}
    assert {p: (i.area, i.state) for p, i in listed.items()} == {held: ("lease", "live"), gone: ("lease", "expired")}
    assert listed[held].holder == f"lease held, made by pid {os.getpid()} on {os.uname().nodename}"
    assert listed[gone].bytes >= 1000 and gone.exists()
    assert {i.state for i in list_leased(tmp_path, Leases({"gone"}, down=True))} == {"unknown"}  # kept, never guessed
