"""Tests for langflix.core.card: the layout is computed, and real frames prove it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pysubs2
import pytest
from support.frames import frame_rgb
from support.ocr import ocr, word_match_ratio

from langflix.core.ass import ass_filter
from langflix.core.card import CARD_BACKGROUND, MIN_SCALE, CardText, card_ass, layout_card
from langflix.core.expressions import expression_spans, select_expressions
from langflix.core.subtitles import Cue

LINE = "So you finally\nfigured it out, didn't you?"
CARD = CardText(
    expression="figure out",
    kind="phrasal_verb",
    level="intermediate",
    meaning="to understand or solve something",
    line=LINE,
    line_highlights=tuple(expression_spans("figure out", LINE)),
    translation="그래서 결국 알아냈구나, 그렇지?",
    similar=("work out", "sort out"),
)
LONG_MEANING = " ".join(
    ["to understand or solve something after thinking about it for a long time, often with great effort"] * 7
) + " and finally the last words"
LONG_LINE = (
    "Look, I know what it looks like, but I think we should give him the benefit of the doubt this one "
    "time, okay? He has never lied to us before, not once in all these years, and you know it."
)
LONG = CardText(
    expression="give someone the benefit of the doubt",
    kind="idiom",
    level="advanced",
    meaning=LONG_MEANING,
    line=LONG_LINE,
    line_highlights=tuple(expression_spans("give someone the benefit of the doubt", LONG_LINE)),
    translation=(
        "이번 한 번만 그를 믿어 주자, 알았지? 그는 한 번도 우리에게 거짓말을 한 적이 없어. "
        "너도 알잖아. 정말 마지막 기회야."
    ),
    similar=("trust someone",),
)


def test_a_normal_card_is_full_size_in_order_inside_the_safe_box() -> None:
    layout = layout_card(CARD, width=1280, height=720)
    assert (layout.scale, layout.truncated) == (1.0, False)
    assert [b.role for b in layout.blocks] == ["label", "expression", "meaning", "line", "translation", "similar"]
    left, top, right, bottom = layout.safe_box
    assert top <= layout.blocks[0].top and layout.blocks[-1].bottom <= bottom
    for upper, lower in zip(layout.blocks, layout.blocks[1:], strict=False):
        assert upper.bottom <= lower.top, "blocks overlap"
    texts = {b.role: "".join(s.text for line in b.lines for s in line) for b in layout.blocks}
    assert texts["label"] == "PHRASAL VERB · INTERMEDIATE"
    assert texts["line"] == "“So you finally figured it out, didn't you?”"
    assert texts["similar"] == "Similar: work out · sort out"
    lit = [s.text for b in layout.blocks if b.role == "line" for line in b.lines for s in line if s.highlighted]
    assert "".join(lit) == "figured it out"


def test_a_long_card_shrinks_until_it_fits_and_keeps_every_word() -> None:
    layout = layout_card(LONG, width=1280, height=720)
    assert MIN_SCALE <= layout.scale < 1 and not layout.truncated
    _, top, _, bottom = layout.safe_box
    assert top - 0.01 <= layout.blocks[0].top and layout.blocks[-1].bottom <= bottom + 0.01
    meaning = next(b for b in layout.blocks if b.role == "meaning")
    assert " ".join("".join(s.text for s in line) for line in meaning.lines) == LONG_MEANING


def test_text_too_long_for_the_smallest_size_is_shortened_visibly() -> None:
    endless = CardText("figure out", meaning="word " * 3000, translation="말 " * 500, similar=("work out",))
    layout = layout_card(endless, width=640, height=360)
    assert layout.scale == MIN_SCALE and layout.truncated
    assert layout.blocks[-1].bottom <= layout.safe_box[3]
    roles = [b.role for b in layout.blocks]
    assert "expression" in roles and "similar" not in roles
    meaning = next(b for b in layout.blocks if b.role == "meaning")
    assert meaning.lines[-1][-1].text.endswith("…")


def test_the_card_of_a_chosen_expression() -> None:
    (picked,) = select_expressions([Cue(1, 3, "Don't spill the beans, okay?")], 1)
    text = CardText.from_expression(picked)
    assert (text.expression, text.kind, text.level, text.similar) == (
        "spill the beans", "idiom", "intermediate", ("let the cat out of the bag",)
    )
    assert text.line is not None
    assert [text.line[a:b] for a, b in text.line_highlights] == ["spill the beans"]


def test_the_document_parses_and_names_no_text_outside_events() -> None:
    doc = card_ass(CARD, width=1280, height=720, duration=3.0)
    subs = pysubs2.SSAFile.from_string(doc)
    assert {e.style for e in subs.events} == {"Label", "Expression", "Meaning", "Line", "Translation", "Similar"}
    assert all((e.start, e.end) == (0, 3000) for e in subs.events)
    assert subs.styles["Expression"].bold and subs.styles["Expression"].fontsize > subs.styles["Meaning"].fontsize


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"width": 8, "height": 8}, "at least 16x16")],
)
def test_bad_sizes_are_refused(kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        layout_card(CARD, **kwargs)
    with pytest.raises(ValueError, match="needs the expression"):
        layout_card(CardText("  "), width=640, height=360)
    with pytest.raises(ValueError, match="duration > 0"):
        layout_card(CARD, width=640, height=360).to_ass(0)


# --------------------------------------------------------------------------- real frames


def draw(doc: str, folder: Path, width: int, height: int) -> Path:
    ass = folder / "card.ass"
    ass.write_text(doc, encoding="utf-8")
    out = folder / "card.png"
    color = "0x" + CARD_BACKGROUND.lstrip("#")
    background = f"color=c={color}:s={width}x{height}:d=1"
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i", background,
         "-vf", ass_filter(ass), "-frames:v", "1", "-update", "1", str(out)],
        check=True, timeout=60,
    )  # fmt: skip
    return out


def text_pixel(r: int, g: int, b: int) -> bool:
    return max(r, g, b) > 110  # the background is (27, 36, 64)


@pytest.mark.slow
def test_a_card_frame_reads_back_the_expression_and_its_meaning(tmp_path: Path) -> None:
    png = draw(card_ass(CARD, width=640, height=360, duration=2), tmp_path, 640, 360)
    text = ocr(png)
    assert word_match_ratio("figure out", text) == 1.0, text
    assert word_match_ratio("to understand or solve something", text) >= 0.8, text
    assert word_match_ratio("So you finally figured it out, didn't you?", text) >= 0.8, text
    assert word_match_ratio("그래서 결국 알아냈구나, 그렇지?", text) >= 0.8, text
    amber = frame_rgb(png, 0).where(lambda r, g, b: r > 200 and 120 < g < 210 and b < 110)
    assert len(amber) > 100, "the expression inside the line is not lit"


@pytest.mark.slow
def test_a_long_card_frame_cuts_nothing_off(tmp_path: Path) -> None:
    layout = layout_card(LONG, width=1280, height=720)
    png = draw(layout.to_ass(2), tmp_path, 1280, 720)
    pixels = frame_rgb(png, 0).where(text_pixel)
    left, top, right, bottom = layout.safe_box
    xs, ys = [x for x, _ in pixels], [y for _, y in pixels]
    assert left - 2 <= min(xs) and max(xs) <= right + 2, (min(xs), max(xs), layout.safe_box)
    assert top - 2 <= min(ys) and max(ys) <= bottom + 2, (min(ys), max(ys), layout.safe_box)
    # Read the end of every long block: the last meaning line down to the translation.
    meaning, translation = (next(b for b in layout.blocks if b.role == role) for role in ("meaning", "translation"))
    first = round(meaning.bottom - meaning.size - 4)
    text = ocr(png, upscale=1, crop=(0, first, 1280, round(translation.bottom + 8) - first))
    assert word_match_ratio("and finally the last words", text) == 1.0, text
    assert word_match_ratio("not once in all these years, and you know it.", text) >= 0.8, text
    assert word_match_ratio("정말 마지막 기회야", text) >= 0.8, text
