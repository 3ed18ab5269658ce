"""Clips, title cards and educational sequences, every byte inside a job's scope.

Each distinct piece (a context clip, an expression clip, a title card) is encoded
exactly once, to one normalised format (:class:`~langflix.core.output_format.OutputFormat`: H.264 yuv420p +
AAC stereo, one size, frame rate and sample rate). Sequences are then joined
with the concat demuxer in copy mode, so repeating a clip costs no encode and
no quality. (Each joined piece keeps its AAC encoder priming, about 23 ms at
44.1 kHz; the concat demuxer places every piece at the previous one's end, so
this never accumulates into drift and every piece stays in sync.) Lengths are
whole frames, and each piece's audio is sample-exact to its video, so joins
line up. The editor keeps no list of temp files: every output is made with
``scope.new_file(...)``, and a half-written output is released when ffmpeg
fails or is cancelled, so the scope only ever holds complete pieces.
"""

from __future__ import annotations

import functools
import logging
import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from langflix.cancel import CancelToken
from langflix.core.ffmpeg import FFmpegTools, MediaInfo, concat_list_args, media_url
from langflix.core.output_format import DEFAULT_FORMAT, OutputFormat
from langflix.core.process import run_process
from langflix.errors import FFmpegError, LangFlixError
from langflix.temp import TempArea

__all__ = ["VideoEditor", "find_font"]

logger = logging.getLogger(__name__)

_SEEK_MARGIN: Final[float] = 5.0
"""Seconds before the cut that the fast (input) seek lands; the rest is decoded exactly."""

_AUDIO_BITRATE: Final[str] = "128k"
_TIMESCALE_PER_FRAME: Final[int] = 512
_CARD_BACKGROUND: Final[str] = "0x1B2440"
_CARD_SPEECH_TAIL: Final[float] = 0.4
"""Silence kept after the spoken expression when a card is lengthened to fit it."""

_FONT_PREFERENCES: Final[tuple[str, ...]] = ("Noto Sans CJK KR", "DejaVu Sans")
_FONT_FALLBACK_FILES: Final[tuple[str, ...]] = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
)
_HANGUL: Final[re.Pattern[str]] = re.compile("[\u1100-\u11ff\u3130-\u318f\uac00-\ud7af]")


@dataclass(frozen=True)
class _TextLine:
    text: str
    size: int
    color: str


