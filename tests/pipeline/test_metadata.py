"""Upload metadata as pure functions: titles, descriptions with meanings, chapters, tags, in the sites' limits."""

from __future__ import annotations

import json

import pytest

import langflix.pipeline.metadata as module
from langflix.core.expressions import Expression
from langflix.core.subtitles import Cue
from langflix.pipeline.metadata import (
    DESCRIPTION_MAX_CHARS,
    TAGS_MAX_CHARS,
    TITLE_MAX_CHARS,
    Chapter,
    ShortRecord,
    build_metadata,
    chapter_time,
    metadata_text,
)


def _expression(phrase: str, meaning: str = "a meaning", translation: str | None = "번역") -> Expression:
    return Expression(phrase, Cue(1.0, 2.0, f"Well, {phrase}."), 0.0, 3.0, "phrasal_verb", meaning, translation)


def test_each_short_and_the_compilation_get_what_an_uploader_needs() -> None:
    ice, up = _expression("break the ice", "to start talking"), _expression("give up", "to stop trying", None)
    metadata = build_metadata(
        episode="Friends S01E01",
        shorts=[ShortRecord(1, ice, "01-break-the-ice.short.mp4", 9.5, "01-break-the-ice.png"),
                ShortRecord(2, up, "02-give-up.short.mp4", 7.25, "02-give-up.png")],  # fmt: skip
        compilation=("compilation.mp4", 75.5, "compilation.png"),
        chapters=[Chapter(0.0, ice), Chapter(65.04, up)],
    )
    assert metadata["version"] == 1 and metadata["episode"] == "Friends S01E01"
    short, second, compilation = metadata["videos"]
    assert short["file"] == "01-break-the-ice.short.mp4" and short["kind"] == "short" and short["index"] == 1
    assert short["title"] == "“break the ice” — 번역 | Friends S01E01"
    assert "break the ice (phrasal verb): to start talking — 번역" in short["description"]
    assert "“Well, break the ice.”" in short["description"]
    assert short["thumbnail"] == "01-break-the-ice.png" and short["duration"] == 9.5
    assert {"shorts", "break the ice", "friends s01e01"} <= set(short["tags"])
    assert second["title"] == "“give up” | Friends S01E01"
    assert compilation["kind"] == "compilation" and compilation["thumbnail"] == "compilation.png"
    assert compilation["chapters"] == [
        {"start": 0.0, "timestamp": "0:00", "title": "break the ice"},
        {"start": 65.04, "timestamp": "1:05", "title": "give up"},
    ]
    assert compilation["description"].endswith("Chapters:\n0:00 break the ice\n1:05 give up")
    assert "give up (phrasal verb): to stop trying" in compilation["description"]
    assert compilation["title"] == "2 English expressions from Friends S01E01"


def test_limits_hold_whatever_the_text() -> None:
    long = _expression("x" * 300, "y " * 3000, "z" * 200)
    metadata = build_metadata(
        episode="e" * 150, shorts=[ShortRecord(1, long, "01.short.mp4", 1.0)],
        compilation=("compilation.mp4", 1.0, None), chapters=[Chapter(0.0, long)] * 60,
    )  # fmt: skip
    for video in metadata["videos"]:
        assert len(video["title"]) <= TITLE_MAX_CHARS and video["title"].endswith("…")
        assert len(video["description"]) <= DESCRIPTION_MAX_CHARS
        assert len(",".join(video["tags"])) <= TAGS_MAX_CHARS
        assert all("," not in tag and "<" not in tag for tag in video["tags"])


def test_no_compilation_no_entry() -> None:
    assert build_metadata(episode="e")["videos"] == []


@pytest.mark.parametrize(("seconds", "text"), [(0.0, "0:00"), (59.99, "0:59"), (61.0, "1:01"), (3725.0, "1:02:05")])
def test_chapter_times(seconds: float, text: str) -> None:
    assert chapter_time(seconds) == text


def test_the_text_is_json_with_korean_as_text() -> None:
    text = metadata_text(build_metadata(episode="에피소드"))
    assert "에피소드" in text and json.loads(text)["episode"] == "에피소드"


def test_exports() -> None:
    assert module.__all__ == sorted(module.__all__)
    assert all(hasattr(module, name) for name in module.__all__)
