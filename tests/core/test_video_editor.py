"""Tests for langflix.core.video_editor: real ffmpeg, tiny generated media, real scopes."""

from __future__ import annotations

import logging
import re
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.media import X264, ffmpeg, lavfi, make_media, pattern, sine
from support.procs import child_pids
from support.temp import temp_manager

from langflix.cancel import CancelToken
from langflix.core.ffmpeg import FFmpegTools
from langflix.core.output_format import OutputFormat
from langflix.core.video_editor import VideoEditor, find_font
from langflix.errors import CancelledError, FFmpegError
from langflix.temp import TempFileManager, TempScope

pytestmark = pytest.mark.slow

probe = FFmpegTools().probe

FMT = OutputFormat(width=320, height=240, fps=25, sample_rate=44100, preset="ultrafast")
FRAME = 1 / FMT.fps
# AAC writes whole 1024-sample frames, so audio may run up to one frame longer.
SLACK = 0.06


def _gray_frames(video: Path, width: int, height: int) -> list[bytes]:
    """Every decoded frame of ``video`` (none duplicated) as 8-bit gray pixels."""
    raw = subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-i", str(video), "-fps_mode",
         "passthrough", "-f", "rawvideo", "-pix_fmt", "gray", "-"],
        capture_output=True, check=True, timeout=60,
    ).stdout  # fmt: skip
    size = width * height
    return [raw[i : i + size] for i in range(0, len(raw), size)]


def _stream_durations(video: Path) -> dict[str, float]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "stream=codec_type,duration",
         "-of", "csv=p=0", str(video)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return {kind: float(d) for kind, d in (line.split(",") for line in out.split())}


def _files(scope: TempScope) -> list[Path]:
    return sorted(p for p in scope.path.rglob("*"))


def _assert_normalised(
    path: Path, duration: float, fmt: OutputFormat = FMT, *, tol: float = SLACK
) -> float:
    info = probe(path)
    assert (info.has_video, info.has_audio) == (True, True)
    assert (info.width, info.height) == (fmt.width, fmt.height)
    # A join keeps each piece's AAC priming (~23 ms), which nudges the average.
    assert info.fps == pytest.approx(fmt.fps, rel=1e-3)
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


# -- cut_clip ---------------------------------------------------------------


