"""Where everything goes on a vertical short, known before anything is drawn.

A short is the scene fitted into a tall frame plus text in the free space: above
the scene the episode's name, the expression's kind and level and the expression
itself; below it the expression's translation and its meaning. Two fits:

- ``letterbox``: the whole scene (its subtitles already burned in) scaled to the
  frame's width and centred; the bands above and below it are the free space.
  The picture never takes more than :data:`MAX_PICTURE_SHARE` of the height, so
  a square or vertical source still leaves room for the text.
- ``crop``: the scene scaled to cover the frame and cropped at the centre; the
  free space is a band at the top and one at the bottom, darkened so the text
  reads over the picture, and the scene's subtitles are burned between them
  (:meth:`ShortLayout.subtitle_layout`), so the text never covers the line.

Every line is broken and measured with libass's widths, placed by its own
``\\pos``, and the blocks of a band are shrunk together (then shortened with
"…", least important first) until they fit inside the band's safe area: text
never leaves the frame and never crosses into the scene's subtitles. The
geometry (:class:`Box` of every line) is what the tests check.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Final, Literal, get_args

from langflix.core.ass import AssEvent, AssStyle, ass_document, markup_lines
from langflix.core.fonts import DEFAULT_FONT_FAMILY, TextMeasure, text_measure
from langflix.core.subtitle_render import HIGHLIGHT_COLOR, TRANSLATION_COLOR, SceneLayout
from langflix.core.text_layout import Segment, line_segments, wrap_lines

__all__ = [
    "BAND_SHADE",
    "Box",
    "MAX_PICTURE_SHARE",
    "PlacedLine",
    "SHORT_FITS",
    "ShortFit",
    "ShortLayout",
    "ShortText",
    "layout_short",
]

logger = logging.getLogger(__name__)

ShortFit = Literal["letterbox", "crop"]
"""How the scene fills a short: whole, with bands above and below (letterbox), or a centre crop."""
SHORT_FITS: Final[tuple[str, ...]] = get_args(ShortFit)

MAX_PICTURE_SHARE: Final[float] = 0.64
"""Most of the frame's height a letterboxed scene takes (16:9 in 9:16 takes 0.32)."""
BAND_SHADE: Final[str] = "black@0.55"
"""What darkens a crop's bands behind their text."""

_CROP_TOP: Final[float] = 0.24  # a crop's top band ends here (share of the height)
_CROP_BOTTOM: Final[float] = 0.78  # a crop's bottom band starts here
_MARGIN_X: Final[float] = 0.07
_EDGE_PAD: Final[float] = 0.035  # between a band's text and the frame's edge (share of the height)
_INNER_PAD: Final[float] = 0.015  # between a band's text and the scene
_WRAP_ROOM: Final[float] = 0.96
_SHRINK: Final[float] = 0.9
_MIN_SCALE: Final[float] = 0.35
_ELLIPSIS: Final[str] = "…"


@dataclass(frozen=True, slots=True)
class _Role:
    size: float  # share of the frame's height
    color: str
    gap: float  # after the block, share of the height
    bold: bool = False


_ROLES: Final[dict[str, _Role]] = {
    "episode": _Role(0.022, "#C9D3E8", 0.012),
    "caption": _Role(0.022, HIGHLIGHT_COLOR, 0.008, bold=True),
    "expression": _Role(0.05, "#FFFFFF", 0.0, bold=True),
    "translation": _Role(0.034, TRANSLATION_COLOR, 0.016),
    "meaning": _Role(0.026, "#E8ECF5", 0.0),
}
_TOP_ROLES: Final[tuple[str, ...]] = ("episode", "caption", "expression")
_BOTTOM_ROLES: Final[tuple[str, ...]] = ("translation", "meaning")
# Which block gives up lines first when even the smallest size is too big.
_TRUNCATION_ORDER: Final[tuple[str, ...]] = ("meaning", "episode", "caption", "translation", "expression")


@dataclass(frozen=True, slots=True)
class ShortText:
    """What a short says around its scene."""

    expression: str
    caption: str | None = None
    """Kind and level, e.g. "IDIOM · INTERMEDIATE"."""
    translation: str | None = None
    meaning: str | None = None
    episode: str | None = None


@dataclass(frozen=True, slots=True)
class Box:
    """A rectangle in frame pixels: ``left <= x < right``, ``top <= y < bottom``."""

    left: float
    top: float
    right: float
    bottom: float

    @property
    def width(self) -> float:
        return self.right - self.left

    @property
    def height(self) -> float:
        return self.bottom - self.top

    def contains(self, other: Box, *, slack: float = 0.5) -> bool:
        return (
            other.left >= self.left - slack
            and other.top >= self.top - slack
            and other.right <= self.right + slack
            and other.bottom <= self.bottom + slack
        )

    def overlaps(self, other: Box) -> bool:
        across = other.left < self.right and self.left < other.right
        return across and other.top < self.bottom and self.top < other.bottom


