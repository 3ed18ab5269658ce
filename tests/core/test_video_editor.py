"""What every product of the editor shares: a cut's inputs, burn filters, and files released on failure.

Plain values and a real scope; one ffmpeg, made to fail (the products' own tests run the rest).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support.editing import FMT, SCENE_CUES, scope_files

from langflix.core.ffmpeg import MediaInfo
from langflix.core.frames import frame_span
from langflix.core.video_editor import VideoEditor
from langflix.errors import FFmpegError
from langflix.temp import TempScope


def _info(duration: float = 4.0, *, audio: bool = True) -> MediaInfo:
    return MediaInfo(
        Path("/media/episode.mp4"), "mov", duration, True, audio, 320, 240, 30.0, "h264", "aac" if audio else None,
        48000 if audio else None,
    )  # fmt: skip


def test_a_source_without_audio_gets_silence_as_its_second_input(editor: VideoEditor) -> None:
    span = frame_span(_info(audio=False), 2.0, 3.0, FMT.fps)
    args, audio = editor.input_args(_info(audio=False), span)
    assert audio == "1:a:0" and args[-1] == editor.silence() and args[:2] == ["-ss", f"{span.seek / FMT.fps:.6f}"]
    assert editor.input_args(_info(), frame_span(_info(), 0.0, 1.0, FMT.fps)) == (_info().input.args(), "0:a:0")


def test_nothing_is_burned_when_the_style_is_none_or_no_cue_is_in_the_window(
    editor: VideoEditor, scope: TempScope
) -> None:
    with editor.run_files() as files:
        assert editor.burn_filter(SCENE_CUES, "none", (0.0, 4.0), files) is None
        assert editor.burn_filter(SCENE_CUES, "bilingual", (3.7, 5.0), files) is None
        assert files.scratch == [], "no ASS file written"
        burned = editor.burn_filter(SCENE_CUES, "bilingual", (0.0, 4.0), files)
        assert burned is not None and burned.startswith("ass=filename=")
        assert [p.suffix for p in files.scratch] == [".ass"]
    assert scope_files(scope) == [], "the ASS file served the run only"


def test_a_run_keeps_its_outputs_and_releases_its_scratch(editor: VideoEditor, scope: TempScope) -> None:
    with editor.run_files() as files:
        out = files.output(suffix=".mp4", prefix="clip_")
        files.scratch_file(suffix=".ffconcat", prefix="concat_")
        files.ass("[Script Info]\n", prefix="scene_")
    assert scope_files(scope) == [out]


def test_a_failed_run_releases_its_outputs_too_and_raises_its_own_error(editor: VideoEditor, scope: TempScope) -> None:
    with pytest.raises(FFmpegError, match="the real error"), editor.run_files() as files:
        files.output(suffix=".mp4", prefix="clip_")
        files.ass("[Script Info]\n", prefix="scene_")
        raise FFmpegError("the real error")
    assert scope_files(scope) == []


def test_a_failed_encode_leaves_no_output(editor: VideoEditor, scope: TempScope) -> None:
    with pytest.raises(FFmpegError):
        editor.encode(["-f", "lavfi", "-i", "no_such_source"], prefix="clip_")
    assert scope_files(scope) == []
