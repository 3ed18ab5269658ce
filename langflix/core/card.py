"""The lesson's card as an ASS document: what the expression is, means and says.

From top to bottom, centred: its kind and level ("PHRASAL VERB · INTERMEDIATE"),
the expression (large, bold), its meaning, the line it comes from in quotes with
the expression lit up as in the scene, that line's translation, and one or two
similar expressions. Every block is broken into lines here with libass's widths
(:mod:`langflix.core.fonts`), so the layout is known before anything is drawn:
when the blocks would not fit the safe area, every size is scaled down together
until they do (:func:`layout_card` computes the scale). Only a text too long to
fit even at :data:`MIN_SCALE` loses lines, marked with "…" and logged.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, replace
from typing import Final

from langflix.core.ass import AssEvent, AssStyle, ass_document, markup_lines
from langflix.core.expressions import Expression, expression_spans
from langflix.core.fonts import DEFAULT_FONT_FAMILY, TextMeasure, text_measure
from langflix.core.subtitle_render import HIGHLIGHT_COLOR, TRANSLATION_COLOR, highlight_tags
from langflix.core.text_layout import Segment, line_segments, wrap_lines

__all__ = [
    "CARD_BACKGROUND",
    "KIND_LABELS",
    "MIN_SCALE",
    "CardBlock",
    "CardLayout",
    "CardText",
    "card_ass",
    "layout_card",
]

logger = logging.getLogger(__name__)

CARD_BACKGROUND: Final[str] = "#1B2440"
"""The colour to draw the card on (the colours below are chosen against it)."""

KIND_LABELS: Final[dict[str, str]] = {
    "collocation": "collocation",
    "idiom": "idiom",
    "phrasal_verb": "phrasal verb",
}

MIN_SCALE: Final[float] = 0.35
"""The smallest the card's text is drawn (at 720p the meaning is then 13 px tall)."""

_MARGIN_X: Final[float] = 0.07
_MARGIN_Y: Final[float] = 0.08
_WRAP_ROOM: Final[float] = 0.96
_SHRINK_STEP: Final[float] = 0.92
_ELLIPSIS: Final[str] = "…"


@dataclass(frozen=True, slots=True)
class _Role:
    size: float  # share of the output height
    color: str
    gap: float  # space after the block, share of the output height
    bold: bool = False


_ROLES: Final[dict[str, _Role]] = {
    "label": _Role(0.038, "#8FA3C8", 0.018),
    "expression": _Role(0.10, "#FFFFFF", 0.03, bold=True),
    "meaning": _Role(0.05, "#E8ECF5", 0.06),
    "line": _Role(0.046, "#D8DCE8", 0.014),
    "translation": _Role(0.046, TRANSLATION_COLOR, 0.05),
    "similar": _Role(0.038, "#8FA3C8", 0.0),
}
# Which block gives up lines first when even MIN_SCALE is too big (the expression last).
_TRUNCATION_ORDER: Final[tuple[str, ...]] = ("similar", "meaning", "translation", "line", "label", "expression")


@dataclass(frozen=True, slots=True)
class CardText:
    """What a card says; ``line_highlights`` are spans of ``line`` to light up."""

    expression: str
    kind: str | None = None
    level: str | None = None
    meaning: str | None = None
    line: str | None = None
    line_highlights: tuple[tuple[int, int], ...] = ()
    translation: str | None = None
    similar: tuple[str, ...] = ()

    @classmethod
    def from_expression(cls, expression: Expression) -> CardText:
        """The card of a chosen expression: its cue is the line, lit where the phrase is said."""
        line = expression.cue.text
        return cls(
            expression=expression.phrase,
            kind=expression.kind,
            level=expression.level,
            meaning=expression.meaning,
            line=line,
            line_highlights=tuple(expression_spans(expression.phrase, line)),
            translation=expression.translation,
            similar=expression.similar,
        )


@dataclass(frozen=True, slots=True)
class CardBlock:
    """One block placed on the card: its lines, font size and top edge (script pixels)."""

    role: str
    lines: tuple[tuple[Segment, ...], ...]
    size: float
    top: float

    @property
    def bottom(self) -> float:
        return self.top + self.size * len(self.lines)


@dataclass(frozen=True, slots=True)
class CardLayout:
    """Where everything on a ``width`` x ``height`` card goes, at ``scale`` of full size."""

    width: int
    height: int
    scale: float
    blocks: tuple[CardBlock, ...]
    truncated: bool
    font: str = DEFAULT_FONT_FAMILY

    @property
    def safe_box(self) -> tuple[float, float, float, float]:
        """``(left, top, right, bottom)`` that every block stays inside."""
        mx, my = self.width * _MARGIN_X, self.height * _MARGIN_Y
        return mx, my, self.width - mx, self.height - my

    def to_ass(self, duration: float) -> str:
        """The card as an ASS document showing from 0 to ``duration`` seconds."""
        if not (math.isfinite(duration) and duration > 0):
            raise ValueError(f"a card needs a duration > 0 s, got {duration}")
        margin = round(self.width * _MARGIN_X)
        styles = []
        events = []
        for block in self.blocks:
            role = _ROLES[block.role]
            styles.append(
                AssStyle(
                    name=block.role.capitalize(), font=self.font, size=round(block.size, 2), color=role.color,
                    bold=role.bold, outline=0, shadow=0, alignment=8, margin_l=margin, margin_r=margin,
                )  # fmt: skip
            )
            lit, unlit = highlight_tags(HIGHLIGHT_COLOR, role.color)
            text = markup_lines(block.lines, lit=lit, unlit=unlit)
            position = f"{{\\pos({self.width / 2:.1f},{block.top:.1f})}}"
            events.append(AssEvent(0.0, duration, block.role.capitalize(), position + text))
        return ass_document(width=self.width, height=self.height, styles=styles, events=events)


