"""Tests for langflix.core.video_editor: real ffmpeg, tiny generated media, real scopes."""

from __future__ import annotations

import logging
import math
import re
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.frames import frame_rgb
from support.media import X264, ffmpeg, lavfi, make_media, pattern, sine
from support.ocr import ocr, word_match_ratio
from support.procs import child_pids
from support.temp import temp_manager

from langflix.cancel import CancelToken
from langflix.core.card import CARD_BACKGROUND, CardText
from langflix.core.ffmpeg import FFmpegTools
from langflix.core.output_format import OutputFormat
from langflix.core.subtitle_render import SceneCue
from langflix.core.thumbnail import ThumbnailText
from langflix.core.video_editor import Piece, VideoEditor
from langflix.errors import CancelledError, FFmpegError
from langflix.temp import TempFileManager, TempScope

pytestmark = pytest.mark.slow

probe = FFmpegTools().probe

FMT = OutputFormat(width=320, height=240, fps=25, sample_rate=44100, preset="ultrafast")
FRAME = 1 / FMT.fps
# AAC writes whole 1024-sample frames, so audio may run up to one frame longer.
SLACK = 0.06


def _gray_frames(video: Piece | Path, width: int, height: int) -> list[bytes]:
    """Every decoded frame of ``video`` (none duplicated) as 8-bit gray pixels."""
    raw = subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-i", str(_path(video)), "-fps_mode",
         "passthrough", "-f", "rawvideo", "-pix_fmt", "gray", "-"],
        capture_output=True, check=True, timeout=60,
    ).stdout  # fmt: skip
    size = width * height
    return [raw[i : i + size] for i in range(0, len(raw), size)]


def _stream_durations(video: Piece | Path) -> dict[str, float]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "stream=codec_type,duration",
         "-of", "csv=p=0", str(_path(video))],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return {kind: float(d) for kind, d in (line.split(",") for line in out.split())}


def _files(scope: TempScope) -> list[Path]:
    return sorted(p for p in scope.path.rglob("*"))


def _path(piece: Piece | Path) -> Path:
    return piece.path if isinstance(piece, Piece) else piece


