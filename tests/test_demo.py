"""make_sample_episode: a real video whose speech starts exactly where its SRT says."""

from __future__ import annotations

import itertools
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.temp import leftovers, temp_manager

from langflix.cancel import CancelToken
from langflix.core.ffmpeg import FFmpegTools
from langflix.core.subtitles import load_subtitles
from langflix.demo import (
    SAMPLE_LINES,
    SAMPLE_TRANSLATIONS,
    SampleCue,
    make_sample_episode,
    sample_cues,
    write_srt,
    write_translation_srt,
)
from langflix.errors import CancelledError, ConfigError
from langflix.temp import TempFileManager

probe = FFmpegTools().probe

_SRT_BLOCK = re.compile(
    r"(\d+)\n(\d\d):(\d\d):(\d\d),(\d\d\d) --> (\d\d):(\d\d):(\d\d),(\d\d\d)\n(.+?)\n(?:\n|$)", re.S
)


def _parse_srt(text: str) -> list[SampleCue]:
    cues = []
    for m in _SRT_BLOCK.finditer(text):
        g = [int(x) for x in m.groups()[1:9]]
        start = g[0] * 3600 + g[1] * 60 + g[2] + g[3] / 1000
        end = g[4] * 3600 + g[5] * 60 + g[6] + g[7] / 1000
        cues.append(SampleCue(start, end, m.group(10)))
    return cues


def _speech_onsets(video: Path) -> list[float]:
    """Times where sound starts after silence, measured by ffmpeg's silencedetect."""
    out = subprocess.run(
        ["ffmpeg", "-hide_banner", "-nostdin", "-i", str(video), "-vn",
         "-af", "silencedetect=n=-40dB:d=0.3", "-f", "null", "-"],
        capture_output=True, text=True, check=True, timeout=60,
    ).stderr  # fmt: skip
    return [float(x) for x in re.findall(r"silence_end: ([\d.]+)", out)]


@pytest.fixture
def manager(tmp_path: Path) -> Iterator[TempFileManager]:
    with temp_manager(tmp_path) as mgr:
        yield mgr


def test_sample_episode_speech_matches_its_srt(tmp_path: Path, manager: TempFileManager) -> None:
    video, srt = make_sample_episode(
        tmp_path / "out", duration=12.0, width=320, height=240, manager=manager
    )
    assert (video.name, srt.name) == ("langflix-sample.mp4", "langflix-sample.srt")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted([srt.name, video.name])

    info = probe(video)
    assert info.has_video and info.has_audio
    assert (info.width, info.height, info.video_codec, info.audio_codec) == (320, 240, "h264", "aac")
    assert info.duration == pytest.approx(12.0, abs=0.1)

    cues = _parse_srt(srt.read_text(encoding="utf-8"))
    assert len(cues) >= 3
    assert [c.text for c in cues] == list(SAMPLE_LINES[: len(cues)])
    assert cues[0].start == pytest.approx(0.5)
    for before, after in itertools.pairwise(cues):
        assert before.end < after.start, "sample cues must not overlap"
    assert cues[-1].end <= 12.0

    # The speech really starts where each cue starts: a broken adelay, a wrong
    # sample rate or a cue computed from the wrong length would all move these.
    onsets = _speech_onsets(video)
    assert len(onsets) >= len(cues)
    for cue, onset in zip(cues, onsets[: len(cues)], strict=True):
        assert onset == pytest.approx(cue.start, abs=0.1)

    assert leftovers(manager) == [], "the sample's intermediates must go with its scope"


def test_longer_sample_spreads_the_lines(tmp_path: Path, manager: TempFileManager) -> None:
    lines = SAMPLE_LINES[:4]
    _, srt = make_sample_episode(
        tmp_path, duration=40.0, width=160, height=120, lines=lines, manager=manager
    )
    cues = _parse_srt(srt.read_text(encoding="utf-8"))
    assert [c.text for c in cues] == list(lines)
    starts = [c.start for c in cues]
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert min(gaps) > 8.0, "lines are spread over the episode, not bunched at its start"
    assert cues[-1].start > 25.0 and cues[-1].end <= 40.0


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"duration": 0.5}, "at least 1 second"),
        ({"duration": 1.5}, "too short"),
        ({"width": 321}, "even"),
        ({"lines": ()}, "at least one line"),
    ],
)
def test_bad_requests_fail_clearly_and_leave_nothing(
    tmp_path: Path, manager: TempFileManager, kwargs: dict[str, object], needle: str
) -> None:
    with pytest.raises(ConfigError, match=needle):
        make_sample_episode(tmp_path / "out", manager=manager, **kwargs)  # type: ignore[arg-type]
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []
    assert leftovers(manager) == []


def test_cancelled_sample_leaves_nothing(tmp_path: Path, manager: TempFileManager) -> None:
    token = CancelToken()
    token.cancel("user stopped the demo")
    with pytest.raises(CancelledError, match="user stopped the demo"):
        make_sample_episode(tmp_path / "out", duration=10.0, manager=manager, cancel=token)
    assert list((tmp_path / "out").iterdir()) == []
    assert leftovers(manager) == []


def test_sample_cues_and_srt_round_trip(tmp_path: Path) -> None:
    cues = sample_cues([(1.25, "a piece of cake"), (2.0, "Ça va? 좋아요")], 10.0)
    assert cues[0].start == 0.5 and cues[0].end == 1.75
    assert cues[1].start > cues[0].end
    path = tmp_path / "x.srt"
    write_srt(path, cues)
    assert _parse_srt(path.read_text(encoding="utf-8")) == cues
    assert "00:00:00,500 --> 00:00:01,750" in path.read_text(encoding="utf-8")


def test_the_korean_srt_says_each_line_in_korean_at_the_same_time(tmp_path: Path) -> None:
    assert set(SAMPLE_TRANSLATIONS) == set(SAMPLE_LINES), "every sample line has its Korean"
    english = tmp_path / "x.srt"
    cues = sample_cues([(1.0, SAMPLE_LINES[0]), (1.5, "A line nobody translated.")], 10.0)
    write_srt(english, cues)
    korean = write_translation_srt(english, tmp_path / "x.ko.srt")
    (track,) = load_subtitles(korean).tracks
    assert track.language == "ko"
    expected = [(cues[0].start, cues[0].end, SAMPLE_TRANSLATIONS[SAMPLE_LINES[0]])]
    assert [(c.start, c.end, c.text) for c in track.cues] == expected
