"""What every piece of an educational video is made with: one scope, one format, one way to encode.

Each distinct piece (a scene's context clip, its expression clip, a card, a
short) is encoded exactly once, to one normalised format
(:class:`~langflix.core.output_format.OutputFormat`: H.264 yuv420p + AAC
stereo, one size, frame rate and sample rate). The products are modules of
their own, each a function of a :class:`VideoEditor`: ``scenes`` (a scene cut
in one decode, its expression clip copied out of it), ``card_video`` (the
title card), ``joins`` (lessons and compilations by stream copy), ``shorts``
(the vertical 9:16 video) and ``study_media`` (a deck's audio and screenshot).
What they share is here, and in ``frames`` (whole frames, sample-exact audio,
the filters that cut by frame number: pure arithmetic). The editor keeps no
list of temp files: every output is a file of its scope, and half-written
outputs are released when ffmpeg fails or is cancelled
(:meth:`VideoEditor.encode`, :meth:`VideoEditor.run_files`), so the scope
only ever holds complete pieces.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from langflix.cancel import CancelToken
from langflix.core.ass import ass_filter, write_ass
from langflix.core.ffmpeg import FFmpegTools, MediaInfo, MediaInput, media_url
from langflix.core.frames import FrameSpan
from langflix.core.output_format import DEFAULT_FORMAT, OutputFormat
from langflix.core.subtitle_render import SceneCue, SceneLayout, SubtitleStyle, scene_ass
from langflix.errors import FFmpegError, LangFlixError
from langflix.temp import TempArea

__all__ = [
    "AUDIO_BITRATE",
    "PIECE_DEMUXER",
    "TIMESCALE_PER_FRAME",
    "Piece",
    "RunFiles",
    "VideoEditor",
    "piece_input",
]

logger = logging.getLogger(__name__)

PIECE_DEMUXER: Final[str] = "mov"
"""The demuxer every piece the editor wrote (mp4, m4a) is opened with again: forced, never guessed."""
AUDIO_BITRATE: Final[str] = "128k"
TIMESCALE_PER_FRAME: Final[int] = 512
"""Ticks of the video track's time base per frame: one time base for every piece."""


@dataclass(frozen=True, slots=True)
class Piece:
    """A file the editor encoded: ``frames`` whole frames at ``format``.

    Carrying the format is what lets :func:`~langflix.core.joins.concat` join
    pieces without probing each again; a plain path is probed first.
    """

    path: Path
    frames: int
    format: OutputFormat

    @property
    def seconds(self) -> float:
        """The length of the picture (the audio is sample-exact to it)."""
        return self.frames / self.format.fps


class RunFiles:
    """The files of one ffmpeg run: its outputs, and the scratch files (ASS, lists) it reads.

    Made by :meth:`VideoEditor.run_files`: the scratch files are released when
    the block ends, the outputs only when it fails (nobody may pick up half a
    video).
    """

    def __init__(self, scope: TempArea) -> None:
        self._scope = scope
        self.outputs: list[Path] = []
        self.scratch: list[Path] = []

    def output(self, *, suffix: str, prefix: str) -> Path:
        """A new file of the scope for the run to write."""
        self.outputs.append(self._scope.new_file(suffix=suffix, prefix=prefix))
        return self.outputs[-1]

    def scratch_file(self, *, suffix: str, prefix: str) -> Path:
        """A new file of the scope the run reads (a concat list), gone with the block."""
        self.scratch.append(self._scope.new_file(suffix=suffix, prefix=prefix))
        return self.scratch[-1]

    def ass(self, document: str, *, prefix: str) -> Path:
        """``document`` as an ASS file the run draws, gone with the block."""
        self.scratch.append(write_ass(self._scope, document, prefix=prefix))
        return self.scratch[-1]


def piece_input(piece: Path) -> list[str]:
    """The input options of a piece the editor wrote, like any input: demuxer forced, file protocol only."""
    return MediaInput(piece, PIECE_DEMUXER).args()


