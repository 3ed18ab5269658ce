"""Run ffmpeg and ffprobe: argument lists, clear errors, timeouts, cancellation.

Everything here goes through :func:`langflix.core.process.run_process`, so a
failed, timed-out or cancelled run raises :class:`~langflix.errors.FFmpegError`
(or :class:`~langflix.errors.CancelledError`) with ffmpeg's last lines of
stderr, and never leaves an ffmpeg process behind. Which binaries run and how
long they may take is an :class:`FFmpegTools` the caller passes in (made from
``LANGFLIX_FFMPEG_*`` by ``Settings.ffmpeg_tools()``); nothing here reads settings.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from langflix.cancel import CancelToken
from langflix.core.process import run_process, tool_version
from langflix.errors import FFmpegError

__all__ = [
    "FFMPEG_INSTALL_HINT",
    "FFmpegTools",
    "MediaInfo",
    "media_url",
]

FFMPEG_INSTALL_HINT: Final[str] = (
    "install FFmpeg (Debian/Ubuntu: apt-get install ffmpeg; macOS: brew install ffmpeg) "
    "or point LANGFLIX_FFMPEG_BINARY / LANGFLIX_FFPROBE_BINARY at it"
)
_VERSION_PATTERN: Final[str] = r"version\s+(\S+)"


@dataclass(frozen=True)
class MediaInfo:
    """What the editor needs to know about a media file, from one ffprobe call."""

    path: Path
    duration: float
    has_video: bool
    has_audio: bool
    width: int | None
    height: int | None
    fps: float | None
    video_codec: str | None
    audio_codec: str | None
    sample_rate: int | None
    video_duration: float | None = None
    """The video stream's own length (``duration`` is the longest stream's), when the container says."""
    frame_rate: float | None = None
    """The rate the video is coded at (``r_frame_rate``); ``fps`` is the average, which a gap lowers."""


@dataclass(frozen=True, kw_only=True)
class FFmpegTools:
    """The ffmpeg and ffprobe a job runs, and how long each run may take.

    ``timeout`` bounds every ffmpeg run, so a hung ffmpeg can never block a job
    forever; ``probe_timeout`` bounds every ffprobe.
    """

    ffmpeg: str = "ffmpeg"
    ffprobe: str = "ffprobe"
    timeout: float = 1800.0
    probe_timeout: float = 60.0

    def __post_init__(self) -> None:
        if not (self.timeout > 0 and self.probe_timeout > 0):
            raise ValueError(f"ffmpeg timeouts must be positive, got {self.timeout} and {self.probe_timeout}")

    def run(self, args: Sequence[str], *, timeout: float | None = None, cancel: CancelToken | None = None) -> None:
        """Run ``ffmpeg -hide_banner -nostdin -y -loglevel error <args>``.

        ``timeout`` None means :attr:`timeout`. ``-nostdin`` keeps ffmpeg from
        stealing the terminal (and from stopping on SIGTTIN in the background).
        """
        cmd = [self.ffmpeg, "-hide_banner", "-nostdin", "-y", "-loglevel", "error", *map(str, args)]
        run_process(
            cmd,
            timeout=self.timeout if timeout is None else timeout,
            cancel=cancel,
            error_cls=FFmpegError,
            install_hint=FFMPEG_INSTALL_HINT,
        )

    def probe(self, path: Path, *, timeout: float | None = None) -> MediaInfo:
        """Describe ``path`` (streams, size, frame rate, duration) with ffprobe's JSON output.

        Raises FFmpegError("<file> is not a readable media file: ...") for anything
        that is not audio or video, quoting ffprobe's own reason.
        """
        path = Path(path)
        if not path.is_file():
            raise FFmpegError(f"{path} is not a readable media file: no such file")
        # Check first so a missing ffprobe is not reported as a bad input file.
        if shutil.which(self.ffprobe) is None:
            raise FFmpegError(f"{self.ffprobe} is not installed: {FFMPEG_INSTALL_HINT}")
        cmd = [
            self.ffprobe, "-v", "error", "-print_format", "json",
            "-show_format", "-show_streams", media_url(path),
        ]  # fmt: skip
        try:
            result = run_process(
                cmd, timeout=self.probe_timeout if timeout is None else timeout, error_cls=FFmpegError
            )
        except FFmpegError as exc:
            raise FFmpegError(f"{path} is not a readable media file: {_reason(exc)}") from exc
        try:
            data = json.loads(result.stdout)
        except ValueError as exc:
            raise FFmpegError(f"{path} is not a readable media file: ffprobe printed no valid JSON") from exc
        return _media_info(path, data)

    def versions(self) -> dict[str, str | None]:
        """Versions of ffmpeg and ffprobe (None when missing), for /health."""
        return {
            "ffmpeg": tool_version([self.ffmpeg, "-version"], _VERSION_PATTERN),
            "ffprobe": tool_version([self.ffprobe, "-version"], _VERSION_PATTERN),
        }


def media_url(path: Path) -> str:
    """``path`` as an ffmpeg input/output name that cannot be misread.

    A relative name like ``-x.mp4`` would be taken for an option and ``a:b.mp4``
    for a protocol; ``file:`` plus the absolute path is always just a file.
    """
    return "file:" + str(Path(path).absolute())


def _reason(exc: FFmpegError) -> str:
    """ffprobe's own words (the stderr tail), without the long command line."""
    tail = getattr(exc, "stderr_tail", "")
    return tail or str(exc)


