"""Thumbnails: one frame of a clip with the expression drawn large, as a PNG.

One ffmpeg run: seek to the frame, fill the thumbnail size (scaled to cover and
cropped, no black bars), darken the lower part so white text reads over any
scene, and burn an ASS overlay with the title (libass, like the subtitles; the
graph names only the file). The title is broken and shrunk with libass's own
widths, so a long expression stays inside the frame.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from langflix.cancel import CancelToken
from langflix.core.ass import AssEvent, AssStyle, ass_document, ass_filter, markup_lines, write_ass
from langflix.core.ffmpeg import FFMPEG_INSTALL_HINT, MediaInput, media_url
from langflix.core.fonts import DEFAULT_FONT_FAMILY, TextMeasure, text_measure
from langflix.core.process import run_process
from langflix.core.text_layout import line_segments, wrap_lines
from langflix.errors import FFmpegError, LangFlixError
from langflix.temp import TempArea

__all__ = [
    "THUMBNAIL_HEIGHT",
    "THUMBNAIL_WIDTH",
    "ThumbnailText",
    "make_thumbnail",
    "thumbnail_ass",
    "thumbnail_filters",
]

logger = logging.getLogger(__name__)

THUMBNAIL_WIDTH: Final[int] = 1280
THUMBNAIL_HEIGHT: Final[int] = 720

_TITLE_SIZE: Final[float] = 0.15  # share of the height
_CAPTION_SIZE: Final[float] = 0.055
_TITLE_COLOR: Final[str] = "#FFFFFF"
_CAPTION_COLOR: Final[str] = "#FFB020"
_MARGIN_X: Final[float] = 0.06
_BOTTOM: Final[float] = 0.9  # the text block ends here (share of the height)
_MAX_TEXT_HEIGHT: Final[float] = 0.55
_MIN_SCALE: Final[float] = 0.3
_SHADE: Final[str] = "drawbox=x=0:y=ih*0.42:w=iw:h=ih*0.58:color=black@0.45:t=fill"
_FOREVER: Final[float] = 3600.0


@dataclass(frozen=True, slots=True)
class ThumbnailText:
    """What a thumbnail says: ``title`` drawn large, ``caption`` small above it."""

    title: str
    caption: str | None = None

    def ass(self, *, width: int = THUMBNAIL_WIDTH, height: int = THUMBNAIL_HEIGHT) -> str:
        """The overlay as an ASS document (:func:`thumbnail_ass`)."""
        return thumbnail_ass(self.title, caption=self.caption, width=width, height=height)


def thumbnail_filters(overlay: Path, *, width: int = THUMBNAIL_WIDTH, height: int = THUMBNAIL_HEIGHT) -> list[str]:
    """The filters that turn one frame into the thumbnail: cover ``width`` x ``height``
    (scaled up and cropped, never letterboxed), darken the lower part, draw ``overlay``.

    The frame's pixels must be square (the editor squares them before it branches).
    """
    return [
        f"scale={width}:{height}:force_original_aspect_ratio=increase",
        f"crop={width}:{height}",
        "setsar=1",
        _SHADE,
        ass_filter(overlay),
    ]


def thumbnail_ass(
    title: str,
    *,
    caption: str | None = None,
    width: int = THUMBNAIL_WIDTH,
    height: int = THUMBNAIL_HEIGHT,
    font: str = DEFAULT_FONT_FAMILY,
    measure: TextMeasure | None = None,
) -> str:
    """The overlay: ``caption`` (small, e.g. "IDIOM") above ``title`` (large, bold),
    bottom-centred, shrunk until both fit the lower part of the frame."""
    title = " ".join(title.split())
    if not title:
        raise ValueError("a thumbnail needs a title (the expression) to draw")
    measure = measure or text_measure(font)
    box_width = width * (1 - 2 * _MARGIN_X) * 0.96
    caption = " ".join(caption.split()) if caption else None
    scale = 1.0
    while True:
        title_size = height * _TITLE_SIZE * scale
        title_lines = wrap_lines(title, size=title_size, max_width=box_width, measure=measure, bold=True)
        caption_size = height * _CAPTION_SIZE * scale
        caption_lines = (
            wrap_lines(caption, size=caption_size, max_width=box_width, measure=measure, bold=True) if caption else []
        )
        tall = title_size * len(title_lines) + caption_size * len(caption_lines)
        if tall <= height * _MAX_TEXT_HEIGHT or scale <= _MIN_SCALE:
            break
        scale = max(_MIN_SCALE, scale * 0.9)
    margin = round(width * _MARGIN_X)
    styles = [
        AssStyle("Title", font, round(title_size, 2), color=_TITLE_COLOR, bold=True,
                 outline=round(title_size * 0.06, 2), shadow=round(title_size * 0.04, 2),
                 alignment=2, margin_l=margin, margin_r=margin),
        AssStyle("Caption", font, round(caption_size, 2), color=_CAPTION_COLOR, bold=True,
                 outline=round(caption_size * 0.08, 2), alignment=2, margin_l=margin, margin_r=margin),
    ]  # fmt: skip
    text = markup_lines(line_segments(title, title_lines), lit="", unlit="")
    if caption:
        top = markup_lines(line_segments(caption, caption_lines), lit="", unlit="")
        text = f"{{\\rCaption}}{top}\\N{{\\rTitle}}{text}"
    position = f"{{\\an2\\pos({width / 2:.1f},{height * _BOTTOM:.1f})}}"
    events = [AssEvent(0.0, _FOREVER, "Title", position + text)]
    return ass_document(width=width, height=height, styles=styles, events=events)


def make_thumbnail(
    ffmpeg: str | os.PathLike[str],
    video: MediaInput,
    area: TempArea,
    *,
    at: float,
    title: str,
    caption: str | None = None,
    width: int = THUMBNAIL_WIDTH,
    height: int = THUMBNAIL_HEIGHT,
    timeout: float | None = 120.0,
    cancel: CancelToken | None = None,
) -> Path:
    """A ``width`` x ``height`` PNG of ``video`` at ``at`` seconds with ``title`` drawn large.

    ``video`` is opened like every input, with its probed demuxer forced
    (``MediaInfo.input``), so a file swapped for a playlist is never read as one.
    Written to a new file of ``area`` (``thumb_*.png``), which the caller
    persists or releases; the overlay's ASS file is released before this
    returns, and the PNG too when ffmpeg fails, times out or is cancelled.
    Raises :class:`FFmpegError` when the video has no frame at ``at``.
    """
    if not math.isfinite(at) or at < 0:
        raise ValueError(f"the thumbnail's time must be a number >= 0, got {at}")
    if width < 16 or height < 16 or width % 2 or height % 2:
        raise ValueError(f"a thumbnail needs an even size of at least 16x16, got {width}x{height}")
    overlay = write_ass(area, thumbnail_ass(title, caption=caption, width=width, height=height), prefix="thumb_")
    out: Path | None = None
    try:
        out = area.new_file(suffix=".png", prefix="thumb_")
        graph = ",".join(thumbnail_filters(overlay, width=width, height=height))
        cmd = [
            os.fspath(ffmpeg), "-hide_banner", "-nostdin", "-y", "-loglevel", "error",
            # Input seek: decoding starts at the keyframe before and stops at the exact frame.
            "-ss", f"{at:.3f}", *video.args(),
            "-frames:v", "1", "-vf", graph, "-an", "-c:v", "png", "-f", "image2", "-update", "1",
            media_url(out),
        ]  # fmt: skip
        run_process(cmd, timeout=timeout, cancel=cancel, error_cls=FFmpegError, install_hint=FFMPEG_INSTALL_HINT)
        if out.stat().st_size == 0:
            raise FFmpegError(
                f"{video.path} has no frame at {at:.3f} s for a thumbnail; choose a time inside the video"
            )
    except BaseException:
        if out is not None:
            _discard(area, out)
        raise
    finally:
        _discard(area, overlay)
    return out


def _discard(area: TempArea, path: Path) -> None:
    try:
        area.release(path)
    except (OSError, LangFlixError) as exc:  # never hide the error being raised
        logger.warning("could not release %s: %s", path, exc)
