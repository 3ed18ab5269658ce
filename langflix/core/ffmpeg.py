"""Run ffmpeg and ffprobe: argument lists, clear errors, timeouts, cancellation.

Everything here goes through :func:`langflix.core.process.run_process`, so a
failed, timed-out or cancelled run raises :class:`~langflix.errors.FFmpegError`
(or :class:`~langflix.errors.CancelledError`) with ffmpeg's last lines of
stderr, and never leaves an ffmpeg process behind. Which binaries run and how
long they may take is an :class:`FFmpegTools` the caller passes in (made from
``LANGFLIX_FFMPEG_*`` by ``Settings.ffmpeg_tools()``); nothing here reads settings.

Inputs are opened by an allow-list. ffmpeg guesses a file's format from its
bytes, whatever its name: a text file saying ``#EXTM3U`` uploaded as
``video.mp4`` is an HLS playlist, and ffmpeg would read (and a job would cut
and publish) any file it names. So a probe only ever lets ffmpeg pick a demuxer
of :data:`MEDIA_DEMUXERS` (real containers, which name no other file), with
protocols limited to ``file``; anything else is an
:class:`~langflix.errors.UnsupportedMediaError`. What the probe found is kept
in a :class:`MediaInput`, whose :meth:`~MediaInput.args` open the file in every
later run with that demuxer forced, so nothing detects the format again.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from langflix.cancel import CancelToken
from langflix.core.process import run_process, tool_version
from langflix.errors import FFmpegError, UnsupportedMediaError

__all__ = [
    "FFMPEG_INSTALL_HINT",
    "FFmpegTools",
    "MEDIA_DEMUXERS",
    "MediaInfo",
    "MediaInput",
    "SUBTITLE_DEMUXERS",
    "concat_list_args",
    "media_url",
]

FFMPEG_INSTALL_HINT: Final[str] = (
    "install FFmpeg (Debian/Ubuntu: apt-get install ffmpeg; macOS: brew install ffmpeg) "
    "or point LANGFLIX_FFMPEG_BINARY / LANGFLIX_FFPROBE_BINARY at it"
)
_VERSION_PATTERN: Final[str] = r"version\s+(\S+)"

MEDIA_DEMUXERS: Final[frozenset[str]] = frozenset(
    {
        # Video containers users have episodes in (mov covers mp4, m4v, m4a, 3gp;
        # matroska covers mkv, webm, mka; mpeg is .mpg/.vob; asf is wmv/wma).
        "asf", "avi", "dv", "flv", "matroska", "mov", "mpeg", "mpegts", "mxf", "nut", "ogg", "rm", "wtv",
        # Audio containers (text-to-speech answers, audio tracks).
        "aac", "aiff", "flac", "mp3", "w64", "wav",
    }
)  # fmt: skip
"""ffmpeg demuxers an input may be opened with: real containers, none of which names another file.

