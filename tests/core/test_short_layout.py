"""The short's layout as geometry: every line inside a band, inside the frame, never over the scene's line."""

from __future__ import annotations

import re

import pytest

import langflix.core.short_layout as module
from langflix.core.ass import AssEvent
from langflix.core.fonts import text_measure
from langflix.core.short_layout import MAX_PICTURE_SHARE, Box, ShortLayout, ShortText, layout_short
from langflix.core.subtitle_render import SceneCue, scene_ass

TEXT = ShortText(
    "break the ice",
    caption="IDIOM · INTERMEDIATE",
    translation="여러분, 회의 전에 어색한 분위기를 깨 봅시다.",
    meaning="to make people feel relaxed enough to start talking",
    episode="Friends S01E01",
)
LONG = ShortText(
    "get the ball rolling on something that nobody wanted to start " * 3,
    caption="IDIOM · ADVANCED",
    translation="솔직히이시험은식은죽먹기야오늘건물사람들모두에게벌써두번이나말했으니긴장풀어" * 4,
    meaning="to start an activity, especially one that other people will then join in with " * 6,
    episode="A very long episode name that goes on and on " * 3,
)
SIZES = [(1080, 1920), (216, 384), (1080, 1080)]
SOURCES = [(1280, 720), (720, 1280)]


def _check(layout: ShortLayout) -> None:
    frame = Box(0, 0, layout.width, layout.height)
    assert layout.lines, "the expression is always drawn"
    assert any(line.role == "expression" for line in layout.lines)
    for line in layout.lines:
        # Outline (6 % of the size) is drawn around each glyph: counted in the box checked.
        pad = line.size * 0.06
        drawn = Box(line.box.left - pad, line.box.top - pad, line.box.right + pad, line.box.bottom + pad)
        assert frame.contains(drawn), f"{line.role} {line.text!r} leaves the frame: {drawn}"
        assert any(band.contains(line.box) for band in layout.bands), f"{line.role} is outside the bands"
        assert not layout.subtitles.overlaps(line.box), f"{line.role} covers the scene's subtitles"
    # Lines never overlap one another.
    boxes = sorted((line.box for line in layout.lines), key=lambda b: b.top)
    for upper, lower in zip(boxes, boxes[1:], strict=False):
        assert upper.bottom <= lower.top + 0.5


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("fit", ["letterbox", "crop"])
@pytest.mark.parametrize("text", [TEXT, LONG], ids=["usual", "long"])
def test_text_stays_in_its_bands(
    size: tuple[int, int], source: tuple[int, int], fit: str, text: ShortText
) -> None:
    layout = layout_short(text, width=size[0], height=size[1], source_width=source[0], source_height=source[1],
                          fit=fit)  # type: ignore[arg-type]  # fmt: skip
    _check(layout)


def test_the_usual_text_is_drawn_whole_and_in_order() -> None:
    layout = layout_short(TEXT, width=1080, height=1920, source_width=1280, source_height=720)
    assert not layout.truncated
    roles = [line.role for line in layout.lines]
    assert roles == ["episode", "caption", "expression", "translation", "meaning"]
    top, bottom = layout.bands
    assert all(top.contains(line.box) for line in layout.lines[:3])
    assert all(bottom.contains(line.box) for line in layout.lines[3:])
    assert "".join(line.text for line in layout.lines if line.role == "translation") == TEXT.translation


def test_a_letterbox_keeps_the_whole_scene_at_full_width() -> None:
    layout = layout_short(TEXT, width=1080, height=1920, source_width=1280, source_height=720)
    assert (layout.picture.width, layout.picture.height) == (1080, 606)
    assert layout.picture.top == pytest.approx((1920 - 606) / 2, abs=2)
    assert layout.picture_filters(1280, 720)[:2] == ["scale=1080:606", "pad=1080:1920:0:656:color=black"]
    assert layout.shade_filters() == []


