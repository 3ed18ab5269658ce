"""Tests for langflix.core.fonts: fontconfig's faces and widths libass really draws."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from support.frames import frame_rgb

from langflix.core.ass import AssEvent, AssStyle, ass_document, ass_filter, escape_text
from langflix.core.fonts import DEFAULT_FONT_FAMILY, TextMeasure, find_font_file, text_measure


def test_fontconfig_gives_the_korean_face_of_the_cjk_collection() -> None:
    regular = find_font_file(DEFAULT_FONT_FAMILY)
    bold = find_font_file(DEFAULT_FONT_FAMILY, bold=True)
    assert regular is not None and bold is not None
    assert regular.path.suffix == ".ttc" and regular.path != bold.path
    assert (regular.family, regular.bold, bold.bold) == (DEFAULT_FONT_FAMILY, False, True)


def test_a_missing_family_is_none_not_a_substitute() -> None:
    assert find_font_file("No Such Font Family 42") is None


def test_widths_scale_with_size_and_bold_is_wider() -> None:
    measure = text_measure()
    assert measure.exact
    text = "Hello world 안녕하세요"
    assert measure.width(text, 80) == pytest.approx(2 * measure.width(text, 40))
    assert measure.width(text, 40, bold=True) > measure.width(text, 40)
    assert measure.width("\u2060\u0301", 40) == 0  # invisible and combining characters take no room
    assert measure.width("😀", 40) > 0  # from the fallback font
    assert measure.line_height(40) == 40


def test_the_measure_is_loaded_once_however_the_family_is_named() -> None:
    assert text_measure() is text_measure(DEFAULT_FONT_FAMILY) is text_measure(family=DEFAULT_FONT_FAMILY)


def test_without_fonts_widths_are_estimated_not_zero() -> None:
    estimate = TextMeasure(None)
    assert not estimate.exact
    assert estimate.width("한국어", 40) > estimate.width("abc", 40) > 0


def _ink_width(tmp_path: Path, text: str, size: int, *, bold: bool) -> int:
    style = AssStyle("T", DEFAULT_FONT_FAMILY, size, bold=bold, outline=0, alignment=7)
    event = AssEvent(0, 5, "T", "{\\pos(20,20)}" + escape_text(text))
    ass = tmp_path / "t.ass"
    ass.write_text(ass_document(width=1600, height=200, styles=[style], events=[event], wrap_style=2))
    out = tmp_path / "t.png"
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "color=c=black:s=1600x200:d=1",
         "-vf", ass_filter(ass), "-frames:v", "1", str(out)],
        check=True, timeout=60,
    )  # fmt: skip
    columns = [x for x, _ in frame_rgb(out, 0).where(lambda r, g, b: r > 100)]
    return max(columns) - min(columns)


@pytest.mark.slow
@pytest.mark.parametrize("bold", [False, True])
def test_measured_width_matches_what_libass_draws(tmp_path: Path, bold: bool) -> None:
    text = "So you finally figured it out? 그래서 결국 알아냈구나!"
    predicted = text_measure().width(text, 60, bold=bold)
    drawn = _ink_width(tmp_path, text, 60, bold=bold)
    # Ink is a little narrower than the advances (side bearings); never wider.
    assert 0.95 * predicted <= drawn <= 1.01 * predicted
