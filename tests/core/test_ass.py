"""Tests for langflix.core.ass: escaping, styles, documents, and the filter that draws them."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pysubs2
import pytest
from support.frames import frame_rgb
from support.temp import temp_manager

from langflix.core.ass import (
    AssEvent,
    AssStyle,
    ass_color,
    ass_document,
    ass_filter,
    ass_tag_color,
    ass_time,
    escape_text,
    markup_lines,
    write_ass,
)
from langflix.core.text_layout import Segment

WJ = "\u2060"


@pytest.mark.parametrize(
    ("typed", "escaped"),
    [
        ("plain text, 100% \"quoted\" 'too'", "plain text, 100% \"quoted\" 'too'"),
        ("{\\an8}up", "\\{\\" + WJ + "an8\\}up"),
        ("a\\Nb", "a\\" + WJ + "Nb"),  # a typed backslash-N is text, not a line break
        ("C:\\new\\h", "C:\\" + WJ + "new\\" + WJ + "h"),
        ("trailing\\", "trailing\\" + WJ),  # cannot join a following tag into "\{"
        ("two\nlines\r\nthree\rfour", "two\\Nlines\\Nthree\\Nfour"),
        ("tab\there\x00nul", "tab herenul"),
        ("한국어 😀", "한국어 😀"),
    ],
)
def test_escape_text(typed: str, escaped: str) -> None:
    assert escape_text(typed) == escaped


def test_colors_and_times() -> None:
    assert ass_color("#FFB020") == "&H0020B0FF"
    assert ass_color("a8dcff", 128) == "&H80FFDCA8"
    assert ass_tag_color("#FFB020") == "&H20B0FF&"
    with pytest.raises(ValueError, match="colour like"):
        ass_color("orange")
    assert ass_time(0) == "0:00:00.00"
    assert ass_time(3723.456) == "1:02:03.46"
    assert ass_time(-1) == "0:00:00.00"
    with pytest.raises(ValueError, match="finite"):
        ass_time(float("nan"))


def test_markup_lines_wraps_highlights_in_tags() -> None:
    lines = [[Segment("So "), Segment("figured {it}", True)], [Segment("out", True)]]
    assert markup_lines(lines, lit="<", unlit=">") == "So <figured \\{it\\}>\\N<out>"


def test_styles_and_events_are_validated() -> None:
    with pytest.raises(ValueError, match="without commas"):
        AssStyle("a,b", "Font", 10)
    with pytest.raises(ValueError, match="size > 0"):
        AssStyle("a", "Font", 0)
    with pytest.raises(ValueError, match="raw newline"):
        AssEvent(0, 1, "a", "x\ny").line()
    with pytest.raises(ValueError, match="undefined or duplicate styles"):
        ass_document(width=10, height=10, styles=[AssStyle("a", "F", 5)], events=[AssEvent(0, 1, "b", "x")])


def test_a_document_parses_back_with_what_was_put_in() -> None:
    style = AssStyle("Main", "Noto Sans CJK KR", 41.5, color="#A8DCFF", bold=True, margin_v=22)
    doc = ass_document(
        width=1280, height=720, styles=[style], events=[AssEvent(1.25, 3.5, "Main", escape_text("a, b {c}"))]
    )
    subs = pysubs2.SSAFile.from_string(doc)
    assert (subs.info["PlayResX"], subs.info["PlayResY"]) == ("1280", "720")
    parsed = subs.styles["Main"]
    assert (parsed.fontname, parsed.fontsize, parsed.bold, parsed.marginv) == ("Noto Sans CJK KR", 41.5, True, 22)
    assert (parsed.primarycolor.r, parsed.primarycolor.g, parsed.primarycolor.b) == (0xA8, 0xDC, 0xFF)
    (event,) = subs.events
    assert (event.start, event.end, event.text) == (1250, 3500, "a, b \\{c\\}")


def test_write_ass_makes_a_tracked_file_in_the_area(tmp_path: Path) -> None:
    with temp_manager(tmp_path) as manager:
        path = write_ass(manager, "[Script Info]\n한국어\n", prefix="scene_")
        assert path.parent == manager.path and path.name.startswith("scene_") and path.suffix == ".ass"
        assert path.read_text(encoding="utf-8") == "[Script Info]\n한국어\n"
        manager.release(path)
        assert not path.exists()


@pytest.mark.slow
def test_the_filter_draws_a_file_from_a_hostile_directory(tmp_path: Path) -> None:
    hostile = tmp_path / "we'ird: [dir], x;y %\\ z"
    hostile.mkdir()
    ass = hostile / "subs'1:2.ass"
    style = AssStyle("S", "DejaVu Sans", 40, outline=0, alignment=5)
    ass.write_text(ass_document(width=160, height=90, styles=[style], events=[AssEvent(0, 5, "S", "XX")]))
    out = tmp_path / "out.png"
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "color=c=black:s=160x90:d=1",
         "-vf", ass_filter(ass, fontsdir=hostile), "-frames:v", "1", str(out)],
        check=True, timeout=60,
    )  # fmt: skip
    assert frame_rgb(out, 0).where(lambda r, g, b: r > 200), "the text was not drawn"