class VideoEditor:
    """Makes the pieces of an educational video inside one temp area (a job's scope).

    ``tools`` are the ffmpeg/ffprobe to run and their timeouts; ``cancel`` stops
    a running ffmpeg (it is killed and reaped, its output released).
    """

    def __init__(
        self,
        scope: TempArea,
        *,
        fmt: OutputFormat = DEFAULT_FORMAT,
        tools: FFmpegTools = FFmpegTools(),
        cancel: CancelToken | None = None,
    ) -> None:
        self._scope = scope
        self._fmt = fmt
        self._tools = tools
        self._cancel = cancel

    @property
    def fmt(self) -> OutputFormat:
        return self._fmt

    # -- pieces ---------------------------------------------------------------

    def cut_clip(self, video: Path, start: float, end: float) -> Path:
        """Cut ``[start, end)`` seconds of ``video`` exactly, normalised to the output format.

        The range is clamped to the video; a range that is empty after clamping
        raises FFmpegError. A source without audio gets a silent stereo track, so
        every piece has the same streams and joins without re-encoding.
        """
        info = self._tools.probe(video)
        if not info.has_video:
            raise FFmpegError(
                f"{video} has no video stream: LangFlix needs a video file to cut clips from"
            )
        clamped_start = min(max(start, 0.0), info.duration)
        clamped_end = min(max(end, 0.0), info.duration)
        fps = self._fmt.fps
        # Whole frames, so the video and audio of a piece end together and joins
        # do not drift: the length is rounded to the nearest frame.
        first_frame = _frame_at(clamped_start, fps)
        frames = _frame_at(clamped_end, fps) - first_frame
        if frames < 1:
            raise FFmpegError(
                f"cannot cut {video}: the range {start:.3f}-{end:.3f} s is empty once clamped "
                f"to the video's {info.duration:.3f} s (shorter than one frame); check the "
                "subtitle times against the video"
            )
        if (clamped_start, clamped_end) != (start, end):
            logger.debug(
                "clamped cut %.3f-%.3f to %.3f-%.3f (video is %.3f s)",
                start, end, clamped_start, clamped_end, info.duration,
            )  # fmt: skip

        # Accurate two-step seek: a fast input seek to a whole frame a little
        # before the cut (timestamps then start at 0 there), then trim filters
        # that decode and drop everything up to the exact frame and sample.
        # (A lone input -ss with -c copy would snap to a keyframe.)
        coarse_frame = max(0, first_frame - round(_SEEK_MARGIN * fps))
        args: list[str] = []
        if coarse_frame > 0:
            args += ["-ss", _seconds(coarse_frame / fps)]
        args += info.input.args()  # the probed demuxer forced: the bytes are never guessed again
        if info.has_audio:
            audio_map = "0:a:0"
        else:
            args += ["-f", "lavfi", "-i", self._silence()]
            audio_map = "1:a:0"
        skip = first_frame - coarse_frame
        args += ["-map", "0:v:0", "-map", audio_map]
        args += ["-vf", self._video_filter(skip, frames), "-af", self._audio_filter(skip, frames)]
        return self._encode(args, prefix="clip_")

    def title_card(
        self,
        expression: str,
        line: str,
        *,
        duration: float,
        translation: str | None = None,
        audio: Path | None = None,
    ) -> Path:
        """A plain card showing the expression, its line and translation, with speech.

        Text reaches drawtext through files in the scope (``textfile=``), never
        inline, so quotes, colons, percent signs and Korean are shown as typed.
        Its audio is ``audio`` (the TTS of the expression) padded with silence,
        or silence; when the speech is longer than ``duration`` the card is
        lengthened to fit it, so the speech is never cut off.
        """
        if not math.isfinite(duration) or duration <= 0:
            raise ValueError(f"title card duration must be > 0 s, got {duration}")
        speech: MediaInfo | None = None
        if audio is not None:
            speech = self._tools.probe(audio)
            if not speech.has_audio:
                raise FFmpegError(
                    f"{audio} has no audio stream: expected the speech for the title card"
                )
            duration = max(duration, speech.duration + _CARD_SPEECH_TAIL)
        frames = max(1, _frame_at(duration, self._fmt.fps))

        font = find_font()
        if translation and _HANGUL.search(translation) and "CJK" not in font.name:
            logger.warning(
                "no Korean font found (install fonts-noto-cjk); the translation will show as boxes"
            )
        lines = self._card_lines(expression, line, translation)
        text_files: list[Path] = []
        try:
            size = f"{self._fmt.width}x{self._fmt.height}"
            filters = [f"color=c={_CARD_BACKGROUND}:s={size}:r={self._fmt.fps}"]
            for text_line, y in self._layout(lines):
                text_file = self._scope.new_file(suffix=".txt", prefix="card_text_")
                text_files.append(text_file)
                text_file.write_text(text_line.text, encoding="utf-8")
                filters.append(
                    "drawtext="
                    + ":".join(
                        [
                            f"fontfile={_filter_value(str(font))}",
                            f"textfile={_filter_value(str(text_file))}",
                            # expansion=none: a "%" in a subtitle is text, not a directive.
                            "expansion=none",
                            f"fontsize={text_line.size}",
                            f"fontcolor={text_line.color}",
                            "x=(w-text_w)/2",
                            f"y={y}",
                        ]
                    )
                )
            filters += [f"trim=end_frame={frames}", "format=yuv420p", "setsar=1"]
            args = ["-f", "lavfi", "-i", ",".join(filters)]
            if speech is not None:
                args += speech.input.args()
            else:
                args += ["-f", "lavfi", "-i", self._silence()]
            args += ["-map", "0:v:0", "-map", "1:a:0", "-af", self._audio_filter(0, frames)]
            return self._encode(args, prefix="card_")
        finally:
            # The text files served this one encode; the card no longer needs them.
            for text_file in text_files:
                self._discard(text_file)

    def educational_video(
        self, *, title_card: Path, context_clip: Path, expression_clip: Path, repeat: int
    ) -> Path:
        """Title card, then the scene in context, then the expression ``repeat`` times.

        Joined by stream copy: the expression clip is encoded once however often
        it repeats.
        """
        if repeat < 1:
            raise ValueError(
                f"repeat must be >= 1 (show the expression at least once), got {repeat}"
            )
        return self.concat([title_card, context_clip, *([expression_clip] * repeat)])

    def concat(self, pieces: Sequence[Path]) -> Path:
        """Join pieces made by this editor with the concat demuxer, ``-c copy``.

        Every distinct piece is probed first: a piece in another format would
        make copy mode write a broken file silently, so it is refused by name.
        """
        if not pieces:
            raise ValueError("concat needs at least one piece")
        for piece in dict.fromkeys(Path(p) for p in pieces):
            if "\n" in str(piece) or "\r" in str(piece):
                # ffconcat is line based: such a name would split into two entries.
                raise ValueError(f"cannot join {piece!r}: its name contains a line break")
            self._check_compatible(piece)
        listing = self._scope.new_file(suffix=".ffconcat", prefix="concat_")
        try:
            lines = ["ffconcat version 1.0"]
            lines += [f"file {_concat_quote(str(Path(p).absolute()))}" for p in pieces]
            listing.write_text("\n".join(lines) + "\n", encoding="utf-8")
            # Our own list of our own mp4 pieces (absolute paths inside the scope).
            args = concat_list_args(listing)
            args += ["-map", "0", "-c", "copy"]
            # faststart: the joined video is what users stream; put the index first.
            return self._encode(
                args, prefix="joined_", reencode=False, extra=["-movflags", "+faststart"]
            )
        finally:
            self._discard(listing)

    # -- helpers --------------------------------------------------------------

    def _encode(
        self,
        args: list[str],
        *,
        prefix: str,
        reencode: bool = True,
        extra: Sequence[str] = (),
    ) -> Path:
        """Run one ffmpeg into a new scope file; release the file if it fails."""
        out = self._scope.new_file(suffix=".mp4", prefix=prefix)
        try:
            codec = self._codec_args() if reencode else []
            self._tools.run([*args, *codec, *extra, "-f", "mp4", media_url(out)], cancel=self._cancel)
        except BaseException:
            # Failure, timeout, cancel, Ctrl-C: nobody may pick up half a video.
            self._discard(out)
            raise
        return out

    def _discard(self, path: Path) -> None:
        try:
            self._scope.release(path)
        except (OSError, LangFlixError) as exc:  # never hide the error being raised
            logger.warning("could not release %s: %s", path, exc)

    def _codec_args(self) -> list[str]:
        f = self._fmt
        return [
            "-c:v", "libx264", "-preset", f.preset, "-crf", str(f.crf), "-pix_fmt", "yuv420p",
            # One time base for every piece: concat copy keeps timestamps exact.
            "-video_track_timescale", str(f.fps * _TIMESCALE_PER_FRAME),
            "-c:a", "aac", "-b:a", _AUDIO_BITRATE, "-ar", str(f.sample_rate), "-ac", "2",
            "-map_metadata", "-1", "-map_chapters", "-1",
        ]  # fmt: skip

    def _video_filter(self, skip: int, frames: int) -> str:
        """Frames ``skip`` to ``skip + frames`` of the input, in the output format."""
        w, h, fps = self._fmt.width, self._fmt.height, self._fmt.fps
        # Half-frame margins make the time-based trim pick exactly `frames` frames
        # whatever the float rounding of k/fps.
        start = max(0.0, (skip - 0.5) / fps)
        end = (skip + frames - 0.5) / fps
        return ",".join(
            [
                # start_time=0: a grid from t=0 even when the first frame comes late.
                f"fps={fps}:start_time=0",
                # A video stream shorter than the range is held on its last frame.
                "tpad=stop=-1:stop_mode=clone",
                f"trim=start={start:.6f}:end={end:.6f}",
                "setpts=PTS-STARTPTS",
                # Anamorphic sources: square the pixels first so the aspect is right.
                "scale=trunc(iw*sar/2)*2:ih",
                "setsar=1",
                f"scale={w}:{h}:force_original_aspect_ratio=decrease:force_divisible_by=2",
                f"pad={w}:{h}:(ow-iw)/2:(oh-ih)/2:color=black",
                "setsar=1",
                "format=yuv420p",
            ]
        )

    def _audio_filter(self, skip: int, frames: int) -> str:
        """The audio under those frames, sample-exact, stereo at the output rate."""
        sr, fps = self._fmt.sample_rate, self._fmt.fps
        first = round(skip * sr / fps)
        last = first + round(frames * sr / fps)
        return ",".join(
            [
                # async + first_pts=0: audio that starts late is preceded by silence
                # instead of being pulled forward out of sync with the picture.
                f"aresample={sr}:async=1:first_pts=0",
                f"aformat=sample_fmts=fltp:sample_rates={sr}:channel_layouts=stereo",
                # apad: audio that ends early is padded with silence to the end.
                "apad",
                f"atrim=start_sample={first}:end_sample={last}",
                "asetpts=PTS-STARTPTS",
            ]
        )

    def _silence(self) -> str:
        return f"anullsrc=r={self._fmt.sample_rate}:cl=stereo"

    def _check_compatible(self, piece: Path) -> None:
        info = self._tools.probe(piece)
        f = self._fmt
        expected = (True, True, f.width, f.height, "h264", "aac", f.sample_rate)
        actual = (
            info.has_video, info.has_audio, info.width, info.height,
            info.video_codec, info.audio_codec, info.sample_rate,
        )  # fmt: skip
        fps_ok = info.fps is not None and abs(info.fps - f.fps) < 0.01
        if actual != expected or not fps_ok:
            raise FFmpegError(
                f"{piece} cannot be joined without re-encoding: it is "
                f"{info.width}x{info.height} {info.fps} fps {info.video_codec}/{info.audio_codec} "
                f"{info.sample_rate} Hz, expected {f.width}x{f.height} {f.fps} fps h264/aac "
                f"{f.sample_rate} Hz; make every piece with the same VideoEditor"
            )

    def _card_lines(self, expression: str, line: str, translation: str | None) -> list[_TextLine]:
        h = self._fmt.height
        max_width = self._fmt.width * 0.9
        big, small = max(12, h // 11), max(10, h // 20)
        lines = [_TextLine(t, big, "white") for t in _wrap(expression, big, max_width, 3)]
        lines += [_TextLine(t, small, "0xD8DCE8") for t in _wrap(line, small, max_width, 4)]
        if translation:
            wrapped = _wrap(translation, small, max_width, 3)
            lines += [_TextLine(t, small, "0xFFD166") for t in wrapped]
        if not lines:
            raise ValueError("a title card needs an expression or a line to show")
        return lines

    def _layout(self, lines: list[_TextLine]) -> list[tuple[_TextLine, int]]:
        """Centre the block vertically; each line is its own drawtext so it centres too."""
        heights = [round(line.size * 1.4) for line in lines]
        top = max(0, (self._fmt.height - sum(heights)) // 2)
        placed = []
        for line, height in zip(lines, heights, strict=True):
            placed.append((line, top))
            top += height
        return placed


@functools.lru_cache(maxsize=1)
def find_font() -> Path:
    """A font file for title cards: Noto Sans CJK (shows Korean) first, then DejaVu Sans.

    Asks fontconfig (``fc-match``); its answer is only taken when the family
    really matches, because fc-match always answers with *some* font.
    """
    for family in _FONT_PREFERENCES:
        try:
            result = run_process(["fc-match", "-f", "%{file}\n%{family}", family], timeout=10)
        except LangFlixError as exc:
            logger.debug("fc-match failed for %s: %s", family, exc)
            break
        file, _, families = result.stdout.decode("utf-8", "replace").partition("\n")
        names = {name.strip().lower() for name in families.split(",")}
        if family.lower() in names and Path(file).is_file():
            return Path(file)
    for candidate in _FONT_FALLBACK_FILES:
        if Path(candidate).is_file():
            return Path(candidate)
    raise FFmpegError(
        "no font for title cards: install fonts-noto-cjk (shows Korean) or fonts-dejavu-core"
    )


def _frame_at(seconds: float, fps: int) -> int:
    """The frame nearest to ``seconds``, halves rounded up (round() would go to even)."""
    return math.floor(seconds * fps + 0.5)


def _seconds(value: float) -> str:
    return f"{value:.6f}"


def _filter_value(value: str) -> str:
    """Escape an option value for an ffmpeg filtergraph (both levels of quoting).

    Guards against paths with ``'``, ``:``, ``,``, ``[`` or ``;`` (e.g. a base dir
    chosen by a user) breaking or rewriting the filter graph.
    """
    for char in "\\':":
        value = value.replace(char, "\\" + char)
    escaped = []
    for char in value:
        escaped.append("\\" + char if char in "\\'[],;" else char)
    return "".join(escaped)


def _concat_quote(value: str) -> str:
    """Quote a path for an ffconcat ``file`` line: '...' with ' written as '\\''."""
    return "'" + value.replace("'", "'\\''") + "'"


def _char_width(char: str) -> float:
    """Rough advance width in ems: wide for CJK, narrow for Latin (for wrapping)."""
    return 1.0 if unicodedata.east_asian_width(char) in ("W", "F") else 0.58


def _wrap(text: str, size: int, max_width: float, max_lines: int) -> list[str]:
    """Greedy wrap by estimated width (drawtext cannot wrap); CJK may break anywhere."""
    out: list[str] = []
    limit = max_width / size
    for paragraph in text.replace("\r", "").split("\n"):
        current = ""
        for word in paragraph.split():
            candidate = f"{current} {word}" if current else word
            if sum(map(_char_width, candidate)) <= limit:
                current = candidate
                continue
            if current:
                out.append(current)
            current = ""
            for char in word:  # a word longer than the line: break it by width
                if sum(map(_char_width, current + char)) > limit and current:
                    out.append(current)
                    current = ""
                current += char
        if current:
            out.append(current)
    if len(out) > max_lines:
        out = out[:max_lines]
        out[-1] = out[-1].rstrip() + "…"
    return out
