"""ASS documents for libass: styles, events, text that renders exactly as typed.

Everything LangFlix burns into video (scene subtitles, the card, thumbnails) is
an ASS file that ffmpeg's ``ass`` filter draws; the filter graph names only the
file (:func:`ass_filter`), never the text. Inside the file, user text is escaped
for libass's own syntax (``ass_get_next_char`` and ``ass_render.c`` in libass):

- ``{`` starts an override block when a ``}`` follows; ``\\{`` and ``\\}`` draw braces.
- ``\\N`` (and ``\\n`` with WrapStyle 2) breaks the line, ``\\h`` is a hard space;
  libass has no escape for a backslash, so each typed ``\\`` is followed by a
  WORD JOINER (U+2060), which libass's shaper skips as a default-ignorable
  character: the backslash shows and the next letter stays a letter.
- A typed line break becomes ``\\N``; control characters (a NUL would end the
  C string) are dropped.
``%``, quotes, commas, emoji and Korean need nothing: ASS has no meaning for them.
Sizes and positions are in script pixels; ``PlayResX``/``PlayResY`` are the
output size, so a size is a share of the output height.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from langflix.core.filtergraph import escape_filter_value
from langflix.core.text_layout import Segment
from langflix.temp import TempArea

__all__ = [
    "AssEvent",
    "AssStyle",
    "ass_color",
    "ass_document",
    "ass_filter",
    "ass_tag_color",
    "ass_time",
    "escape_text",
    "markup_lines",
    "write_ass",
]

_WORD_JOINER: Final[str] = "\u2060"
_CONTROL: Final = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_LINE_BREAK: Final = re.compile(r"\r\n|\r|\n|\u2028|\u2029")
_RGB: Final = re.compile(r"#?([0-9A-Fa-f]{6})")
_MAX_TIME: Final[float] = 10 * 3600 - 0.01


def escape_text(text: str) -> str:
    """``text`` as ASS dialogue that libass draws exactly as typed."""
    text = _CONTROL.sub("", text.replace("\t", " "))
    text = text.replace("\\", "\\" + _WORD_JOINER)
    text = text.replace("{", "\\{").replace("}", "\\}")
    return _LINE_BREAK.sub(r"\\N", text)


def ass_color(rgb: str, alpha: int = 0) -> str:
    """``"#RRGGBB"`` as ASS ``&HAABBGGRR`` (alpha 0 is opaque, 255 invisible)."""
    match = _RGB.fullmatch(rgb)
    if match is None or not 0 <= alpha <= 255:
        raise ValueError(f"expected a colour like '#FFD166' and alpha 0..255, got {rgb!r}, {alpha}")
    hex6 = match.group(1).upper()
    return f"&H{alpha:02X}{hex6[4:6]}{hex6[2:4]}{hex6[0:2]}"


def ass_tag_color(rgb: str) -> str:
    """``"#RRGGBB"`` as the value of a ``\\1c`` override tag: ``&HBBGGRR&``."""
    return ass_color(rgb)[:2] + ass_color(rgb)[4:] + "&"


def ass_time(seconds: float) -> str:
    """``seconds`` as an ASS timestamp ``H:MM:SS.cc`` (centiseconds, rounded, >= 0)."""
    if not math.isfinite(seconds):
        raise ValueError(f"an ASS time must be finite, got {seconds}")
    centis = round(min(max(seconds, 0.0), _MAX_TIME) * 100)
    hours, rest = divmod(centis, 360000)
    minutes, rest = divmod(rest, 6000)
    secs, centis = divmod(rest, 100)
    return f"{hours}:{minutes:02d}:{secs:02d}.{centis:02d}"


def markup_lines(lines: Sequence[Sequence[Segment]], *, lit: str, unlit: str) -> str:
    """Wrapped lines as ASS text: segments escaped, highlighted ones between ``lit`` and
    ``unlit`` override tags (e.g. ``{\\1c&H..&\\b1}`` and ``{\\1c&H..&\\b0}``), lines
    joined by hard breaks."""
    out: list[str] = []
    for line in lines:
        parts = []
        for segment in line:
            escaped = escape_text(segment.text)
            parts.append(f"{lit}{escaped}{unlit}" if segment.highlighted else escaped)
        out.append("".join(parts))
    return "\\N".join(out)


@dataclass(frozen=True, slots=True)
class AssStyle:
    """One ``[V4+ Styles]`` line; colours as ``#RRGGBB``, sizes in script pixels."""

    name: str
    font: str
    size: float
    color: str = "#FFFFFF"
    outline_color: str = "#000000"
    back_color: str = "#000000"
    back_alpha: int = 128
    bold: bool = False
    outline: float = 2.0
    shadow: float = 0.0
    border_style: int = 1  # 1: outline and shadow, 3: an opaque box behind the text
    alignment: int = 2  # numpad layout: 2 bottom centre, 8 top centre, 5 middle
    margin_l: int = 0
    margin_r: int = 0
    margin_v: int = 0

    def __post_init__(self) -> None:
        if not self.name or "," in self.name or not self.font or "," in self.font:
            raise ValueError(f"ASS style and font names must be non-empty without commas: {self!r}")
        if not (self.size > 0 and math.isfinite(self.size)) or self.outline < 0 or self.shadow < 0:
            raise ValueError(f"ASS style {self.name!r} needs size > 0 and outline, shadow >= 0")

    def line(self) -> str:
        fields = [
            self.name, self.font, _number(self.size),
            ass_color(self.color), ass_color(self.color), ass_color(self.outline_color),
            ass_color(self.back_color, self.back_alpha),
            "-1" if self.bold else "0", "0", "0", "0", "100", "100", "0", "0",
            str(self.border_style), _number(self.outline), _number(self.shadow),
            str(self.alignment), str(self.margin_l), str(self.margin_r), str(self.margin_v), "1",
        ]  # fmt: skip
        return "Style: " + ",".join(fields)


