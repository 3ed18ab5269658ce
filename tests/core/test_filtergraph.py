"""Tests for langflix.core.filtergraph: a hostile path stays one filter option value."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from support.media import make_media, pattern

from langflix.core.filtergraph import escape_filter_value


def test_every_special_character_is_escaped_for_both_levels() -> None:
    assert escape_filter_value("plain/path.ass") == "plain/path.ass"
    assert escape_filter_value("a:b") == "a\\\\:b"
    assert escape_filter_value("a'b") == "a\\\\\\'b"
    assert escape_filter_value("a,b;c[d]") == "a\\,b\\;c\\[d\\]"
    assert escape_filter_value("a\\b") == "a\\\\\\\\b"


def test_line_breaks_are_refused() -> None:
    with pytest.raises(ValueError, match="line break"):
        escape_filter_value("a\nb")


@pytest.mark.slow
def test_ffmpeg_reads_a_hostile_path_as_one_value(tmp_path: Path) -> None:
    # A directory a user might choose, with every character the graph parsers treat specially.
    hostile = tmp_path / "we'ird: [dir], x;y %\\ z"
    hostile.mkdir()
    image = make_media(hostile / "a,b'c:d.png", video=pattern("32x32", 1, name="testsrc"), args=["-frames:v", "1"])
    out = tmp_path / "out.png"
    graph = f"movie=filename={escape_filter_value(str(image))},scale=16:16"
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i", graph, "-frames:v", "1", str(out)],
        check=True, timeout=60,
    )
    assert out.stat().st_size > 0
