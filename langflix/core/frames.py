"""Cuts as whole frames and the filters that take them by number: pure arithmetic on times and formats.

Lengths are whole frames, picked by frame number (never by a time that float
rounding could move by one frame), and each piece's audio is sample-exact to
its video, so joins line up at any frame rate. Nothing here runs ffmpeg: these
are the strings its filter graphs are built from.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Final

from langflix.core.ffmpeg import MediaInfo
from langflix.core.output_format import OutputFormat
from langflix.errors import FFmpegError

__all__ = ["FrameSpan", "fit_filter", "frame_at", "frame_span", "frames_filter", "samples_filter"]

logger = logging.getLogger(__name__)

_SEEK_MARGIN: Final[float] = 0.5
"""Seconds before the cut that the fast (input) seek aims at; the rest is decoded and
dropped by frame number. ffmpeg decodes from the keyframe before the seek point
anyway, so a small margin only guards against a container's rounded timestamps:
a wide one would make every cut decode from one keyframe earlier for nothing."""


@dataclass(frozen=True, slots=True)
class FrameSpan:
    """A stretch of the source as frame numbers at the output rate."""

    first: int
    """The first frame of the stretch, counted from the source's start."""
    frames: int
    seek: int
    """The frame the input seek aims at (<= first)."""

    @property
    def skip(self) -> int:
        """Frames decoded after the seek point and dropped before the stretch."""
        return self.first - self.seek

    @property
    def end(self) -> int:
        """The frame after the stretch."""
        return self.first + self.frames

    def seconds(self, fps: int) -> tuple[float, float]:
        """Where the stretch starts and ends in the source, in seconds."""
        return self.first / fps, self.end / fps


def frame_at(seconds: float, fps: int) -> int:
    """The frame nearest to ``seconds``, halves rounded up (round() would go to even)."""
    return math.floor(seconds * fps + 0.5)


def frame_span(info: MediaInfo, start: float, end: float, fps: int) -> FrameSpan:
    """``[start, end)`` of ``info``'s video clamped to it, as whole frames (nearest frame, halves up)."""
    clamped_start = min(max(start, 0.0), info.duration)
    clamped_end = min(max(end, 0.0), info.duration)
    first = frame_at(clamped_start, fps)
    frames = frame_at(clamped_end, fps) - first
    if frames < 1:
        raise FFmpegError(
            f"cannot cut {info.path}: the range {start:.3f}-{end:.3f} s is empty once clamped "
            f"to the video's {info.duration:.3f} s (shorter than one frame); check the "
            "subtitle times against the video"
        )
    if (clamped_start, clamped_end) != (start, end):
        logger.debug(
            "clamped cut %.3f-%.3f to %.3f-%.3f (video is %.3f s)",
            start, end, clamped_start, clamped_end, info.duration,
        )  # fmt: skip
    return FrameSpan(first, frames, max(0, first - round(_SEEK_MARGIN * fps)))


def frames_filter(fmt: OutputFormat, span: FrameSpan) -> str:
    """Frames ``skip`` to ``skip + frames`` of the input at ``fmt``'s rate, square pixels."""
    return ",".join(
        [
            # start_time=0: frame n of the grid is at n/fps even when the first frame comes late.
            f"fps={fmt.fps}:start_time=0",
            # A video stream shorter than the range is held on its last frame.
            "tpad=stop=-1:stop_mode=clone",
            # By frame number, not time: (n - 0.5)/fps written in microseconds can
            # round to either side of a frame and cut one frame too many or too few.
            f"trim=start_frame={span.skip}:end_frame={span.skip + span.frames}",
            "setpts=PTS-STARTPTS",
            # Anamorphic sources: square the pixels first so the aspect is right.
            "scale=trunc(iw*sar/2)*2:ih",
            "setsar=1",
        ]
    )


def fit_filter(fmt: OutputFormat) -> str:
    """The picture fitted (letterboxed) into ``fmt``'s size."""
    w, h = fmt.width, fmt.height
    return (
        f"scale={w}:{h}:force_original_aspect_ratio=decrease:force_divisible_by=2,"
        f"pad={w}:{h}:(ow-iw)/2:(oh-ih)/2:color=black,setsar=1"
    )


def samples_filter(fmt: OutputFormat, skip: int, frames: int, *, resample: bool = True) -> str:
    """The audio under those frames, sample-exact, stereo at ``fmt``'s rate."""
    sr, fps = fmt.sample_rate, fmt.fps
    first = round(skip * sr / fps)
    last = first + round(frames * sr / fps)
    steps = []
    if resample:
        steps += [
            # async + first_pts=0: audio that starts late is preceded by silence
            # instead of being pulled forward out of sync with the picture.
            f"aresample={sr}:async=1:first_pts=0",
            f"aformat=sample_fmts=fltp:sample_rates={sr}:channel_layouts=stereo",
        ]
    # apad: audio that ends early is padded with silence to the end.
    return ",".join([*steps, "apad", f"atrim=start_sample={first}:end_sample={last}", "asetpts=PTS-STARTPTS"])