def _assert_normalised(
    piece: Piece | Path, duration: float, fmt: OutputFormat = FMT, *, tol: float = SLACK
) -> float:
    info = probe(_path(piece))
    assert (info.has_video, info.has_audio) == (True, True)
    assert (info.width, info.height) == (fmt.width, fmt.height)
    assert info.frame_rate == fmt.fps
    # A join keeps each piece's AAC priming (~23 ms), which nudges the average (more in a
    # compilation, checked with a wider tol: each lesson it joins starts with one).
    assert info.fps == pytest.approx(fmt.fps, rel=1e-3 if tol < 0.05 else 3e-3)
    assert (info.video_codec, info.audio_codec) == ("h264", "aac")
    assert info.sample_rate == fmt.sample_rate
    assert info.duration == pytest.approx(duration, abs=tol)
    return info.duration


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("media")
    # 30 fps and 48 kHz mono on purpose: the editor must convert both.
    av = make_media(
        root / "episode.mp4",
        video=pattern("320x240", 30, 4),
        audio=sine(440, 48000, 4),
        args=["-ac", "1", "-shortest"],
    )
    portrait = make_media(root / "portrait_silent.mkv", video=pattern("120x240", 24, 2))
    # Black for 2 s, then white, with a single keyframe at 0: a cut that snapped
    # to the keyframe instead of the requested time would show the wrong colour.
    steps = root / "black_then_white.mp4"
    ffmpeg(
        *lavfi("color=c=black:s=320x240:r=25:d=2", "color=c=white:s=320x240:r=25:d=2"),
        "-filter_complex", "[0:v][1:v]concat=n=2:v=1:a=0[v]", "-map", "[v]",
        *X264, "-g", "1000", "-bf", "0", str(steps),
    )  # fmt: skip
    speech = make_media(root / "speech.wav", audio=sine(300, 22050, 3))
    short_speech = make_media(root / "short_speech.wav", audio=sine(300, 16000, 0.5))
    corrupt = root / "corrupt.mp4"
    corrupt.write_bytes(av.read_bytes()[: av.stat().st_size // 3])
    return {
        "av": av, "portrait": portrait, "steps": steps, "speech": speech,
        "short_speech": short_speech, "corrupt": corrupt,
    }  # fmt: skip


@pytest.fixture
def manager(tmp_path: Path) -> Iterator[TempFileManager]:
    with temp_manager(tmp_path, cleanup_all=True) as mgr:
        yield mgr
    # Nothing left behind once the manager is closed.
    assert list((tmp_path / "tmp").rglob("*")) == []


@pytest.fixture
def scope(manager: TempFileManager) -> Iterator[TempScope]:
    with manager.scope("job") as job:
        yield job
    assert not job.path.exists()


@pytest.fixture
def editor(scope: TempScope) -> VideoEditor:
    return VideoEditor(scope, fmt=FMT)




SCENE_LINE = "Don't worry, I'll figure it out by myself."
SCENE_CUES = (
    SceneCue(0.6, 2.4, SCENE_LINE, "걱정 마, 내가 알아서 해결할게.", ((16, 29),)),
    SceneCue(2.6, 3.6, "See you tomorrow.", "내일 봐."),
)


def _changed(a: bytes, b: bytes, *, rows: tuple[int, int] = (0, FMT.height)) -> int:
    """Pixels of a band of rows that differ clearly between two gray frames (drawn text)."""
    start, end = rows[0] * FMT.width, rows[1] * FMT.width
    return sum(1 for x, y in zip(a[start:end], b[start:end], strict=True) if abs(x - y) > 60)


# -- cut_clip ---------------------------------------------------------------


def test_cut_clip_is_normalised_and_inside_the_scope(
    editor: VideoEditor, scope: TempScope, media: dict[str, Path]
) -> None:
    clip = editor.cut_clip(media["av"], 1.0, 3.5)
    assert clip.path.parent == scope.path
    assert _files(scope) == [clip.path]
    assert (clip.frames, clip.seconds, clip.format) == (63, 2.52, FMT)
    _assert_normalised(clip, 2.5)
    durations = _stream_durations(clip)
    assert durations["video"] == pytest.approx(2.5, abs=FRAME)
    assert durations["audio"] == pytest.approx(2.5, abs=SLACK)


def test_cut_is_frame_accurate_not_snapped_to_a_keyframe(
    editor: VideoEditor, media: dict[str, Path]
) -> None:
    clip = editor.cut_clip(media["steps"], 1.6, 2.4)
    frames = _gray_frames(clip, FMT.width, FMT.height)
    means = [sum(f) / len(f) for f in frames]
    assert len(frames) == 20
    # 0.4 s of black (10 frames), then white.
    assert all(m < 40 for m in means[:10]), means
    assert all(m > 200 for m in means[10:]), means


def test_source_without_audio_gets_silence_and_is_padded_to_size(
    editor: VideoEditor, media: dict[str, Path]
) -> None:
    clip = editor.cut_clip(media["portrait"], 0.0, 1.0)
    _assert_normalised(clip, 1.0)
    # Portrait 120x240 into 320x240 keeps its aspect: black bars left and right.
    frame = _gray_frames(clip, FMT.width, FMT.height)[5]
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
    _assert_normalised(editor.cut_clip(media["av"], start, end), expected)


@pytest.mark.parametrize(("start", "end"), [(5.0, 6.0), (2.0, 2.0), (3.0, 1.0), (3.99, 10.0)])
def test_empty_range_is_a_clear_error(
    editor: VideoEditor, scope: TempScope, media: dict[str, Path], start: float, end: float
) -> None:
    with pytest.raises(FFmpegError, match=r"is empty once clamped .* check the subtitle times"):
        editor.cut_clip(media["av"], start, end)
    assert _files(scope) == []


def test_corrupt_input_quotes_ffmpeg_and_leaves_nothing(
    editor: VideoEditor, scope: TempScope, media: dict[str, Path]
) -> None:
    with pytest.raises(FFmpegError) as info:
        editor.cut_clip(media["corrupt"], 0.0, 1.0)
    message = str(info.value)
    assert str(media["corrupt"]) in message
    assert "moov atom not found" in message or "Invalid data found" in message
    assert _files(scope) == []


def test_encoder_failure_quotes_ffmpeg_and_releases_the_output(
    scope: TempScope, media: dict[str, Path]
) -> None:
    editor = VideoEditor(scope, fmt=OutputFormat(width=320, height=240, preset="no-such-preset"))
    with pytest.raises(FFmpegError, match="no-such-preset") as info:
        editor.cut_clip(media["av"], 0.0, 1.0)
    assert "exit code" in str(info.value)
    assert _files(scope) == []


def test_cancel_mid_encode_kills_ffmpeg_and_leaves_nothing(
    scope: TempScope, media: dict[str, Path]
) -> None:
    token = CancelToken()
    seen: list[int] = []
    grown: list[int] = []

    def cancel_mid_encode() -> None:
        end = time.monotonic() + 20
        while time.monotonic() < end:
            pids = child_pids("ffmpeg")
            outputs = [p for p in scope.path.glob("card_*.mp4") if p.stat().st_size > 0]
            if pids and outputs:  # ffmpeg runs and has started writing
                seen.extend(pids)
                grown.append(outputs[0].stat().st_size)
                break
            time.sleep(0.02)
        token.cancel("job cancelled")

    # A long card at a slow preset: minutes of work unless it is stopped.
    slow = OutputFormat(width=1280, height=720, preset="veryslow")
    editor = VideoEditor(scope, fmt=slow, cancel=token)
    thread = threading.Thread(target=cancel_mid_encode, daemon=True)
    thread.start()
    started = time.monotonic()
    with pytest.raises(CancelledError, match="job cancelled"):
        editor.card(CardText("a long card", line="nobody waits for this"), duration=600.0)
    thread.join(5)
    assert time.monotonic() - started < 20
    assert seen and grown, "ffmpeg was never seen writing"
    assert child_pids("ffmpeg") == []
    assert all(not Path(f"/proc/{pid}").exists() for pid in seen)
    assert _files(scope) == [], "the card and its ASS file are released"


def test_timeout_kills_ffmpeg_and_leaves_nothing(scope: TempScope, media: dict[str, Path]) -> None:
    slow = OutputFormat(width=1280, height=720, preset="veryslow")
    editor = VideoEditor(scope, fmt=slow, tools=FFmpegTools(timeout=0.5))
    with pytest.raises(FFmpegError, match="timed out after 0.5 s"):
        editor.card(CardText("too slow", line="for the timeout"), duration=600.0)
    assert child_pids("ffmpeg") == []
    assert _files(scope) == []


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
        scene = editor.cut_scene(media["av"], context=(0.3, 3.7), clip=(1.1, 2.6), subtitles=SCENE_CUES)
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
        durations = _stream_durations(piece)
        assert durations["video"] == pytest.approx(piece.seconds, abs=1e-3)
        # Sample-exact audio: AAC only rounds its length to a thousandth.
        assert durations["audio"] == pytest.approx(piece.seconds, abs=2e-3)
        _assert_normalised(piece, piece.seconds, fmt)
    # The expression clip is the very frames of the context (the same bits), subtitles and all.
    context = _gray_frames(scene.context, fmt.width, fmt.height)
    clip = _gray_frames(scene.clip, fmt.width, fmt.height)
    assert len(context) == scene.context.frames and len(clip) == scene.clip.frames
    lead = clip_first - first
    for index in (0, len(clip) // 2, len(clip) - 1):
        diff = sum(abs(a - b) for a, b in zip(clip[index], context[lead + index], strict=True)) / len(clip[index])
        assert diff == 0, f"clip frame {index} is not context frame {lead + index}"
    # Only the scene's ASS file was temporary; the two clips stay.
    assert _files(scope) == sorted(scene.files)


def test_subtitles_are_burned_at_their_times_and_style_none_burns_nothing(
    editor: VideoEditor, scope: TempScope, media: dict[str, Path]
) -> None:
    burned = editor.cut_scene(media["av"], context=(0.0, 3.0), clip=(0.8, 2.0), subtitles=SCENE_CUES)
    plain = editor.cut_scene(media["av"], context=(0.0, 3.0), clip=(0.8, 2.0), subtitles=SCENE_CUES, style="none")
    band = (150, 240)  # the lower part of the 240-line frame, where subtitles sit
    with_text = _gray_frames(burned.context, FMT.width, FMT.height)
    without = _gray_frames(plain.context, FMT.width, FMT.height)
    # Frame 5 (0.2 s) is before the first cue (0.6 s); frame 40 (1.6 s) is inside it.
    assert _changed(with_text[5], without[5]) < 20
    assert _changed(with_text[40], without[40], rows=band) > 300
    assert _changed(with_text[40], without[40], rows=(0, 150)) < 20, "the text stays in the lower part"
    clip = _gray_frames(burned.clip, FMT.width, FMT.height)
    assert _changed(clip[5], without[25], rows=band) > 300, "the repeat shows the line too"
    assert _files(scope) == sorted([*burned.files, *plain.files])


def test_a_scene_can_bring_its_thumbnail_from_the_same_decode(
    editor: VideoEditor, scope: TempScope, media: dict[str, Path], tmp_path: Path
) -> None:
    scene = editor.cut_scene(
        media["av"], context=(0.0, 3.0), clip=(0.8, 2.0), subtitles=SCENE_CUES,
        thumbnail=ThumbnailText("figure out", "PHRASAL VERB"),
    )  # fmt: skip
    assert scene.thumbnail is not None and scene.thumbnail.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert _files(scope) == sorted(scene.files), "the overlays are gone, the clips and the PNG kept"
    frame = frame_rgb(scene.thumbnail, 0)
    assert (frame.width, frame.height) == (1280, 720)
    text = ocr(scene.thumbnail, langs="eng", upscale=1, crop=(0, 400, 1280, 320), white_only=True)
    assert word_match_ratio("figure out", text) == 1.0, text
    # Drawn on the frame as shot: the scene's own subtitles are not on it.
    assert word_match_ratio("worry myself", text) == 0.0, text


def test_a_failed_scene_leaves_nothing(scope: TempScope, media: dict[str, Path]) -> None:
    editor = VideoEditor(scope, fmt=FMT.model_copy(update={"preset": "no-such-preset"}))
    with pytest.raises(FFmpegError, match="no-such-preset"):
        editor.cut_scene(
            media["av"], context=(0.0, 3.0), clip=(0.8, 2.0), subtitles=SCENE_CUES, thumbnail=ThumbnailText("x")
        )
    assert _files(scope) == [], "no clip, no PNG, no ASS file is left"


@pytest.mark.parametrize("clip", [(0.5, 2.5), (1.0, 1.6), (1.4, 2.0)], ids=["whole", "at-start", "at-end"])
def test_an_expression_clip_may_share_an_edge_with_its_scene(
    scope: TempScope, media: dict[str, Path], clip: tuple[float, float]
) -> None:
    editor = VideoEditor(scope, fmt=FMT.replace(preset="veryfast"))
    scene = editor.cut_scene(media["av"], context=(1.0, 2.0), clip=clip)
    first, last = max(round(clip[0] * 25), 25), min(round(clip[1] * 25), 50)
    assert scene.clip.frames == last - first
    context = _gray_frames(scene.context, FMT.width, FMT.height)
    frames = _gray_frames(scene.clip, FMT.width, FMT.height)
    assert frames == context[first - 25 : last - 25]
    assert _stream_durations(scene.clip)["audio"] == pytest.approx(scene.clip.seconds, abs=2e-3)


def test_an_expression_clip_outside_its_scene_is_a_clear_error(
    editor: VideoEditor, scope: TempScope, media: dict[str, Path]
) -> None:
    with pytest.raises(FFmpegError, match="holds no frame of its scene"):
        editor.cut_scene(media["av"], context=(0.0, 1.0), clip=(2.0, 3.0))
    assert _files(scope) == []


# -- card -------------------------------------------------------------------

CARD = CardText(
    "hit the sack", kind="idiom", level="beginner", meaning="to go to bed",
    line='I\'m beat: "100%" done, let\'s [hit the sack]; ok\\ %{pts} {\\b1} \\n',
    translation="나는 피곤해: \"이제\" 자러 갈게 100%",
)  # fmt: skip


def test_a_card_is_drawn_by_libass_from_a_file_on_its_background(
    editor: VideoEditor, scope: TempScope, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="langflix.core.process"):
        card = editor.card(CARD, duration=2.0)
    encode = next(r.getMessage() for r in caplog.records if "libx264" in r.getMessage())
    assert "ass=filename=" in encode and "drawtext" not in encode
    assert "hit the sack" not in encode and "피곤해" not in encode, "the text reaches libass through a file"
    assert card.frames == 50
    _assert_normalised(card, 2.0)
    assert _files(scope) == [card.path], "the ASS file was only needed for the encode"
    frames = _gray_frames(card, FMT.width, FMT.height)
    background = round(0.299 * 0x1B + 0.587 * 0x24 + 0.114 * 0x40)
    assert abs(frames[10][5] - background) < 8, "the corner shows the card's background"
    assert CARD_BACKGROUND == "#1B2440"
    # Text was drawn: many pixels far from the plain background.
    assert sum(1 for px in frames[10] if abs(px - background) > 60) > 500


def test_a_card_speech_is_padded_to_the_duration(editor: VideoEditor, media: dict[str, Path]) -> None:
    card = editor.card(CARD, duration=2.0, speech=probe(media["short_speech"]))
    _assert_normalised(card, 2.0)
    durations = _stream_durations(card)
    assert durations["audio"] == pytest.approx(2.0, abs=SLACK)
    assert durations["video"] == pytest.approx(2.0, abs=FRAME)


def test_a_card_is_lengthened_so_speech_is_never_cut(editor: VideoEditor, media: dict[str, Path]) -> None:
    card = editor.card(CARD, duration=1.0, speech=probe(media["speech"]))
    # 3 s of speech plus the short tail of silence after it.
    assert card.seconds == pytest.approx(3.4)
    _assert_normalised(card, 3.4)


def test_a_card_refuses_speech_without_sound(
    editor: VideoEditor, scope: TempScope, media: dict[str, Path]
) -> None:
    with pytest.raises(FFmpegError, match="has no audio stream"):
        editor.card(CARD, duration=1.0, speech=probe(media["portrait"]))
    assert _files(scope) == []


# -- educational_video and concat ------------------------------------------------


def test_educational_video_joins_without_reencoding(
    editor: VideoEditor, scope: TempScope, media: dict[str, Path], caplog: pytest.LogCaptureFixture
) -> None:
    card = editor.card(CardText("break the ice", line="Let's break the ice."), duration=1.5)
    scene = editor.cut_scene(media["av"], context=(0.5, 3.0), clip=(1.0, 2.0))
    with caplog.at_level(logging.DEBUG, logger="langflix.core.process"):
        video = editor.educational_video(
            title_card=card, context_clip=scene.context, expression_clip=scene.clip, repeat=3
        )
    commands = [r.getMessage() for r in caplog.records if r.getMessage().startswith("run: ")]
    assert len(commands) == 1, "the editor's own pieces are joined without probing them"
    assert "-f concat" in commands[0] and "-c copy" in commands[0]
    assert "libx264" not in commands[0]

    # Whole frames, halves rounded up: a 1.5 s card is 38 frames; 0.5-3.0 s is
    # frames 13..74 (frame 12 straddles 0.5 s), 62 frames.
    pieces = [1.52, 2.48, 1.0, 1.0, 1.0]
    assert [probe(p.path).duration for p in (card, scene.context, scene.clip)] == pytest.approx(
        pieces[:3], abs=1e-3
    )
    assert video.frames == 38 + 62 + 3 * 25
    # The sum of the pieces, plus at most one AAC priming: no drift per join.
    _assert_normalised(video, sum(pieces), tol=0.03)
    assert video.path.parent == scope.path
    # Pieces stay (the caller may reuse them); the concat list is gone.
    assert _files(scope) == sorted([card.path, *scene.files, video.path])
    # The join decodes cleanly end to end: every frame is there.
    frames = _gray_frames(video, FMT.width, FMT.height)
    assert len(frames) == 38 + 62 + 3 * 25


def test_educational_video_needs_at_least_one_repeat(editor: VideoEditor, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="repeat must be >= 1"):
        editor.educational_video(title_card=tmp_path, context_clip=tmp_path,
                                 expression_clip=tmp_path, repeat=0)  # fmt: skip


@pytest.mark.parametrize(("fps", "preset"), [(12, "ultrafast"), (25, "ultrafast"), (30, "ultrafast"), (30, "veryfast")])
def test_lessons_join_into_a_compilation_at_any_frame_rate(
    scope: TempScope, media: dict[str, Path], fps: int, preset: str
) -> None:
    """Lessons of awkward lengths (cuts that straddle frames) join at 12, 25 and 30 fps."""
    fmt = FMT.replace(fps=fps, preset=preset)
    editor = VideoEditor(scope, fmt=fmt)
    card = editor.card(CardText("a", line="b"), duration=1.0)
    lessons = []
    for context, clip in (((0.0, 3.2), (0.3, 2.9)), ((0.37, 3.61), (1.04, 2.63))):
        scene = editor.cut_scene(media["av"], context=context, clip=clip, subtitles=SCENE_CUES)
        lessons.append(
            editor.educational_video(title_card=card, context_clip=scene.context, expression_clip=scene.clip, repeat=2)
        )
    for lesson in lessons:
        info = probe(lesson.path)
        assert info.fps == pytest.approx(fps, abs=0.01), "the average frame rate of a join is the format's"
        assert len(_gray_frames(lesson, fmt.width, fmt.height)) == lesson.frames, "no frame lost or doubled"
    # Joined again by path: each lesson is probed and accepted (the bug refused them at 12 and 30 fps).
    compilation = editor.concat([lesson.path for lesson in lessons])
    assert compilation.frames == sum(lesson.frames for lesson in lessons)
    _assert_normalised(compilation, compilation.seconds, fmt, tol=0.06)
    assert len(_gray_frames(compilation, fmt.width, fmt.height)) == compilation.frames


def test_concat_refuses_a_piece_in_another_format(
    editor: VideoEditor, scope: TempScope, media: dict[str, Path]
) -> None:
    clip = editor.cut_clip(media["av"], 0.0, 1.0)
    with pytest.raises(FFmpegError, match="cannot be joined without re-encoding") as info:
        editor.concat([clip, media["av"]])
    assert str(media["av"]) in str(info.value)
    assert _files(scope) == [clip.path]


def test_concat_probes_a_piece_of_another_format_even_as_a_piece(
    editor: VideoEditor, scope: TempScope, media: dict[str, Path]
) -> None:
    other = VideoEditor(scope, fmt=FMT.replace(width=160, height=120)).cut_clip(media["av"], 0.0, 1.0)
    with pytest.raises(FFmpegError, match="160x120"):
        editor.concat([editor.cut_clip(media["av"], 0.0, 1.0), other])


def test_concat_of_a_missing_piece_is_an_error(
    editor: VideoEditor, scope: TempScope, tmp_path: Path
) -> None:
    with pytest.raises(FFmpegError, match="no such file"):
        editor.concat([tmp_path / "gone.mp4"])
    assert _files(scope) == []


def test_paths_with_quotes_colons_and_brackets_are_safe(
    tmp_path: Path, media: dict[str, Path]
) -> None:
    # A user-chosen base dir full of filtergraph and ffconcat metacharacters.
    weird = tmp_path / "it's: [a,b]; 100% \\ odd"
    mgr = TempFileManager(base_dir=weird)
    try:
        with mgr.scope("job") as job:
            editor = VideoEditor(job, fmt=FMT)
            card = editor.card(CardText("it's", line="a: b", translation="한국어"), duration=1.0)
            scene = editor.cut_scene(
                media["av"], context=(0.0, 1.0), clip=(0.2, 0.8), subtitles=SCENE_CUES, thumbnail=ThumbnailText("x")
            )
            video = editor.educational_video(
                title_card=card, context_clip=scene.context, expression_clip=scene.clip, repeat=1
            )
            _assert_normalised(video, 1.0 + 1.0 + 0.6)
    finally:
        mgr.cleanup_all()
        mgr.close()


def test_exports() -> None:
    import langflix.core.video_editor as module

    assert module.__all__ == sorted(module.__all__)
    assert all(hasattr(module, name) for name in module.__all__)