@dataclass(frozen=True, slots=True)
class AssEvent:
    """One ``Dialogue`` line: times in seconds, ``text`` already ASS (escaped + tags)."""

    start: float
    end: float
    style: str
    text: str
    layer: int = 0

    def line(self) -> str:
        if "\n" in self.text or "\r" in self.text:
            raise ValueError("ASS event text must use \\N for line breaks, not a raw newline")
        return f"Dialogue: {self.layer},{ass_time(self.start)},{ass_time(self.end)},{self.style},,0,0,0,,{self.text}"


_STYLE_FORMAT: Final[str] = (
    "Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, "
    "Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, "
    "Shadow, Alignment, MarginL, MarginR, MarginV, Encoding"
)
_EVENT_FORMAT: Final[str] = "Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text"


def ass_document(
    *,
    width: int,
    height: int,
    styles: Sequence[AssStyle],
    events: Sequence[AssEvent],
    wrap_style: int = 0,
    title: str = "LangFlix",
) -> str:
    """A whole ASS script for a ``width`` x ``height`` output.

    ``wrap_style`` 0 lets libass wrap a line that is still too wide (smart, even
    lines), after the breaks the caller made. ``YCbCr Matrix: None`` keeps
    libass from adjusting the colours: they are drawn as given.
    """
    if width < 1 or height < 1:
        raise ValueError(f"an ASS document needs a positive size, got {width}x{height}")
    names = [style.name for style in styles]
    unknown = sorted({event.style for event in events} - set(names))
    if unknown or len(set(names)) != len(names):
        raise ValueError(f"ASS events use undefined or duplicate styles: {unknown or names}")
    lines = [
        "[Script Info]",
        f"Title: {' '.join(_CONTROL.sub('', title).split())}",
        "ScriptType: v4.00+",
        f"PlayResX: {width}",
        f"PlayResY: {height}",
        f"WrapStyle: {wrap_style}",
        "ScaledBorderAndShadow: yes",
        "YCbCr Matrix: None",
        "",
        "[V4+ Styles]",
        _STYLE_FORMAT,
        *(style.line() for style in styles),
        "",
        "[Events]",
        _EVENT_FORMAT,
        *(event.line() for event in events),
    ]
    return "\n".join(lines) + "\n"


def write_ass(area: TempArea, document: str, *, prefix: str = "subs_") -> Path:
    """``document`` written to a new ``.ass`` file in ``area`` (UTF-8); the caller releases it."""
    path = area.new_file(suffix=".ass", prefix=prefix)
    try:
        path.write_text(document, encoding="utf-8")
    except BaseException:
        area.release(path)
        raise
    return path


def ass_filter(path: Path, *, fontsdir: Path | None = None) -> str:
    """The ``ass`` filter drawing the file at ``path``, quoted for a filter graph.

    Only the path (and a fonts directory) reaches the graph: whatever the text,
    it cannot change the filters. libass opens the path itself, so it is given
    plain (no ``file:`` prefix) and absolute.
    """
    options = [f"filename={escape_filter_value(str(Path(path).absolute()))}"]
    if fontsdir is not None:
        options.append(f"fontsdir={escape_filter_value(str(Path(fontsdir).absolute()))}")
    return "ass=" + ":".join(options)


def _number(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")