def layout_card(
    text: CardText,
    *,
    width: int,
    height: int,
    font: str = DEFAULT_FONT_FAMILY,
    measure: TextMeasure | None = None,
) -> CardLayout:
    """Place the card's blocks, as large as they fit (see the module's docstring)."""
    if not text.expression.strip():
        raise ValueError("a card needs the expression to show")
    if width < 16 or height < 16:
        raise ValueError(f"a card needs a size of at least 16x16, got {width}x{height}")
    measure = measure or text_measure(font)
    pieces = _pieces(text)
    box_width = width * (1 - 2 * _MARGIN_X) * _WRAP_ROOM
    box_height = height * (1 - 2 * _MARGIN_Y)
    scale = 1.0
    while True:
        wrapped = {role: _wrap(piece, height * _ROLES[role].size * scale, box_width, role, measure)
                   for role, piece in pieces.items()}  # fmt: skip
        if _height(wrapped, height, scale) <= box_height:
            truncated = False
            break
        if scale * _SHRINK_STEP < MIN_SCALE:
            scale = MIN_SCALE
            wrapped = {role: _wrap(piece, height * _ROLES[role].size * scale, box_width, role, measure)
                       for role, piece in pieces.items()}  # fmt: skip
            wrapped, truncated = _truncate(wrapped, height, scale, box_height)
            break
        scale *= _SHRINK_STEP
    blocks = _place(wrapped, height, scale, box_height)
    if truncated:
        logger.warning(
            "the card for %r does not fit even at %.0f%% size; shortened it", text.expression, 100 * MIN_SCALE
        )
    return CardLayout(width, height, scale, blocks, truncated, font)


def card_ass(text: CardText, *, width: int, height: int, duration: float, measure: TextMeasure | None = None) -> str:
    """:func:`layout_card` then :meth:`CardLayout.to_ass`: the card's ASS document."""
    return layout_card(text, width=width, height=height, measure=measure).to_ass(duration)


# --------------------------------------------------------------------------- helpers


@dataclass(frozen=True, slots=True)
class _Piece:
    text: str
    highlights: tuple[tuple[int, int], ...] = ()


def _pieces(text: CardText) -> dict[str, _Piece]:
    """The text of each block, in order from the top; empty blocks are left out."""
    pieces: dict[str, _Piece] = {}
    label = " · ".join(
        part for part in (KIND_LABELS.get(text.kind or "", text.kind or ""), text.level or "") if part
    )
    if label:
        pieces["label"] = _Piece(label.upper())
    pieces["expression"] = _Piece(" ".join(text.expression.split()))
    if text.meaning and text.meaning.strip():
        pieces["meaning"] = _Piece(text.meaning.strip())
    if text.line and text.line.strip():
        # Same length replacements, so the highlight offsets still hold (+1 for the quote).
        line = text.line.replace("\r", " ").replace("\n", " ")
        shifted = tuple((start + 1, end + 1) for start, end in text.line_highlights)
        pieces["line"] = _Piece(f"“{line}”", shifted)
    if text.translation and text.translation.strip():
        pieces["translation"] = _Piece(" ".join(text.translation.split()))
    similar = [" ".join(s.split()) for s in text.similar if s.strip()]
    if similar:
        pieces["similar"] = _Piece("Similar: " + " · ".join(similar))
    return pieces


def _wrap(piece: _Piece, size: float, width: float, role: str, measure: TextMeasure) -> list[list[Segment]]:
    spans = wrap_lines(
        piece.text, size=size, max_width=width, measure=measure, bold=_ROLES[role].bold, highlights=piece.highlights
    )
    return line_segments(piece.text, spans, piece.highlights)


def _height(wrapped: dict[str, list[list[Segment]]], height: int, scale: float) -> float:
    roles = [role for role, lines in wrapped.items() if lines]
    total = sum(height * _ROLES[role].size * scale * len(wrapped[role]) for role in roles)
    total += sum(height * _ROLES[role].gap * scale for role in roles[:-1])
    return total


def _truncate(
    wrapped: dict[str, list[list[Segment]]], height: int, scale: float, box_height: float
) -> tuple[dict[str, list[list[Segment]]], bool]:
    """Drop lines, least important block first, until the card fits; mark each cut with "…"."""
    wrapped = {role: list(lines) for role, lines in wrapped.items()}
    cut = False
    for role in _TRUNCATION_ORDER:
        while role in wrapped and _height(wrapped, height, scale) > box_height:
            lines = wrapped[role]
            if len(lines) <= 1 and role != "expression":
                del wrapped[role]
            elif len(lines) <= 1:
                break  # the expression's one line always stays
            else:
                lines.pop()
                last = lines[-1]
                lines[-1] = [*last[:-1], replace(last[-1], text=last[-1].text.rstrip() + _ELLIPSIS)]
            cut = True
    return wrapped, cut


def _place(
    wrapped: dict[str, list[list[Segment]]], height: int, scale: float, box_height: float
) -> tuple[CardBlock, ...]:
    """Blocks stacked top to bottom, the whole group centred vertically."""
    roles = [role for role, lines in wrapped.items() if lines]
    top = height * _MARGIN_Y + (box_height - _height(wrapped, height, scale)) / 2
    blocks = []
    for role in roles:
        size = height * _ROLES[role].size * scale
        block = CardBlock(role, tuple(tuple(line) for line in wrapped[role]), size, top)
        blocks.append(block)
        top = block.bottom + height * _ROLES[role].gap * scale
    return tuple(blocks)
