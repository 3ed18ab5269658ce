"""A study card's audio and screenshot: real ffmpeg, tiny media, one run and no video encode."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from support.editing import FMT, SCENE_CUES
from support.frames import frame_rgb

from langflix.core.ffmpeg import FFmpegTools
from langflix.core.scenes import cut_scene
from langflix.core.study_media import study_media
from langflix.core.video_editor import VideoEditor
from langflix.errors import FFmpegError
from langflix.temp import TempScope

pytestmark = pytest.mark.slow

probe = FFmpegTools().probe


def test_study_media_is_the_lines_audio_and_a_screenshot_without_a_video_encode(
    scope: TempScope, media: dict[str, Path]
) -> None:
    runs: list[list[str]] = []

    class Recording(FFmpegTools):
        def run(self, args: Sequence[str], **kwargs: Any) -> None:
            runs.append([str(a) for a in args])
            super().run(args, **kwargs)

    editor = VideoEditor(scope, fmt=FMT, tools=Recording())
    made = study_media(editor, probe(media["av"]), window=(0.3, 2.7), subtitles=SCENE_CUES)
    assert len(runs) == 1 and "libx264" not in runs[0]
    audio = probe(made.audio)
    assert (audio.has_video, audio.audio_codec) == (False, "mp3")
    assert audio.duration == pytest.approx(2.4, abs=0.08)
    header = made.still.read_bytes()[:3]
    assert header == b"\xff\xd8\xff", "a JPEG"
    still = frame_rgb(made.still, 0)
    assert (still.width, still.height) == (FMT.width, FMT.height)
    assert sorted(scope.path.rglob("*")) == sorted(made.files), "the scene's ASS file served the run only"


def test_a_failed_run_leaves_no_audio_and_no_screenshot(scope: TempScope, media: dict[str, Path]) -> None:
    class Failing(FFmpegTools):
        def run(self, args: Sequence[str], **kwargs: Any) -> None:
            super().run([*args[:-1], "-c:v", "no_such_encoder", args[-1]], **kwargs)

    cut = cut_scene(VideoEditor(scope, fmt=FMT), media["av"], context=(0.0, 2.0), clip=(0.5, 1.5))
    before = sorted(scope.path.rglob("*"))
    with pytest.raises(FFmpegError, match="no_such_encoder"):
        study_media(VideoEditor(scope, fmt=FMT, tools=Failing()), cut.clip.path, window=(0.0, 1.0))
    assert sorted(scope.path.rglob("*")) == before
