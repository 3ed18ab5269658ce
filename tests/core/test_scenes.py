"""Scenes and clips cut from the source: real ffmpeg, tiny generated media, real scopes."""

from __future__ import annotations

import logging
import math
import re
import subprocess
from pathlib import Path

import pytest
from support.editing import (
    FMT,
    FRAME,
    SCENE_CUES,
    SCENE_LINE,
    SLACK,
    assert_normalised,
    changed,
    gray_frames,
    scope_files,
    stream_durations,
)
from support.frames import frame_rgb
from support.ocr import ocr, word_match_ratio

from langflix.core.output_format import OutputFormat
from langflix.core.scenes import cut_clip, cut_scene
from langflix.core.thumbnail import ThumbnailText
from langflix.core.video_editor import VideoEditor
from langflix.errors import FFmpegError
from langflix.temp import TempScope

pytestmark = pytest.mark.slow


# -- cut_clip ---------------------------------------------------------------


def test_cut_clip_is_normalised_and_inside_the_scope(
    editor: VideoEditor, scope: TempScope, media: dict[str, Path]
) -> None:
    clip = cut_clip(editor, media["av"], 1.0, 3.5)
    assert clip.path.parent == scope.path
    assert scope_files(scope) == [clip.path]
    assert (clip.frames, clip.seconds, clip.format) == (63, 2.52, FMT)
    assert_normalised(clip, 2.5)
    durations = stream_durations(clip)
    assert durations["video"] == pytest.approx(2.5, abs=FRAME)
    assert durations["audio"] == pytest.approx(2.5, abs=SLACK)


def test_cut_is_frame_accurate_not_snapped_to_a_keyframe(
    editor: VideoEditor, media: dict[str, Path]
) -> None:
    clip = cut_clip(editor, media["steps"], 1.6, 2.4)
    frames = gray_frames(clip, FMT.width, FMT.height)
    means = [sum(f) / len(f) for f in frames]
    assert len(frames) == 20
    # 0.4 s of black (10 frames), then white.
    assert all(m < 40 for m in means[:10]), means
    assert all(m > 200 for m in means[10:]), means


def test_source_without_audio_gets_silence_and_is_padded_to_size(
    editor: VideoEditor, media: dict[str, Path]
) -> None:
    clip = cut_clip(editor, media["portrait"], 0.0, 1.0)
    assert_normalised(clip, 1.0)
    # Portrait 120x240 into 320x240 keeps its aspect: black bars left and right.
    frame = gray_frames(clip, FMT.width, FMT.height)[5]
    row = frame[120 * FMT.width : 121 * FMT.width]
    assert max(row[:90]) < 20 and max(row[-90:]) < 20
    assert max(row[110:210]) > 100
    volume = subprocess.run(
        ["ffmpeg", "-nostdin", "-i", str(clip.path), "-map", "0:a", "-af", "volumedetect",
         "-f", "null", "-"],
        capture_output=True, text=True, check=True,
    ).stderr  # fmt: skip
    match = re.search(r"max_volume: (-?[\d.]+|-inf) dB", volume)
    assert match and (match.group(1) == "-inf" or float(match.group(1)) < -80)


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [(3.0, 99.0, 1.0), (-5.0, 1.0, 1.0)],
)
def test_cut_range_is_clamped_to_the_video(
    editor: VideoEditor, media: dict[str, Path], start: float, end: float, expected: float
) -> None:
    assert_normalised(cut_clip(editor, media["av"], start, end), expected)


@pytest.mark.parametrize(("start", "end"), [(5.0, 6.0), (2.0, 2.0), (3.0, 1.0), (3.99, 10.0)])
def test_empty_range_is_a_clear_error(
    editor: VideoEditor, scope: TempScope, media: dict[str, Path], start: float, end: float
) -> None:
    with pytest.raises(FFmpegError, match=r"is empty once clamped .* check the subtitle times"):
        cut_clip(editor, media["av"], start, end)
    assert scope_files(scope) == []


