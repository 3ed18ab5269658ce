"""Publishing an episode: names that cannot escape, one rename that takes a free name, all-or-nothing, undo."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.temp import leftovers, temp_manager
from support.threads import race

import langflix.pipeline.publish as module
from langflix.errors import JobError
from langflix.pipeline.publish import (
    Publication,
    episode_dir_candidates,
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


def test_candidates_skip_every_name_that_is_taken(tmp_path: Path) -> None:
    out = tmp_path / "out"
    names = episode_dir_candidates(out, "ep")
    assert next(names) == out / "ep" and out.is_dir() and list(out.iterdir()) == []
    (out / "ep").mkdir()
    (out / "ep-2").write_text("somebody's file, not a dir")
    (out / "ep-3").symlink_to(tmp_path / "nowhere")
    assert next(episode_dir_candidates(out, "ep")) == out / "ep-4"
    assert (out / "ep-2").read_text() == "somebody's file, not a dir"


def test_candidates_in_an_impossible_place_are_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    with pytest.raises(JobError, match="output directory"):
        next(episode_dir_candidates(blocker, "ep"))


def test_parallel_publishes_of_one_name_never_collide(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with temp_manager(tmp_path) as manager:
        scopes = [manager.scope(f"job-{i}") for i in range(16)]
        jobs = iter(scopes)
        lock = threading.Lock()

        def publish() -> Publication:
            with lock:
                scope = next(jobs)
            return publish_episode(scope, out, "ep", _files(scope, "01-a.mp4"), ("manifest.json", lambda d: d.name))

        # All threads race for the same name at once: each rename either takes
        # a free name whole or moves on to the next.
        outcome = race(publish, 16)
        for scope in scopes:
            scope.close()
    assert outcome.errors == []
    names = sorted(p.episode_dir.name for p in outcome.results)
    assert names == sorted(["ep"] + [f"ep-{i}" for i in range(2, 17)])
    for published in outcome.results:
        assert sorted(p.name for p in published.episode_dir.iterdir()) == ["01-a.mp4", "manifest.json"]
        assert (published.episode_dir / "manifest.json").read_text() == published.episode_dir.name


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
    seen: list[bool] = []

    def index(episode_dir: Path) -> str:
        # While the index is written the episode dir does not exist yet: there
        # is never an empty or a partial episode dir to see (or to leave behind).
        seen.append(os.path.lexists(episode_dir))
        return f"index of {episode_dir.name}\n"

    published = publish_episode(area, out, "ep", files, ("manifest.json", index))
    assert published == Publication(out / "ep", ("01-a.mp4", "compilation.mp4", "manifest.json"))
    assert seen == [False]
    assert sorted(p.name for p in (out / "ep").iterdir()) == ["01-a.mp4", "compilation.mp4", "manifest.json"]
    assert (out / "ep" / "manifest.json").read_text() == "index of ep\n"
    assert (out / "ep" / "01-a.mp4").read_bytes() == b"01-a.mp4"
    assert leftovers(area) == [], "the staged episode is no longer the scope's"


def test_a_failing_index_publishes_nothing(tmp_path: Path, area: TempArea) -> None:
    out = tmp_path / "out"

    def broken(episode_dir: Path) -> str:
        raise RuntimeError("no manifest today")

    with pytest.raises(RuntimeError, match="no manifest today"):
        publish_episode(area, out, "ep", _files(area, "01-a.mp4"), ("manifest.json", broken))
    assert list(out.iterdir()) == [], "nothing published"


def test_a_name_taken_at_the_last_moment_moves_the_episode_on(tmp_path: Path, area: TempArea) -> None:
    out = tmp_path / "out"

    def index(episode_dir: Path) -> str:
        if episode_dir.name == "ep":
            (out / "ep").mkdir()  # another job publishes "ep" between our look and our rename
            (out / "ep" / "theirs.mp4").write_bytes(b"theirs")
        return episode_dir.name

    published = publish_episode(area, out, "ep", _files(area, "01-a.mp4"), ("manifest.json", index))
    assert published.episode_dir == out / "ep-2"
    assert (out / "ep-2" / "manifest.json").read_text() == "ep-2", "the index names the dir it is in"
    assert sorted(p.name for p in (out / "ep").iterdir()) == ["theirs.mp4"], "the other job's episode untouched"


def test_undo_takes_the_episode_back(tmp_path: Path, area: TempArea) -> None:
    out = tmp_path / "out"
    published = publish_episode(area, out, "ep", _files(area, "01-a.mp4"), ("manifest.json", lambda d: "{}"))
    published.undo()
    assert list(out.iterdir()) == []


def test_exports() -> None:
    assert module.__all__ == sorted(module.__all__)
    assert all(hasattr(module, name) for name in module.__all__)