def test_cut_clip_is_normalised_and_inside_the_scope(
    editor: VideoEditor, scope: TempScope, media: dict[str, Path]
) -> None:
    clip = editor.cut_clip(media["av"], 1.0, 3.5)
    assert clip.parent == scope.path
    assert _files(scope) == [clip]
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
    assert len(frames) == pytest.approx(20, abs=1)
    # 0.4 s of black (10 frames), then white; allow one frame of rounding.
    assert all(m < 40 for m in means[:9]), means
    assert all(m > 200 for m in means[11:]), means


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
        ["ffmpeg", "-nostdin", "-i", str(clip), "-map", "0:a", "-af", "volumedetect",
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
        editor.title_card("a long card", "nobody waits for this", duration=600.0)
    thread.join(5)
    assert time.monotonic() - started < 20
    assert seen and grown, "ffmpeg was never seen writing"
    assert child_pids("ffmpeg") == []
    assert all(not Path(f"/proc/{pid}").exists() for pid in seen)
    assert _files(scope) == []


def test_timeout_kills_ffmpeg_and_leaves_nothing(scope: TempScope, media: dict[str, Path]) -> None:
    slow = OutputFormat(width=1280, height=720, preset="veryslow")
    editor = VideoEditor(scope, fmt=slow, tools=FFmpegTools(timeout=0.5))
    with pytest.raises(FFmpegError, match="timed out after 0.5 s"):
        editor.title_card("too slow", "for the timeout", duration=600.0)
    assert child_pids("ffmpeg") == []
    assert _files(scope) == []


# -- title_card -------------------------------------------------------------


def test_title_card_with_korean_quotes_and_special_characters(
    editor: VideoEditor, scope: TempScope, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="langflix.core.process"):
        card = editor.title_card(
            "hit the sack",
            'I\'m beat: "100%" done, let\'s [hit the sack]; ok\\ %{pts} \\n',
            translation="나는 피곤해: \"이제\" 자러 갈게 100%",
            duration=2.0,
        )
    # The text went through files, not through the filter graph.
    encode = next(r.getMessage() for r in caplog.records if "drawtext=" in r.getMessage())
    assert "textfile=" in encode and "expansion=none" in encode
    assert "hit the sack" not in encode and "피곤해" not in encode
    _assert_normalised(card, 2.0)
    # The text files were only needed for the encode.
    assert _files(scope) == [card]
    frames = _gray_frames(card, FMT.width, FMT.height)
    background = frames[0][0]
    # Text was drawn: many pixels far from the plain background.
    assert sum(1 for px in frames[10] if abs(px - background) > 60) > 500


def test_title_card_draws_each_line_it_is_given(editor: VideoEditor) -> None:
    plain = editor.title_card("x", "", duration=1.0)
    full = editor.title_card("x", "a second line of text", translation="번역", duration=1.0)

    def ink(card: Path) -> int:
        frame = _gray_frames(card, FMT.width, FMT.height)[5]
        return sum(1 for px in frame if px > 150)

    assert ink(full) > ink(plain) + 200


def test_korean_capable_font_is_preferred() -> None:
    font = find_font()
    assert font.is_file()
    if subprocess.run(["fc-list", ":lang=ko"], capture_output=True, text=True).stdout.strip():
        assert "CJK" in font.name or "Nanum" in font.name


def test_title_card_speech_is_padded_to_the_duration(
    editor: VideoEditor, media: dict[str, Path]
) -> None:
    card = editor.title_card("piece of cake", "It was a piece of cake.", duration=2.0,
                             audio=media["short_speech"])  # fmt: skip
    _assert_normalised(card, 2.0)
    durations = _stream_durations(card)
    assert durations["audio"] == pytest.approx(2.0, abs=SLACK)
    assert durations["video"] == pytest.approx(2.0, abs=FRAME)


def test_title_card_is_lengthened_so_speech_is_never_cut(
    editor: VideoEditor, media: dict[str, Path]
) -> None:
    card = editor.title_card("x", "y", duration=1.0, audio=media["speech"])
    # 3 s of speech plus the short tail of silence after it.
    _assert_normalised(card, 3.4)


def test_title_card_rejects_audio_without_sound(
    editor: VideoEditor, scope: TempScope, media: dict[str, Path]
) -> None:
    with pytest.raises(FFmpegError, match="has no audio stream"):
        editor.title_card("x", "y", duration=1.0, audio=media["portrait"])
    assert _files(scope) == []


# -- educational_video and concat ------------------------------------------------


def test_educational_video_joins_without_reencoding(
    editor: VideoEditor, scope: TempScope, media: dict[str, Path], caplog: pytest.LogCaptureFixture
) -> None:
    card = editor.title_card("break the ice", "Let's break the ice.", duration=1.5)
    context = editor.cut_clip(media["av"], 0.5, 3.0)
    expression = editor.cut_clip(media["av"], 1.0, 2.0)
    with caplog.at_level(logging.DEBUG, logger="langflix.core.process"):
        video = editor.educational_video(
            title_card=card, context_clip=context, expression_clip=expression, repeat=3
        )
    commands = [r.getMessage() for r in caplog.records if r.getMessage().startswith("run: ")]
    ffmpeg_runs = [c for c in commands if " -hide_banner " in c]
    assert len(ffmpeg_runs) == 1
    assert "-f concat" in ffmpeg_runs[0] and "-c copy" in ffmpeg_runs[0]
    assert "libx264" not in ffmpeg_runs[0]

    # Whole frames, halves rounded up: a 1.5 s card is 38 frames; 0.5-3.0 s is
    # frames 13..74 (frame 12 straddles 0.5 s), 62 frames.
    pieces = [1.52, 2.48, 1.0, 1.0, 1.0]
    assert [probe(p).duration for p in (card, context, expression)] == pytest.approx(
        pieces[:3], abs=1e-3
    )
    # The sum of the pieces, plus at most one AAC priming: no drift per join.
    _assert_normalised(video, sum(pieces), tol=0.03)
    assert video.parent == scope.path
    # Pieces stay (the caller may reuse them); the concat list is gone.
    assert _files(scope) == sorted([card, context, expression, video])
    # The join decodes cleanly end to end: every frame is there.
    frames = _gray_frames(video, FMT.width, FMT.height)
    assert len(frames) == 38 + 62 + 3 * 25


def test_educational_video_needs_at_least_one_repeat(editor: VideoEditor, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="repeat must be >= 1"):
        editor.educational_video(title_card=tmp_path, context_clip=tmp_path,
                                 expression_clip=tmp_path, repeat=0)  # fmt: skip


def test_concat_compilation_of_educational_videos(
    editor: VideoEditor, scope: TempScope, media: dict[str, Path]
) -> None:
    card = editor.title_card("a", "b", duration=1.0)
    clip = editor.cut_clip(media["av"], 2.0, 3.0)
    first = editor.educational_video(
        title_card=card, context_clip=clip, expression_clip=clip, repeat=1
    )
    second = editor.educational_video(
        title_card=card, context_clip=clip, expression_clip=clip, repeat=2
    )
    compilation = editor.concat([first, second])
    expected = probe(first).duration + probe(second).duration
    _assert_normalised(compilation, expected, tol=0.05)
    _assert_normalised(compilation, 3.0 + 4.0, tol=0.1)
    assert compilation not in (first, second)


def test_concat_refuses_a_piece_in_another_format(
    editor: VideoEditor, scope: TempScope, media: dict[str, Path]
) -> None:
    clip = editor.cut_clip(media["av"], 0.0, 1.0)
    with pytest.raises(FFmpegError, match="cannot be joined without re-encoding") as info:
        editor.concat([clip, media["av"]])
    assert str(media["av"]) in str(info.value)
    assert _files(scope) == [clip]


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
            card = editor.title_card("it's", "a: b", duration=1.0, translation="한국어")
            clip = editor.cut_clip(media["av"], 0.0, 1.0)
            video = editor.educational_video(
                title_card=card, context_clip=clip, expression_clip=clip, repeat=1
            )
            _assert_normalised(video, 3.0)
    finally:
        mgr.cleanup_all()
        mgr.close()


def test_exports() -> None:
    import langflix.core.video_editor as module

    assert module.__all__ == sorted(module.__all__)
    assert all(hasattr(module, name) for name in module.__all__)
