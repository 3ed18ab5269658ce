"""Fixtures of the pipeline tests: a temp manager per test, and generated media shared read-only.

The sample episode (testsrc2 video, espeak-ng speech of idiomatic lines, an SRT) is
made once by ``langflix.demo.make_sample_episode`` at 320x240; every test gets its
own temp manager under ``tmp_path``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.media import make_media, pattern
from support.temp import temp_manager

from langflix.demo import make_sample_episode
from langflix.temp import TempFileManager


@dataclass(frozen=True)
class Episode:
    """The shared sample: never modified by a test (they check it byte for byte)."""

    video: Path
    subtitles: Path
    duration: float


@pytest.fixture(scope="session")
def episode(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Episode]:
    """A 16-second sample episode with five spoken lines (made once per session)."""
    root = tmp_path_factory.mktemp("episode")
    with TempFileManager(base_dir=root / "tmp") as manager:
        video, srt = make_sample_episode(root / "input", duration=16.0, width=320, height=240, manager=manager)
        assert [p.name for p in manager.path.rglob("*")] == [".owner"]
    yield Episode(video, srt, 16.0)


@pytest.fixture(scope="session")
def short_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real 3-second video with silent audio (probed and cut, never changed)."""
    return make_media(
        tmp_path_factory.mktemp("media") / "short.mp4",
        video=pattern("160x120", 10, 3, name="testsrc2"),
        audio="anullsrc=r=22050:cl=mono",
        args=["-t", "3"],
    )


@pytest.fixture
def manager(tmp_path: Path) -> Iterator[TempFileManager]:
    with temp_manager(tmp_path) as mgr:
        yield mgr
