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