@dataclass(frozen=True, slots=True)
class PlacedLine:
    """One line of text drawn on the short: its role, segments, size and the box it covers."""

    role: str
    segments: tuple[Segment, ...]
    size: float
    box: Box

    @property
    def text(self) -> str:
        return "".join(segment.text for segment in self.segments)


@dataclass(frozen=True, slots=True)
class ShortLayout:
    """A ``width`` x ``height`` short: where the scene is drawn, its bands, every line of text."""

    width: int
    height: int
    fit: ShortFit
    picture: Box
    """Where the scene's pixels go (letterbox: the scaled scene; crop: the whole frame)."""
    subtitles: Box
    """Where the scene's burned-in line may be: no text of the bands ever enters it."""
    bands: tuple[Box, Box]
    """The free space above and below, each line of text inside one of them."""
    lines: tuple[PlacedLine, ...]
    truncated: bool
    font: str = DEFAULT_FONT_FAMILY

    def subtitle_layout(self, base: SceneLayout = SceneLayout()) -> SceneLayout:
        """The scene's subtitles, as burned in a cropped short: inside :attr:`subtitles`."""
        margin_bottom = (self.height - self.subtitles.bottom) / self.height
        room = self.subtitles.height / self.height
        return replace(base, margin_bottom=margin_bottom, max_height=min(base.max_height, room * 0.9))

    def picture_filters(self, source_width: int, source_height: int) -> list[str]:
        """The filters that put a square-pixel ``source`` frame where :attr:`picture` says."""
        w, h = self.width, self.height
        if self.fit == "crop":
            return [f"scale={w}:{h}:force_original_aspect_ratio=increase", f"crop={w}:{h}", "setsar=1"]
        pw, ph = round(self.picture.width), round(self.picture.height)
        return [
            f"scale={pw}:{ph}",
            f"pad={w}:{h}:{round(self.picture.left)}:{round(self.picture.top)}:color=black",
            "setsar=1",
        ]

    def shade_filters(self) -> list[str]:
        """A crop's bands darkened so white text reads over any scene (a letterbox's are black already)."""
        if self.fit != "crop":
            return []
        return [
            f"drawbox=x=0:y={round(band.top)}:w=iw:h={max(1, round(band.height))}:color={BAND_SHADE}:t=fill"
            for band in self.bands
        ]

    def to_ass(self, duration: float) -> str:
        """The bands' text as an ASS document showing from 0 to ``duration`` seconds.

        One event per line, each at its own ``\\pos`` with wrapping off, so
        libass draws exactly the lines laid out here.
        """
        if not (math.isfinite(duration) and duration > 0):
            raise ValueError(f"a short needs a duration > 0 s, got {duration}")
        styles: dict[str, AssStyle] = {}
        events = []
        for index, line in enumerate(self.lines):
            role = _ROLES[line.role]
            name = f"{line.role.capitalize()}{index}"
            styles[name] = AssStyle(
                name=name, font=self.font, size=round(line.size, 2), color=role.color, bold=role.bold,
                outline=round(line.size * 0.06, 2), shadow=0, alignment=8,
            )  # fmt: skip
            text = markup_lines([line.segments], lit="", unlit="")
            position = f"{{\\an8\\pos({(line.box.left + line.box.right) / 2:.1f},{line.box.top:.1f})}}"
            events.append(AssEvent(0.0, duration, name, position + text))
        return ass_document(
            width=self.width, height=self.height, styles=list(styles.values()), events=events, wrap_style=2
        )


def layout_short(
    text: ShortText,
    *,
    width: int,
    height: int,
    source_width: int,
    source_height: int,
    fit: ShortFit = "letterbox",
    font: str = DEFAULT_FONT_FAMILY,
    measure: TextMeasure | None = None,
) -> ShortLayout:
    """Place the scene (``source_width`` x ``source_height``, square pixels) and the text."""
    if not text.expression.strip():
        raise ValueError("a short needs the expression to show")
    if min(width, height, source_width, source_height) < 16:
        raise ValueError(f"a short and its scene need sizes of at least 16x16, got {width}x{height}")
    if fit not in SHORT_FITS:
        raise ValueError(f"fit must be 'letterbox' or 'crop', got {fit!r}")
    measure = measure or text_measure(font)
    if fit == "letterbox":
        picture = _letterbox(width, height, source_width, source_height)
        subtitles = picture
        bands = (Box(0, 0, width, picture.top), Box(0, picture.bottom, width, height))
    else:
        picture = Box(0, 0, width, height)
        bands = (Box(0, 0, width, round(height * _CROP_TOP)), Box(0, round(height * _CROP_BOTTOM), width, height))
        subtitles = Box(0, bands[0].bottom, width, bands[1].top)
    top_area = _safe(bands[0], width, height, edge="top")
    bottom_area = _safe(bands[1], width, height, edge="bottom")
    pieces = _pieces(text)
    top, cut_top = _fit_band([(r, pieces[r]) for r in _TOP_ROLES if r in pieces], top_area, height, measure)
    bottom, cut_bottom = _fit_band(
        [(r, pieces[r]) for r in _BOTTOM_ROLES if r in pieces], bottom_area, height, measure
    )
    truncated = cut_top or cut_bottom
    if truncated:
        logger.warning("the short's text for %r does not fit its bands even small; shortened it", text.expression)
    return ShortLayout(width, height, fit, picture, subtitles, bands, (*top, *bottom), truncated, font)


