"""Line breaking for text burned into video: balanced lines that fit a width.

libass wraps only at spaces and never breaks a word, so a long unbroken token
(a URL, a run of Korean without spaces) would leave the frame. Breaking here,
with the widths libass will use (:class:`~langflix.core.fonts.TextMeasure`),
tells the caller how many lines a text takes at a size before anything is
drawn: enough to shrink a card until it fits. Lines are balanced (the fewest
lines greedy wrapping needs, made as even as possible), as subtitlers do.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import accumulate
from typing import Final

from langflix.core.fonts import TextMeasure

__all__ = ["Segment", "line_segments", "wrap_lines"]

Span = tuple[int, int]

_WORD: Final = re.compile(r"\S+")
_BALANCE_STEPS: Final[int] = 18


@dataclass(frozen=True, slots=True)
class Segment:
    """A piece of one line, highlighted or not."""

    text: str
    highlighted: bool = False


def wrap_lines(
    text: str,
    *,
    size: float,
    max_width: float,
    measure: TextMeasure,
    bold: bool = False,
    highlights: Sequence[Span] = (),
) -> list[Span]:
    """Where ``text`` breaks into lines no wider than ``max_width`` at font ``size``.

    Returns ``(start, end)`` offsets into ``text``, one per line, without the
    spaces at a break; ``\\n`` always breaks. Characters inside ``highlights``
    (and all of them when ``bold``) are measured bold, as they are drawn. A word
    wider than the line is broken between characters. Empty paragraphs vanish.
    """
    if max_width <= 0 or size <= 0:
        raise ValueError(f"wrap_lines needs a positive size and width, got {size} and {max_width}")
    flags = [bold] * len(text)
    for start, end in highlights:
        for index in range(max(start, 0), min(end, len(text))):
            flags[index] = True
    widths = [measure.width(char, size, bold=flag) for char, flag in zip(text, flags, strict=True)]
    prefix = [0.0, *accumulate(widths)]
    lines: list[Span] = []
    offset = 0
    for paragraph in text.split("\n"):
        words = [(offset + m.start(), offset + m.end()) for m in _WORD.finditer(paragraph)]
        lines += _balanced(words, prefix, max_width)
        offset += len(paragraph) + 1
    return lines


def _balanced(words: Sequence[Span], prefix: Sequence[float], max_width: float) -> list[Span]:
    greedy = _greedy(words, prefix, max_width)
    if len(greedy) < 2:
        return greedy
    # The narrowest width that still needs no more lines gives the most even lines.
    low, high = 0.0, max_width
    best = greedy
    for _ in range(_BALANCE_STEPS):
        middle = (low + high) / 2
        trial = _greedy(words, prefix, middle)
        if len(trial) <= len(greedy):
            best, high = trial, middle
        else:
            low = middle
    return best


def _greedy(words: Sequence[Span], prefix: Sequence[float], limit: float) -> list[Span]:
    def width(start: int, end: int) -> float:
        return prefix[end] - prefix[start]

    lines: list[Span] = []
    current: Span | None = None
    for start, end in words:
        if current is not None and width(current[0], end) <= limit:
            current = (current[0], end)
            continue
        if current is not None:
            lines.append(current)
        # A word wider than the line: as many characters per line as fit (at least one).
        while width(start, end) > limit and end - start > 1:
            cut = start + 1
            while cut < end and width(start, cut + 1) <= limit:
                cut += 1
            lines.append((start, cut))
            start = cut
        current = (start, end)
    if current is not None:
        lines.append(current)
    return lines


def line_segments(text: str, lines: Sequence[Span], highlights: Sequence[Span] = ()) -> list[list[Segment]]:
    """Each line of ``text`` cut into plain and highlighted segments, in order."""
    result: list[list[Segment]] = []
    for start, end in lines:
        cuts = {start, end}
        for low, high in highlights:
            cuts.update(point for point in (low, high) if start < point < end)
        points = sorted(cuts)
        segments = []
        for low, high in zip(points, points[1:], strict=False):
            lit = any(a <= low and high <= b for a, b in highlights)
            segments.append(Segment(text[low:high], lit))
        result.append(segments)
    return result