def test_corrupt_input_quotes_ffmpeg_and_leaves_nothing(
    editor: VideoEditor, scope: TempScope, media: dict[str, Path]
) -> None:
    with pytest.raises(FFmpegError) as info:
        cut_clip(editor, media["corrupt"], 0.0, 1.0)
    message = str(info.value)
    assert str(media["corrupt"]) in message
    assert "moov atom not found" in message or "Invalid data found" in message
    assert scope_files(scope) == []


def test_encoder_failure_quotes_ffmpeg_and_releases_the_output(
    scope: TempScope, media: dict[str, Path]
) -> None:
    editor = VideoEditor(scope, fmt=OutputFormat(width=320, height=240, preset="no-such-preset"))
    with pytest.raises(FFmpegError, match="no-such-preset") as info:
        cut_clip(editor, media["av"], 0.0, 1.0)
    assert "exit code" in str(info.value)
    assert scope_files(scope) == []



# -- cut_scene: one decode, subtitles burned, two clips and a thumbnail --------


@pytest.mark.parametrize(
    ("fps", "preset"), [(12, "ultrafast"), (25, "veryfast"), (30, "ultrafast"), (30, "veryfast")]
)
def test_a_scene_is_cut_once_into_exact_clips(
    scope: TempScope, media: dict[str, Path], caplog: pytest.LogCaptureFixture, fps: int, preset: str
) -> None:
    # veryfast codes B-frames (decode order differs from display order); ultrafast does not.
    fmt = FMT.replace(fps=fps, preset=preset)
    editor = VideoEditor(scope, fmt=fmt)
    with caplog.at_level(logging.DEBUG, logger="langflix.core.process"):
        scene = cut_scene(editor, media["av"], context=(0.3, 3.7), clip=(1.1, 2.6), subtitles=SCENE_CUES)
    runs = [r.getMessage() for r in caplog.records if r.getMessage().startswith("run: ") and "ffmpeg" in r.getMessage()]
    # One decode and one encode of the frames; the expression clip is copied out of the context clip.
    assert len(runs) == 3
    assert runs[0].count("libx264") == 1 and runs[0].count(" -i ") == 1 and str(media["av"]) in runs[0]
    assert "ass=filename=" in runs[0] and SCENE_LINE not in runs[0], "the text goes through a file"
    for copy in runs[1:]:
        assert "libx264" not in copy and "-c copy" in copy and str(media["av"]) not in copy
    # Whole frames at the output rate, nearest frame, halves up.
    first, clip_first = math.floor(0.3 * fps + 0.5), math.floor(1.1 * fps + 0.5)
    assert scene.context.frames == math.floor(3.7 * fps + 0.5) - first
    assert scene.clip.frames == math.floor(2.6 * fps + 0.5) - clip_first
    for piece in (scene.context, scene.clip):
        durations = stream_durations(piece)
        assert durations["video"] == pytest.approx(piece.seconds, abs=1e-3)
        # Sample-exact audio: AAC only rounds its length to a thousandth.
        assert durations["audio"] == pytest.approx(piece.seconds, abs=2e-3)
        assert_normalised(piece, piece.seconds, fmt)
    # The expression clip is the very frames of the context (the same bits), subtitles and all.
    context = gray_frames(scene.context, fmt.width, fmt.height)
    clip = gray_frames(scene.clip, fmt.width, fmt.height)
    assert len(context) == scene.context.frames and len(clip) == scene.clip.frames
    lead = clip_first - first
    for index in (0, len(clip) // 2, len(clip) - 1):
        diff = sum(abs(a - b) for a, b in zip(clip[index], context[lead + index], strict=True)) / len(clip[index])
        assert diff == 0, f"clip frame {index} is not context frame {lead + index}"
    # Only the scene's ASS file was temporary; the two clips stay.
    assert scope_files(scope) == sorted(scene.files)


def test_subtitles_are_burned_at_their_times_and_style_none_burns_nothing(
    editor: VideoEditor, scope: TempScope, media: dict[str, Path]
) -> None:
    burned = cut_scene(editor, media["av"], context=(0.0, 3.0), clip=(0.8, 2.0), subtitles=SCENE_CUES)
    plain = cut_scene(editor, media["av"], context=(0.0, 3.0), clip=(0.8, 2.0), subtitles=SCENE_CUES, style="none")
    band = (150, 240)  # the lower part of the 240-line frame, where subtitles sit
    with_text = gray_frames(burned.context, FMT.width, FMT.height)
    without = gray_frames(plain.context, FMT.width, FMT.height)
    # Frame 5 (0.2 s) is before the first cue (0.6 s); frame 40 (1.6 s) is inside it.
    assert changed(with_text[5], without[5]) < 20
    assert changed(with_text[40], without[40], rows=band) > 300
    assert changed(with_text[40], without[40], rows=(0, 150)) < 20, "the text stays in the lower part"
    clip = gray_frames(burned.clip, FMT.width, FMT.height)
    assert changed(clip[5], without[25], rows=band) > 300, "the repeat shows the line too"
    assert scope_files(scope) == sorted([*burned.files, *plain.files])


def test_a_scene_can_bring_its_thumbnail_from_the_same_decode(
    editor: VideoEditor, scope: TempScope, media: dict[str, Path], tmp_path: Path
) -> None:
    scene = cut_scene(
        editor, media["av"], context=(0.0, 3.0), clip=(0.8, 2.0), subtitles=SCENE_CUES,
        thumbnail=ThumbnailText("figure out", "PHRASAL VERB"),
    )  # fmt: skip
    assert scene.thumbnail is not None and scene.thumbnail.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert scope_files(scope) == sorted(scene.files), "the overlays are gone, the clips and the PNG kept"
    frame = frame_rgb(scene.thumbnail, 0)
    assert (frame.width, frame.height) == (1280, 720)
    text = ocr(scene.thumbnail, langs="eng", upscale=1, crop=(0, 400, 1280, 320), white_only=True)
    assert word_match_ratio("figure out", text) == 1.0, text
    # Drawn on the frame as shot: the scene's own subtitles are not on it.
    assert word_match_ratio("worry myself", text) == 0.0, text


def test_a_failed_scene_leaves_nothing(scope: TempScope, media: dict[str, Path]) -> None:
    editor = VideoEditor(scope, fmt=FMT.model_copy(update={"preset": "no-such-preset"}))
    with pytest.raises(FFmpegError, match="no-such-preset"):
        cut_scene(
            editor, media["av"], context=(0.0, 3.0), clip=(0.8, 2.0), subtitles=SCENE_CUES, thumbnail=ThumbnailText("x")
        )
    assert scope_files(scope) == [], "no clip, no PNG, no ASS file is left"


@pytest.mark.parametrize("clip", [(0.5, 2.5), (1.0, 1.6), (1.4, 2.0)], ids=["whole", "at-start", "at-end"])
def test_an_expression_clip_may_share_an_edge_with_its_scene(
    scope: TempScope, media: dict[str, Path], clip: tuple[float, float]
) -> None:
    editor = VideoEditor(scope, fmt=FMT.replace(preset="veryfast"))
    scene = cut_scene(editor, media["av"], context=(1.0, 2.0), clip=clip)
    first, last = max(round(clip[0] * 25), 25), min(round(clip[1] * 25), 50)
    assert scene.clip.frames == last - first
    context = gray_frames(scene.context, FMT.width, FMT.height)
    frames = gray_frames(scene.clip, FMT.width, FMT.height)
    assert frames == context[first - 25 : last - 25]
    assert stream_durations(scene.clip)["audio"] == pytest.approx(scene.clip.seconds, abs=2e-3)


def test_an_expression_clip_outside_its_scene_is_a_clear_error(
    editor: VideoEditor, scope: TempScope, media: dict[str, Path]
) -> None:
    with pytest.raises(FFmpegError, match="holds no frame of its scene"):
        cut_scene(editor, media["av"], context=(0.0, 1.0), clip=(2.0, 3.0))
    assert scope_files(scope) == []