# --------------------------------------------------------------------------- helpers


def _even(value: float) -> int:
    return max(2, int(value) // 2 * 2)


def _letterbox(width: int, height: int, source_width: int, source_height: int) -> Box:
    """The scene at full width, or smaller when it would take more than its share of the height."""
    wide, tall = float(width), width * source_height / source_width
    if tall > height * MAX_PICTURE_SHARE:
        tall = height * MAX_PICTURE_SHARE
        wide = tall * source_width / source_height
    pw, ph = _even(min(wide, width)), _even(tall)
    left, top = (width - pw) // 2 // 2 * 2, (height - ph) // 2 // 2 * 2
    return Box(left, top, left + pw, top + ph)


def _safe(band: Box, width: int, height: int, *, edge: Literal["top", "bottom"]) -> Box:
    """The part of ``band`` text may use: side margins, more room at the frame's edge."""
    margin = width * _MARGIN_X
    edge_pad, inner_pad = height * _EDGE_PAD, height * _INNER_PAD
    if edge == "top":
        return Box(margin, band.top + edge_pad, width - margin, band.bottom - inner_pad)
    return Box(margin, band.top + inner_pad, width - margin, band.bottom - edge_pad)


def _pieces(text: ShortText) -> dict[str, str]:
    pieces = {
        "episode": text.episode,
        "caption": text.caption,
        "expression": text.expression,
        "translation": text.translation,
        "meaning": text.meaning,
    }
    return {role: " ".join(value.split()) for role, value in pieces.items() if value and value.strip()}


_Wrapped = list[tuple[str, list[list[Segment]]]]


def _fit_band(
    blocks: Sequence[tuple[str, str]], area: Box, height: int, measure: TextMeasure
) -> tuple[list[PlacedLine], bool]:
    """The band's blocks as large as they fit in ``area`` (shrunk together), then placed."""
    if not blocks or area.height <= 0 or area.width <= 0:
        return [], bool(blocks)
    scale = 1.0
    while True:
        wrapped = _wrap(blocks, area.width * _WRAP_ROOM, height, scale, measure)
        if _tall(wrapped, height, scale, measure) <= area.height:
            return _place(wrapped, area, height, scale, measure), False
        if scale * _SHRINK < _MIN_SCALE:
            break
        scale *= _SHRINK
    scale = _MIN_SCALE
    wrapped = _wrap(blocks, area.width * _WRAP_ROOM, height, scale, measure)
    for role in _TRUNCATION_ORDER:
        while _tall(wrapped, height, scale, measure) > area.height:
            index = next((i for i, (r, _) in enumerate(wrapped) if r == role), None)
            if index is None:
                break
            lines = wrapped[index][1]
            if len(lines) > 1:
                lines.pop()
                last = lines[-1]
                lines[-1] = [*last[:-1], replace(last[-1], text=last[-1].text.rstrip() + _ELLIPSIS)]
            else:
                del wrapped[index]
    return _place(wrapped, area, height, scale, measure), True


def _wrap(
    blocks: Sequence[tuple[str, str]], max_width: float, height: int, scale: float, measure: TextMeasure
) -> _Wrapped:
    wrapped: _Wrapped = []
    for role, value in blocks:
        size = height * _ROLES[role].size * scale
        spans = wrap_lines(value, size=size, max_width=max_width, measure=measure, bold=_ROLES[role].bold)
        wrapped.append((role, line_segments(value, spans)))
    return wrapped


def _tall(wrapped: _Wrapped, height: int, scale: float, measure: TextMeasure) -> float:
    roles = [role for role, lines in wrapped if lines]
    total = sum(measure.line_height(height * _ROLES[r].size * scale) * len(lines) for r, lines in wrapped)
    return total + sum(height * _ROLES[role].gap * scale for role in roles[:-1])


def _place(wrapped: _Wrapped, area: Box, height: int, scale: float, measure: TextMeasure) -> list[PlacedLine]:
    """Lines stacked top to bottom, centred across, the group centred in ``area``."""
    top = area.top + max(0.0, area.height - _tall(wrapped, height, scale, measure)) / 2
    centre = (area.left + area.right) / 2
    placed = []
    for role, lines in wrapped:
        info = _ROLES[role]
        size = height * info.size * scale
        step = measure.line_height(size)
        for segments in lines:
            text = "".join(segment.text for segment in segments)
            half = measure.width(text, size, bold=info.bold) / 2
            placed.append(PlacedLine(role, tuple(segments), size, Box(centre - half, top, centre + half, top + step)))
            top += step
        top += height * info.gap * scale
    return placed