def test_a_vertical_source_still_leaves_room_for_the_text() -> None:
    layout = layout_short(TEXT, width=1080, height=1920, source_width=720, source_height=1280)
    assert layout.picture.height <= 1920 * MAX_PICTURE_SHARE
    assert all(band.height >= 1920 * (1 - MAX_PICTURE_SHARE) / 2 - 2 for band in layout.bands)
    assert not layout.truncated


def test_a_crop_fills_the_frame_and_keeps_its_subtitles_between_the_bands() -> None:
    layout = layout_short(TEXT, width=1080, height=1920, source_width=1280, source_height=720, fit="crop")
    assert layout.picture == Box(0, 0, 1080, 1920)
    assert layout.picture_filters(1280, 720) == [
        "scale=1080:1920:force_original_aspect_ratio=increase", "crop=1080:1920", "setsar=1",
    ]  # fmt: skip
    assert len(layout.shade_filters()) == 2
    subtitles = layout.subtitle_layout()
    # The scene's own line, laid out by its renderer with that layout, stays inside the subtitle area.
    cue = SceneCue(0.0, 2.0, "Hi everyone, let's break the ice before the meeting. " * 2, TEXT.translation)
    document = scene_ass([cue], clip_start=0.0, clip_end=2.0, width=1080, height=1920, layout=subtitles)
    margin_v = int(next(line for line in document.splitlines() if line.startswith("Style: English")).split(",")[-2])
    assert 1920 - margin_v == pytest.approx(layout.subtitles.bottom, abs=1)
    event = next(line for line in document.splitlines() if line.startswith("Dialogue:"))
    sizes = [float(s) for s in re.findall(r"\\fs([0-9.]+)", event)] or [1920 * 0.058, 1920 * 0.05]
    rows = event.count("\\N") + 1
    assert rows * text_measure().line_height(max(sizes)) <= layout.subtitles.height


def test_the_ass_document_draws_each_line_where_it_was_laid_out() -> None:
    layout = layout_short(TEXT, width=1080, height=1920, source_width=1280, source_height=720)
    document = layout.to_ass(5.0)
    assert "WrapStyle: 2" in document  # libass must not break the lines again
    dialogues = [line for line in document.splitlines() if line.startswith("Dialogue:")]
    assert len(dialogues) == len(layout.lines)
    for text, line in zip(dialogues, layout.lines, strict=True):
        x, y = (float(v) for v in re.search(r"\\pos\(([0-9.]+),([0-9.]+)\)", text).groups())  # type: ignore[union-attr]
        assert x == pytest.approx((line.box.left + line.box.right) / 2, abs=0.1)
        assert y == pytest.approx(line.box.top, abs=0.1)
        assert AssEvent  # the document's events are ASS dialogue lines
    assert "0:00:05.00" in dialogues[0]


def test_text_that_cannot_fit_is_shortened_and_said_so() -> None:
    huge = ShortText(LONG.expression, meaning=LONG.meaning * 8, translation=LONG.translation * 4)
    layout = layout_short(huge, width=216, height=384, source_width=1280, source_height=720)
    assert layout.truncated
    assert any(line.text.endswith("…") for line in layout.lines) or len(layout.lines) < 5
    _check(layout)


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"text": ShortText("  ")}, "expression"),
        ({"width": 8}, "at least 16x16"),
        ({"fit": "stretch"}, "letterbox"),
    ],
)
def test_bad_input_is_refused(kwargs: dict[str, object], needle: str) -> None:
    values: dict[str, object] = {"text": TEXT, "width": 1080, "height": 1920, "source_width": 1280,
                                 "source_height": 720} | kwargs  # fmt: skip
    text = values.pop("text")
    with pytest.raises(ValueError, match=needle):
        layout_short(text, **values)  # type: ignore[arg-type]


def test_exports() -> None:
    assert module.__all__ == sorted(module.__all__)
    assert all(hasattr(module, name) for name in module.__all__)
