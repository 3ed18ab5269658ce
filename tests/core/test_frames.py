"""Cuts as whole frames and the filters that take them by number: plain numbers, no ffmpeg."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from langflix.core.ffmpeg import MediaInfo
from langflix.core.frames import FrameSpan, fit_filter, frame_at, frame_span, frames_filter, samples_filter
from langflix.core.output_format import OutputFormat
from langflix.errors import FFmpegError

FMT = OutputFormat(width=320, height=240, fps=25, sample_rate=44100)
INFO = MediaInfo(Path("/media/episode.mp4"), "mov", 4.0, True, True, 320, 240, 30.0, "h264", "aac", 48000)


def test_a_time_is_the_nearest_frame_halves_up() -> None:
    assert [frame_at(s, 25) for s in (0.0, 0.019, 0.02, 0.0399, 1.0)] == [0, 0, 1, 1, 25]
    assert frame_at(0.5 / 25, 25) == 1 and frame_at(2.5 / 25, 25) == 3, "not round-half-even"


def test_a_span_is_whole_frames_clamped_to_the_video_with_its_seek_before_it(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="langflix.core.frames"):
        span = frame_span(INFO, 1.0, 9.0, 25)
    assert span == FrameSpan(first=25, frames=75, seek=25 - round(0.5 * 25))
    assert (span.skip, span.end, span.seconds(25)) == (12, 100, (1.0, 4.0))
    assert "clamped cut 1.000-9.000 to 1.000-4.000" in caplog.text
    assert frame_span(INFO, 0.1, 1.0, 25).seek == 0, "never before the start"


@pytest.mark.parametrize(("start", "end"), [(5.0, 6.0), (2.0, 2.0), (3.0, 1.0), (3.99, 10.0)])
def test_an_empty_span_names_the_file_and_the_fix(start: float, end: float) -> None:
    with pytest.raises(FFmpegError, match=r"/media/episode.mp4: the range .* is empty once clamped .* check the"):
        frame_span(INFO, start, end, 25)


@given(st.floats(0, 3.9), st.floats(1 / 11, 4.0), st.sampled_from([12, 24, 25, 30, 60]))
def test_a_span_never_leaves_the_video_and_seeks_at_most_half_a_second_early(
    start: float, length: float, fps: int
) -> None:
    span = frame_span(INFO, start, start + length, fps)  # at least one frame long, at 12 fps too
    assert 0 <= span.seek <= span.first and span.skip <= round(0.5 * fps)
    assert span.frames >= 1 and span.end <= frame_at(INFO.duration, fps)


def test_frames_are_taken_by_number_after_the_seek() -> None:
    graph = frames_filter(FMT, FrameSpan(first=40, frames=30, seek=28))
    assert "fps=25:start_time=0" in graph and "trim=start_frame=12:end_frame=42" in graph
    assert graph.endswith("setsar=1")


def test_the_picture_is_letterboxed_into_the_format() -> None:
    assert fit_filter(FMT).startswith("scale=320:240:force_original_aspect_ratio=decrease")
    assert "pad=320:240:(ow-iw)/2:(oh-ih)/2" in fit_filter(FMT)


def test_the_audio_under_the_frames_is_sample_exact() -> None:
    # 12 frames at 25 fps skip 21168 samples at 44.1 kHz; 30 frames last 52920.
    audio = samples_filter(FMT, 12, 30)
    assert audio.startswith("aresample=44100:async=1:first_pts=0,aformat=")
    assert "atrim=start_sample=21168:end_sample=74088" in audio
    plain = samples_filter(FMT, 0, 25, resample=False)
    assert plain == "apad,atrim=start_sample=0:end_sample=44100,asetpts=PTS-STARTPTS"