class VideoEditor:
    """One temp area (a job's scope), one output format, the ffmpeg to run: what every product shares.

    ``tools`` are the ffmpeg/ffprobe to run and their timeouts; ``cancel`` stops
    a running ffmpeg (it is killed and reaped, its outputs released). The
    methods are the pieces of a filter graph and of an encode that scenes,
    cards, joins, shorts and study media are built from.
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

    @property
    def scope(self) -> TempArea:
        return self._scope

    # -- inputs -------------------------------------------------------------------

    def source(self, video: Path | MediaInfo) -> MediaInfo:
        """``video`` probed (unless it is a probe already), refused by name when it has no picture."""
        info = video if isinstance(video, MediaInfo) else self._tools.probe(video)
        if not info.has_video:
            raise FFmpegError(f"{info.path} has no video stream: LangFlix needs a video file to cut clips from")
        return info

    def input_args(self, info: MediaInfo, span: FrameSpan) -> tuple[list[str], str]:
        """The inputs of a cut (a fast seek close before it) and the label of its audio."""
        args: list[str] = []
        if span.seek > 0:
            # Timestamps start at 0 at the seek point; the frames up to the cut are
            # decoded and dropped by number (a lone -ss with -c copy would snap to a keyframe).
            args += ["-ss", f"{span.seek / self._fmt.fps:.6f}"]
        args += info.input.args()  # the probed demuxer forced: the bytes are never guessed again
        if info.has_audio:
            return args, "0:a:0"
        return [*args, "-f", "lavfi", "-i", self.silence()], "1:a:0"

    def silence(self) -> str:
        """A silent stereo source at the output rate (a lavfi input)."""
        return f"anullsrc=r={self._fmt.sample_rate}:cl=stereo"

    def burn_filter(
        self,
        subtitles: Sequence[SceneCue],
        style: SubtitleStyle,
        window: tuple[float, float],
        files: RunFiles,
        *,
        width: int | None = None,
        height: int | None = None,
        layout: SceneLayout = SceneLayout(),
    ) -> str | None:
        """The libass filter burning the cues shown in ``window`` (seconds); its ASS file is one of ``files``.

        None when the style burns nothing or no cue falls in the window: the graph
        then has no subtitles filter and no ASS file is written.
        """
        start, end = window
        if style == "none" or not any(c.end > start and c.start < end for c in subtitles):
            return None
        document = scene_ass(
            subtitles, clip_start=start, clip_end=end, width=width or self._fmt.width,
            height=height or self._fmt.height, style=style, layout=layout,
        )  # fmt: skip
        return ass_filter(files.ass(document, prefix="scene_"))

    # -- encoding -------------------------------------------------------------------

    def codec_args(self) -> list[str]:
        """The output options of every encoded piece: the format's video and audio, no metadata."""
        f = self._fmt
        return [
            "-c:v", "libx264", "-preset", f.preset, "-crf", str(f.crf), "-pix_fmt", "yuv420p",
            # One time base for every piece: concat copy keeps timestamps exact.
            "-video_track_timescale", str(f.fps * TIMESCALE_PER_FRAME),
            *self.audio_codec_args(), "-map_metadata", "-1", "-map_chapters", "-1",
        ]  # fmt: skip

    def audio_codec_args(self) -> list[str]:
        return ["-c:a", "aac", "-b:a", AUDIO_BITRATE, "-ar", str(self._fmt.sample_rate), "-ac", "2"]

    def run(self, args: list[str]) -> None:
        """Run one ffmpeg with the editor's tools, stopped by its cancel token."""
        self._tools.run(args, cancel=self._cancel)

    def probe(self, path: Path) -> MediaInfo:
        return self._tools.probe(path)

    def encode(self, args: list[str], *, prefix: str, reencode: bool = True, extra: Sequence[str] = ()) -> Path:
        """Run one ffmpeg into a new mp4 of the scope; release the file if it fails."""
        out = self._scope.new_file(suffix=".mp4", prefix=prefix)
        try:
            codec = self.codec_args() if reencode else []
            self.run([*args, *codec, *extra, "-f", "mp4", media_url(out)])
        except BaseException:
            # Failure, timeout, cancel, Ctrl-C: nobody may pick up half a video.
            self.discard(out)
            raise
        return out

    @contextlib.contextmanager
    def run_files(self) -> Iterator[RunFiles]:
        """The files of one run (:class:`RunFiles`): scratch released at the end, outputs if the block fails."""
        files = RunFiles(self._scope)
        try:
            yield files
        except BaseException:
            # Failure, timeout, cancel, Ctrl-C: nobody may pick up half a video.
            for path in files.outputs:
                self.discard(path)
            raise
        finally:
            for path in files.scratch:
                self.discard(path)

    def discard(self, path: Path) -> None:
        """Release ``path`` from the scope; a failure is logged, never raised over the error being handled."""
        try:
            self._scope.release(path)
        except (OSError, LangFlixError) as exc:
            logger.warning("could not release %s: %s", path, exc)
