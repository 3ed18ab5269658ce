"""Tests for langflix.core.text_layout: lines that fit, balanced, nothing lost."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from langflix.core.fonts import text_measure
from langflix.core.text_layout import Segment, line_segments, wrap_lines

MEASURE = text_measure()


def lines_of(text: str, width: float, size: float = 40, **kwargs) -> list[str]:
    return [text[a:b] for a, b in wrap_lines(text, size=size, max_width=width, measure=MEASURE, **kwargs)]


def test_a_short_line_stays_one_line() -> None:
    assert lines_of("Let's call it a day.", 1000) == ["Let's call it a day."]


def test_long_lines_are_balanced_not_greedy() -> None:
    text = "So you finally figured it out after all these years of trying, didn't you?"
    lines = lines_of(text, 600)
    assert len(lines) == 2
    widths = [MEASURE.width(line, 40) for line in lines]
    assert max(widths) <= 600 and abs(widths[0] - widths[1]) < 0.25 * max(widths)


def test_a_word_wider_than_the_line_is_broken_between_characters() -> None:
    word = "https://example.com/" + "x" * 80
    lines = lines_of(word, 300)
    assert "".join(lines) == word
    assert all(MEASURE.width(line, 40) <= 300 for line in lines)


def test_line_breaks_in_the_text_always_break() -> None:
    assert lines_of("One.\nTwo.\n\nThree.", 2000) == ["One.", "Two.", "Three."]


def test_highlighted_and_bold_text_is_measured_bold() -> None:
    text = "aaaa bbbb cccc dddd"
    plain = MEASURE.width(text, 40)
    assert len(lines_of(text, plain * 1.001)) == 1
    assert len(lines_of(text, plain * 1.001, bold=True)) == 2
    assert len(lines_of(text, plain * 1.001, highlights=[(0, 19)])) == 2


def test_bad_sizes_are_refused() -> None:
    with pytest.raises(ValueError, match="positive size and width"):
        wrap_lines("x", size=0, max_width=10, measure=MEASURE)


def test_segments_cut_lines_at_highlight_edges() -> None:
    text = "So you figured\nit out, right?"
    lines = wrap_lines(text, size=40, max_width=5000, measure=MEASURE)
    assert line_segments(text, lines, [(7, 21)]) == [
        [Segment("So you "), Segment("figured", True)],
        [Segment("it out", True), Segment(", right?")],
    ]


_TEXT = st.lists(
    st.sampled_from(["word", "a", "figured", "알아냈어", "supercalifragilistic", "I'm", "—", "😀", "\n"]),
    min_size=1, max_size=40,
).map(" ".join)


@settings(max_examples=200, deadline=None, database=None)
@given(text=_TEXT, width=st.floats(min_value=30, max_value=1200))
def test_every_line_fits_and_no_word_is_lost(text: str, width: float) -> None:
    spans = wrap_lines(text, size=40, max_width=width, measure=MEASURE)
    lines = [text[a:b] for a, b in spans]
    for line in lines:
        assert MEASURE.width(line, 40) <= width or len(line) == 1
    assert "".join("".join(lines).split()) == "".join(text.split())
    assert all(a < b for a, b in spans) and spans == sorted(spans)