An allow-list, not a list of the dangerous ones: ffmpeg has some 350 demuxers
and grows more (hls, dash, concat, imf, image sequences, devices, network
session files...); a new one must never be let in by omission."""

SUBTITLE_DEMUXERS: Final[frozenset[str]] = frozenset(
    {
        "aqtitle", "ass", "jacosub", "lrc", "microdvd", "mpl2", "mpsub", "pjs", "realtext", "sami", "scc",
        "srt", "stl", "subviewer", "subviewer1", "vplayer", "webvtt",
    }
)  # fmt: skip
"""ffmpeg demuxers a subtitle file may be opened with: text subtitle formats (vobsub, which opens
the ``.sub`` its index names, is not one of them)."""

_REFUSED_KINDS: Final[dict[str, str]] = {
    "hls": "an HLS playlist",
    "dash": "a DASH manifest",
    "webm_dash_manifest": "a WebM DASH manifest",
    "concat": "an ffconcat list of other files",
    "imf": "an IMF composition naming other files",
    "vobsub": "a VobSub index naming another file",
    "ffmetadata": "an ffmetadata text file",
    "sdp": "an SDP session description (network streams)",
    "image2": "an image",
    "image2pipe": "an image",
    "gif": "a GIF image",
    "tty": "a text file",
}
"""How a refused format is named in an error; anything not here is named by its ffmpeg name."""

_NOT_ON_WHITELIST: Final[str] = "Format not on whitelist"
_PROBED_FORMAT: Final[re.Pattern[str]] = re.compile(r"Format (\S+) probed with size")


@dataclass(frozen=True)
class MediaInput:
    """A file ffmpeg may open, with the demuxer its probe found (one of the allow-lists).

    Made by :meth:`FFmpegTools.probe` (``MediaInfo.input``) or
    :meth:`FFmpegTools.subtitle_input`; building one by hand with a demuxer off
    the allow-lists is a ValueError, so a playlist can never be opened through it.
    """

    path: Path
    demuxer: str

    def __post_init__(self) -> None:
        if self.demuxer not in MEDIA_DEMUXERS | SUBTITLE_DEMUXERS:
            raise ValueError(
                f"{self.demuxer!r} is not a demuxer LangFlix opens inputs with; "
                "use one of MEDIA_DEMUXERS or SUBTITLE_DEMUXERS (probe the file to get its own)"
            )

    def args(self) -> list[str]:
        """The input options and ``-i``: the demuxer forced, protocols limited to the file itself.

        ``-f`` skips format detection (the bytes are never guessed again);
        ``-format_whitelist`` and ``-protocol_whitelist`` refuse any other format
        or protocol, even one a demuxer would open on its own. Put seek options
        (``-ss``) before these, as for any ffmpeg input.
        """
        return [
            "-protocol_whitelist", "file", "-format_whitelist", self.demuxer,
            "-f", self.demuxer, "-i", media_url(self.path),
        ]  # fmt: skip


def concat_list_args(listing: Path, *, pieces: str = "mov") -> list[str]:
    """Input options for an ffconcat list LangFlix wrote itself, naming its own ``pieces`` files.

    The only list ffmpeg is ever given. ``-safe 0`` because it names absolute
    paths (inside a job's scope); the pieces are opened with the list's
    whitelists, so they too can only be ``pieces`` files on the local disk.
    """
    if pieces not in MEDIA_DEMUXERS:
        raise ValueError(f"{pieces!r} is not one of MEDIA_DEMUXERS")
    return [
        "-protocol_whitelist", "file", "-format_whitelist", f"concat,{pieces}",
        "-f", "concat", "-safe", "0", "-i", media_url(listing),
    ]  # fmt: skip


@dataclass(frozen=True)
class MediaInfo:
    """What the editor needs to know about a media file, from one ffprobe call."""

    path: Path
    demuxer: str
    """The allow-listed demuxer ffprobe opened it with; :attr:`input` forces it in later runs."""
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

    @property
    def input(self) -> MediaInput:
        """This file as an ffmpeg input, with its probed demuxer forced."""
        return MediaInput(self.path, self.demuxer)


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
        """Describe ``path`` (streams, size, frame rate, duration, demuxer) with ffprobe's JSON output.

        Only the demuxers of :data:`MEDIA_DEMUXERS` may open it, over the
        ``file`` protocol alone: a playlist, a list of other files, an image or
        any other format is an :class:`~langflix.errors.UnsupportedMediaError`
        naming what it is, and ffprobe never reads a file it names. Anything
        else unreadable raises FFmpegError("<file> is not a readable media
        file: ...") quoting ffprobe's own reason.
        """
        path = Path(path)
        limit = self.probe_timeout if timeout is None else timeout
        result = self._ffprobe(path, MEDIA_DEMUXERS, ["-show_format", "-show_streams"], limit, "media")
        try:
            data = json.loads(result)
        except ValueError as exc:
            raise FFmpegError(f"{path} is not a readable media file: ffprobe printed no valid JSON") from exc
        return _media_info(path, data)

    def subtitle_input(self, path: Path, *, timeout: float | None = None) -> MediaInput | None:
        """``path`` as ffmpeg may open it as subtitles, or None when ffmpeg does not recognise it.

        A file ffmpeg reads as anything but a text subtitle format
        (:data:`SUBTITLE_DEMUXERS`) is an UnsupportedMediaError: a "subtitle"
        that is really a playlist must never reach ffmpeg. None means ffmpeg
        cannot read it (LangFlix's own parser may still); such a file must not be
        given to ffmpeg at all.
        """
        path = Path(path)
        limit = self.probe_timeout if timeout is None else timeout
        self._check_runnable(path, "subtitle")
        try:
            result = self._ffprobe(path, SUBTITLE_DEMUXERS, ["-show_format"], limit, "subtitle")
        except FFmpegError:  # not recognised; UnsupportedMediaError (recognised as a playlist...) goes up
            return None
        try:
            fmt = str(json.loads(result)["format"]["format_name"])
        except (ValueError, KeyError, TypeError):
            return None
        return MediaInput(path, _allowed_name(fmt, SUBTITLE_DEMUXERS))

    def _ffprobe(self, path: Path, allowed: frozenset[str], show: list[str], timeout: float, what: str) -> bytes:
        """ffprobe's JSON about ``path``, opened only by an ``allowed`` demuxer over ``file``."""
        self._check_runnable(path, what)
        whitelist = ["-protocol_whitelist", "file", "-format_whitelist", ",".join(sorted(allowed))]
        cmd = [self.ffprobe, "-v", "error", *whitelist, "-print_format", "json", *show, media_url(path)]
        try:
            return run_process(cmd, timeout=timeout, error_cls=FFmpegError).stdout
        except FFmpegError as exc:
            reason = _reason(exc)
            if _NOT_ON_WHITELIST in reason:
                raise self._refusal(path, whitelist, timeout, what) from exc
            raise FFmpegError(f"{path} is not a readable {what} file: {reason}") from exc

    def _check_runnable(self, path: Path, what: str) -> None:
        if not path.is_file():
            raise FFmpegError(f"{path} is not a readable {what} file: no such file")
        # Check first so a missing ffprobe is not reported as a bad input file.
        if shutil.which(self.ffprobe) is None:
            raise FFmpegError(f"{self.ffprobe} is not installed: {FFMPEG_INSTALL_HINT}")

    def _refusal(self, path: Path, whitelist: list[str], timeout: float, what: str) -> UnsupportedMediaError:
        """The error for a file ffmpeg recognised as a format off the allow-list, naming that format.

        The format's name is only in ffprobe's debug log; this second run keeps
        the same whitelists, so it too stops right after recognising the format.
        """
        cmd = [self.ffprobe, "-v", "debug", *whitelist, media_url(path)]
        try:
            run_process(cmd, timeout=timeout, error_cls=FFmpegError)
            fmt = None  # cannot happen: the whitelist refused it a moment ago
        except FFmpegError as exc:
            match = _PROBED_FORMAT.search(getattr(exc, "stderr_tail", ""))
            fmt = match.group(1) if match else None
        kind = _describe_format(fmt)
        expected = "video or audio" if what == "media" else "subtitle"
        return UnsupportedMediaError(
            f"{path} is {kind}, not a {expected} file; LangFlix opens only real {expected} files "
            f"(a playlist or a list would make ffmpeg read the files it names): give the {expected} file itself"
        )

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


def _describe_format(fmt: str | None) -> str:
    if fmt is None:
        return "of a format LangFlix does not open"
    kind = _REFUSED_KINDS.get(fmt) or ("an image" if fmt.endswith("_pipe") else None)
    return f"{kind} (ffmpeg format {fmt!r})" if kind else f"a file ffmpeg reads as {fmt!r}"


def _allowed_name(format_name: str, allowed: frozenset[str]) -> str:
    """The name of ffprobe's ``format_name`` ("mov,mp4,m4a,...") that is on the allow-list."""
    for name in format_name.split(","):
        if name in allowed:
            return name
    raise FFmpegError(f"ffprobe opened a file with {format_name!r}, which is not allowed")


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
        demuxer=_allowed_name(str((data.get("format") or {}).get("format_name", "")), MEDIA_DEMUXERS),
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
