"""What the video editor's tests share: their format, tiny media, and how a piece is checked.

Real ffmpeg on generated media: every check decodes or probes the file itself.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from langflix.core.ffmpeg import FFmpegTools
from langflix.core.output_format import OutputFormat
from langflix.core.subtitle_render import SceneCue
from langflix.core.video_editor import Piece
from langflix.temp import TempArea
from support.media import X264, ffmpeg, lavfi, make_media, pattern, sine

__all__ = [
    "FMT",
    "FRAME",
    "SCENE_CUES",
    "SCENE_LINE",
    "SLACK",
    "assert_normalised",
    "changed",
    "editor_media",
    "gray_frames",
    "scope_files",
    "stream_durations",
]

probe = FFmpegTools().probe

FMT = OutputFormat(width=320, height=240, fps=25, sample_rate=44100, preset="ultrafast")
FRAME = 1 / FMT.fps
# AAC writes whole 1024-sample frames, so audio may run up to one frame longer.
SLACK = 0.06

SCENE_LINE = "Don't worry, I'll figure it out by myself."
SCENE_CUES = (
    SceneCue(0.6, 2.4, SCENE_LINE, "걱정 마, 내가 알아서 해결할게.", ((16, 29),)),
    SceneCue(2.6, 3.6, "See you tomorrow.", "내일 봐."),
)


def _path(piece: Piece | Path) -> Path:
    return piece.path if isinstance(piece, Piece) else piece


def gray_frames(video: Piece | Path, width: int, height: int) -> list[bytes]:
    """Every decoded frame of ``video`` (none duplicated) as 8-bit gray pixels."""
    raw = subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-i", str(_path(video)), "-fps_mode",
         "passthrough", "-f", "rawvideo", "-pix_fmt", "gray", "-"],
        capture_output=True, check=True, timeout=60,
    ).stdout  # fmt: skip
    size = width * height
    return [raw[i : i + size] for i in range(0, len(raw), size)]


def stream_durations(video: Piece | Path) -> dict[str, float]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "stream=codec_type,duration",
         "-of", "csv=p=0", str(_path(video))],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return {kind: float(d) for kind, d in (line.split(",") for line in out.split())}


def scope_files(scope: TempArea) -> list[Path]:
    """Everything inside ``scope``'s directory, sorted."""
    return sorted(p for p in scope.path.rglob("*"))


def assert_normalised(piece: Piece | Path, duration: float, fmt: OutputFormat = FMT, *, tol: float = SLACK) -> float:
    """``piece`` is in ``fmt`` (size, rate, codecs) and lasts ``duration``; its probed duration."""
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


def changed(a: bytes, b: bytes, *, rows: tuple[int, int] = (0, FMT.height)) -> int:
    """Pixels of a band of rows that differ clearly between two gray frames (drawn text)."""
    start, end = rows[0] * FMT.width, rows[1] * FMT.width
    return sum(1 for x, y in zip(a[start:end], b[start:end], strict=True) if abs(x - y) > 60)


def editor_media(root: Path) -> dict[str, Path]:
    """The editor tests' sources, made under ``root``: odd rates, no audio, a late keyframe, speech, a corrupt file."""
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