def _media_info(path: Path, data: dict[str, Any]) -> MediaInfo:
    streams = data.get("streams") or []
    # Cover art in audio files is a "video" stream with attached_pic set: not a video.
    videos = [
        s
        for s in streams
        if s.get("codec_type") == "video" and not (s.get("disposition") or {}).get("attached_pic")
    ]
    audios = [s for s in streams if s.get("codec_type") == "audio"]
    if not videos and not audios:
        raise FFmpegError(f"{path} is not a readable media file: it has no audio or video stream")
    video = videos[0] if videos else None
    audio = audios[0] if audios else None

    duration = _float((data.get("format") or {}).get("duration"))
    if duration is None:
        durations = [d for s in (*videos, *audios) if (d := _float(s.get("duration"))) is not None]
        duration = max(durations, default=None)
    if duration is None or duration <= 0:
        raise FFmpegError(
            f"{path} is not a readable media file: ffprobe reports no duration "
            "(an unfinished recording or a live stream?); remux it with ffmpeg -c copy"
        )
    return MediaInfo(
        path=path,
        duration=duration,
        has_video=video is not None,
        has_audio=audio is not None,
        width=_int(video.get("width")) if video else None,
        height=_int(video.get("height")) if video else None,
        fps=_rate(video) if video else None,
        video_codec=video.get("codec_name") if video else None,
        audio_codec=audio.get("codec_name") if audio else None,
        sample_rate=_int(audio.get("sample_rate")) if audio else None,
        video_duration=_float(video.get("duration")) if video else None,
        frame_rate=_rate(video, ("r_frame_rate",)) if video else None,
    )


def _rate(stream: dict[str, Any], keys: tuple[str, ...] = ("avg_frame_rate", "r_frame_rate")) -> float | None:
    for key in keys:
        value = stream.get(key)
        if isinstance(value, str) and "/" in value:
            num, _, den = value.partition("/")
            try:
                n, d = float(num), float(den)
            except ValueError:
                continue
            if n > 0 and d > 0:
                return n / d
    return None


def _float(value: object) -> float | None:
    if not isinstance(value, (int, float, str)):
        return None
    try:
        return float(value)
    except ValueError:
        return None


def _int(value: object) -> int | None:
    if not isinstance(value, (int, float, str)):
        return None
    try:
        return int(value)
    except ValueError:
        return None
