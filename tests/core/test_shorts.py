"""Vertical shorts: real ffmpeg, tiny media, the frame cap and the streams checked."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from support.frames import frame_rgb
from support.media import make_media, pattern, sine

from langflix.cancel import CancelToken
from langflix.core.ffmpeg import FFmpegTools
from langflix.core.output_format import OutputFormat
from langflix.core.scenes import cut_scene
from langflix.core.short_layout import ShortText, layout_short
from langflix.core.shorts import short_frames, short_from_scene, short_from_source
from langflix.core.subtitle_render import SceneCue
from langflix.core.video_editor import VideoEditor
from langflix.errors import CancelledError, FFmpegError
from langflix.temp import TempScope

pytestmark = pytest.mark.slow

probe = FFmpegTools().probe
FMT = OutputFormat(width=192, height=108, fps=25, preset="ultrafast")
TALL = (108, 192)
TEXT = ShortText("break the ice", "IDIOM", "분위기를 깨다", "to start talking", "demo")
CUES = [SceneCue(0.5, 2.5, "Let's break the ice.", "분위기를 깨자.", ((6, 19),))]


@pytest.fixture(scope="module")
def episode(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_media(
        tmp_path_factory.mktemp("media") / "episode.mp4", video=pattern("320x180", 25, 12),
        audio=sine(440, 44100, 12), args=["-shortest"],
    )  # fmt: skip


def _layout(fit: str = "letterbox") -> Any:
    return layout_short(TEXT, width=TALL[0], height=TALL[1], source_width=FMT.width, source_height=FMT.height,
                        fit=fit)  # type: ignore[arg-type]  # fmt: skip


def _similar(a: bytes, b: bytes) -> bool:
    """Two frames alike but for encoding noise (mean difference under 3 of 255)."""
    return sum(abs(x - y) for x, y in zip(a, b, strict=True)) / len(a) < 3


def _check_short(path: Path, seconds: float) -> None:
    info = probe(path)
    assert (info.width, info.height, info.video_codec, info.audio_codec) == (*TALL, "h264", "aac")
    assert info.frame_rate == FMT.fps
    assert info.duration == pytest.approx(seconds, abs=0.06)


@pytest.mark.parametrize(
    ("context", "lead", "clip", "cap", "expected"),
    [
        (100, 20, 30, 200, (True, 0, 130)),  # scene, then the clip once more
        (100, 20, 30, 120, (False, 0, 100)),  # the replay does not fit: the scene alone
        (300, 200, 50, 100, (False, 175, 100)),  # a long scene: centred on the clip
        (300, 0, 50, 100, (False, 0, 100)),
        (300, 280, 20, 100, (False, 200, 100)),
    ],
)
def test_what_a_short_shows_within_its_cap(
    context: int, lead: int, clip: int, cap: int, expected: tuple[bool, int, int]
) -> None:
    assert short_frames(context, lead, clip, cap) == expected
    assert short_frames(context, lead, clip, cap)[2] <= cap


def test_a_letterboxed_short_reuses_the_burned_scene_and_adds_the_clip_once(
    scope: TempScope, episode: Path
) -> None:
    editor = VideoEditor(scope, fmt=FMT)
    cut = cut_scene(editor, episode, context=(0.0, 4.0), clip=(0.3, 2.7), subtitles=CUES)
    short = short_from_scene(editor, cut, layout=_layout(), max_seconds=60)
    assert short.frames == cut.context.frames + cut.clip.frames
    _check_short(short.path, 4.0 + 2.4)
    # The replay shows the clip's frames again: the frame 1.2 s into it is the scene's at 0.3 + 1.2 s.
    assert _similar(frame_rgb(short.path, 4.0 + 1.2).data, frame_rgb(short.path, 1.5).data)
    assert not _similar(frame_rgb(short.path, 4.0 + 1.2).data, frame_rgb(short.path, 3.5).data)
    # Above and below the picture: black bands holding the text (some bright pixels), nothing else.
    layout = _layout()
    frame = frame_rgb(short.path, 1.0)
    band = layout.bands[0]
    lit = frame.where(lambda r, g, b: r + g + b > 300, box=(0, 0, TALL[0], int(band.bottom) - 1))
    assert lit, "the top band shows its text"


def test_a_short_never_lasts_longer_than_its_cap(scope: TempScope, episode: Path) -> None:
    editor = VideoEditor(scope, fmt=FMT)
    cut = cut_scene(editor, episode, context=(0.0, 10.0), clip=(6.0, 7.0))
    short = short_from_scene(editor, cut, layout=_layout(), max_seconds=5.0)
    assert short.frames == 125
    _check_short(short.path, 5.0)


def test_a_cropped_short_is_cut_from_the_source_with_its_subtitles_between_the_bands(
    scope: TempScope, episode: Path
) -> None:
    editor = VideoEditor(scope, fmt=FMT)
    layout = _layout("crop")
    short = short_from_source(
        editor, probe(episode), context=(0.0, 3.0), clip=(0.3, 2.7), layout=layout, max_seconds=60, subtitles=CUES
    )
    _check_short(short.path, 3.0 + 2.4)
    # The picture fills the frame: the middle row is the scene, not black.
    frame = frame_rgb(short.path, 1.0)
    assert len(frame.where(lambda r, g, b: r + g + b > 60, box=(0, 96, TALL[0], 97))) > TALL[0] // 2
    with pytest.raises(ValueError, match="cut from the source"):
        scene = cut_scene(editor, episode, context=(0.0, 2.0), clip=(0.5, 1.5))
        short_from_scene(editor, scene, layout=layout, max_seconds=9)


def test_a_failed_or_cancelled_short_leaves_nothing(scope: TempScope, episode: Path) -> None:
    class Failing(FFmpegTools):
        def run(self, args: Sequence[str], **kwargs: Any) -> None:
            super().run([*args[:-1], "-c:v", "no_such_encoder", args[-1]], **kwargs)

    cut = cut_scene(VideoEditor(scope, fmt=FMT), episode, context=(0.0, 2.0), clip=(0.5, 1.5))
    before = sorted(scope.path.rglob("*"))
    with pytest.raises(FFmpegError, match="no_such_encoder"):
        short_from_scene(VideoEditor(scope, fmt=FMT, tools=Failing()), cut, layout=_layout(), max_seconds=9)
    token = CancelToken()
    token.cancel("stop")
    with pytest.raises(CancelledError):
        short_from_source(
            VideoEditor(scope, fmt=FMT, cancel=token), episode, context=(0.0, 2.0), clip=(0.5, 1.5),
            layout=_layout("crop"), max_seconds=9,
        )
    assert sorted(scope.path.rglob("*")) == before
