"""Publishing an episode: names that cannot escape, atomic claims, all-or-nothing, undo."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.temp import leftovers, temp_manager
from support.threads import race

import langflix.pipeline.publish as module
from langflix.errors import JobError
from langflix.pipeline.publish import (
    Publication,
    claim_episode_dir,
    publish_episode,
    sanitize_episode_name,
    unpublish,
)
from langflix.temp import TempArea


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("Friends S01E01", "Friends_S01E01"),
        ("../../etc/passwd", "etc_passwd"),
        (".hidden", "hidden"),
        ("에피소드 1", "에피소드_1"),
        ("a:b*c?d", "a_b_c_d"),
        ("///", ""),
        ("..", ""),
        ("x" * 200, "x" * 80),
    ],
)
def test_sanitize_episode_name(raw: str, clean: str) -> None:
    assert sanitize_episode_name(raw) == clean


def test_claim_takes_the_first_free_name(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert claim_episode_dir(out, "ep") == out / "ep"
    (out / "ep-2").write_text("somebody's file, not a dir")
    assert claim_episode_dir(out, "ep") == out / "ep-3"
    assert claim_episode_dir(out, "ep") == out / "ep-4"
    assert (out / "ep-2").read_text() == "somebody's file, not a dir"


def test_parallel_claims_never_collide(tmp_path: Path) -> None:
    out = tmp_path / "out"
    # All threads race for the same name at once.
    outcome = race(lambda: claim_episode_dir(out, "ep"), 16)
    assert outcome.errors == []
    claimed = outcome.results
    assert len(set(claimed)) == 16
    assert {p.name for p in claimed} == {"ep"} | {f"ep-{i}" for i in range(2, 17)}


def test_claim_in_an_impossible_place_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    with pytest.raises(JobError, match="output directory"):
        claim_episode_dir(blocker, "ep")


def test_unpublish_removes_only_what_the_job_wrote(tmp_path: Path) -> None:
    episode = tmp_path / "ep"
    episode.mkdir()
    ours = episode / "01-x.mp4"
    ours.write_bytes(b"partial")
    foreign = episode / "notes.txt"
    foreign.write_text("the user's")
    unpublish(episode, [ours, episode / "never-written.mp4"])
    assert not ours.exists()
    assert foreign.read_text() == "the user's", "a file the job did not write is never removed"
    unpublish(episode, [])
    assert episode.exists()
    foreign.unlink()
    unpublish(episode, [])
    assert not episode.exists(), "an empty claimed dir goes"


@pytest.fixture
def area(tmp_path: Path) -> Iterator[TempArea]:
    with temp_manager(tmp_path) as manager, manager.scope("publish-test") as scope:
        yield scope


def _files(area: TempArea, *names: str) -> dict[str, Path]:
    made = {}
    for name in names:
        path = area.new_file(suffix=".mp4")
        path.write_bytes(name.encode())
        made[name] = path
    return made


def test_publish_moves_everything_at_once_with_the_index_last(tmp_path: Path, area: TempArea) -> None:
    out = tmp_path / "out"
    files = _files(area, "01-a.mp4", "compilation.mp4")
    seen: list[list[str]] = []

    def index(episode_dir: Path) -> str:
        # While the index is written, the episode dir is claimed and still empty:
        # a reader cannot see a part of the episode.
        seen.append(sorted(p.name for p in episode_dir.iterdir()))
        return f"index of {episode_dir.name}\n"

    published = publish_episode(area, out, "ep", files, ("manifest.json", index))
    assert published == Publication(out / "ep", ("01-a.mp4", "compilation.mp4", "manifest.json"))
    assert seen == [[]]
    assert sorted(p.name for p in (out / "ep").iterdir()) == ["01-a.mp4", "compilation.mp4", "manifest.json"]
    assert (out / "ep" / "manifest.json").read_text() == "index of ep\n"
    assert (out / "ep" / "01-a.mp4").read_bytes() == b"01-a.mp4"
    assert leftovers(area) == [], "the staged episode is no longer the scope's"


def test_a_failing_index_gives_the_claim_back(tmp_path: Path, area: TempArea) -> None:
    out = tmp_path / "out"

    def broken(episode_dir: Path) -> str:
        raise RuntimeError("no manifest today")

    with pytest.raises(RuntimeError, match="no manifest today"):
        publish_episode(area, out, "ep", _files(area, "01-a.mp4"), ("manifest.json", broken))
    assert list(out.iterdir()) == [], "nothing published, the claimed dir given back"


def test_undo_takes_the_episode_back(tmp_path: Path, area: TempArea) -> None:
    out = tmp_path / "out"
    published = publish_episode(area, out, "ep", _files(area, "01-a.mp4"), ("manifest.json", lambda d: "{}"))
    published.undo()
    assert list(out.iterdir()) == []


def test_exports() -> None:
    assert module.__all__ == sorted(module.__all__)
    assert all(hasattr(module, name) for name in module.__all__)
