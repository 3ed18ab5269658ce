"""The video formats of a job, declared once: its lessons' and its vertical shorts'.

Every clip, title card and lesson of a job is H.264 yuv420p + AAC stereo at one
size, frame rate and sample rate, so they join with ``-c copy``. The ranges
live on the field types below; the settings (``LANGFLIX_VIDEO_*``), the CLI's
``--size``/``--preset`` and the service all build an :class:`OutputFormat`, so
they cannot drift apart.
"""

from __future__ import annotations

from typing import Annotated, Final

from pydantic import AfterValidator, Field

from langflix.core.validated import ValidatedModel

__all__ = [
    "DEFAULT_FORMAT",
    "DEFAULT_SHORT_FORMAT",
    "FramesPerSecond",
    "OutputFormat",
    "Pixels",
    "Quality",
    "SampleRate",
    "ShortFormat",
    "X264Preset",
    "parse_size",
]

_MIN_PIXELS: Final[int] = 16


def _even(value: int) -> int:
    # yuv420p needs even dimensions; catching it here beats an x264 error later.
    if value % 2:
        raise ValueError(f"must be even (yuv420p halves it), got {value}; use {value - 1} or {value + 1}")
    return value


Pixels = Annotated[int, Field(ge=_MIN_PIXELS), AfterValidator(_even)]
"""A width or height: even and at least 16."""
FramesPerSecond = Annotated[int, Field(ge=1, le=120)]
SampleRate = Annotated[int, Field(ge=8000, le=192000)]
Quality = Annotated[int, Field(ge=0, le=51, description="x264 CRF: lower is better and larger.")]
X264Preset = Annotated[str, Field(min_length=1, description="x264 preset: ultrafast ... veryslow.")]


class OutputFormat(ValidatedModel):
    """Size, frame rate, sample rate and x264 settings of every piece of one job."""

    width: Pixels = 1280
    height: Pixels = 720
    fps: FramesPerSecond = 25
    sample_rate: SampleRate = 44100
    crf: Quality = 23
    preset: X264Preset = "veryfast"

    @property
    def size(self) -> str:
        """``WIDTHxHEIGHT``, as ``--size`` and ffmpeg write it."""
        return f"{self.width}x{self.height}"


DEFAULT_FORMAT: Final[OutputFormat] = OutputFormat()


class ShortFormat(ValidatedModel):
    """The size of a job's vertical shorts (9:16 by default); frame rate, sample rate and
    x264 settings are the job's :class:`OutputFormat`, whose pieces the shorts are made from."""

    width: Pixels = 1080
    height: Pixels = 1920

    @property
    def size(self) -> str:
        """``WIDTHxHEIGHT``, as ``--shorts-size`` writes it."""
        return f"{self.width}x{self.height}"


DEFAULT_SHORT_FORMAT: Final[ShortFormat] = ShortFormat()


def parse_size(text: str) -> tuple[int, int]:
    """``"1280x720"`` -> ``(1280, 720)``; ValueError naming the expected shape.

    Only the shape is checked here; the range and evenness are the format's own.
    """
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"{text!r} is not WIDTHxHEIGHT, e.g. 1280x720") from None
    return width, height
