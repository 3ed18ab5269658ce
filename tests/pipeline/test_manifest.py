"""The manifest as pure functions: built from plain values, read back as the CLI's summary."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

import langflix.pipeline.manifest as module
from langflix.core.expressions import Expression
from langflix.core.output_format import OutputFormat
from langflix.core.subtitles import Cue
from langflix.pipeline.lesson import LessonPlan, Window
from langflix.pipeline.manifest import (
    COMPILATION_NAME,
    COMPILATION_THUMBNAIL,
    DECK_NAME,
    DECK_TSV_NAME,
    MANIFEST_NAME,
    DeckRecord,
    LessonRecord,
    SummaryRow,
    build_manifest,
    lesson_file_name,
    manifest_text,
    summary_rows,
    thumbnail_file_name,
    translation_note,
)
from langflix.pipeline.metadata import METADATA_NAME
from langflix.pipeline.options import PipelineOptions

CREATED = datetime(2026, 12, 1, 9, 30, 15, 123456, tzinfo=UTC)


def _lesson(phrase: str, start: float, translation: str | None = None) -> LessonRecord:
    cue = Cue(start, start + 1.23456, f"Well, {phrase}.")
    expression = Expression(
        phrase, cue, start - 2, start + 3, "idiom", "a meaning", translation, level="beginner", similar=("x",)
    )
    plan = LessonPlan(Window(start - 2, start + 3.0004), Window(start - 0.2, start + 1.43456))
    file = lesson_file_name(0, phrase)
    return LessonRecord(
        expression, file, plan, card_seconds=3.0, duration=9.87654, thumbnail=thumbnail_file_name(file),
        translation_source="translation_file" if translation else None,
    )  # fmt: skip


def _manifest(**changes: object) -> dict[str, object]:
    values: dict[str, object] = {
        "episode": "my_show",
        "created": CREATED,
        "elapsed": 12.34567,
        "video": Path("/in/show.mp4"),
        "subtitles": Path("/in/show.srt"),
        "video_seconds": 60.0004,
        "options": PipelineOptions(repeat=3, output_format=OutputFormat(width=320, height=240)),
        "selector": "offline",
        "lessons": [_lesson("break the ice", 5.0, "어색함을 깨다")],
        "compilation_seconds": 9.8765,
        "compilation_thumbnail": COMPILATION_THUMBNAIL,
        "translation_subtitles": Path("/in/show.ko.srt"),
        "translation_language": "ko",
        "translated_lines": {"translation_file": 3},
    } | changes
    return build_manifest(**values)  # type: ignore[arg-type]


def test_the_manifest_says_what_each_file_holds() -> None:
    manifest = _manifest()
    assert manifest["version"] == 2 and manifest["episode"] == "my_show"
    assert manifest["created"] == "2026-12-01T09:30:15+00:00"
    assert manifest["elapsed_seconds"] == 12.346
    assert manifest["source"] == {
        "video": "/in/show.mp4", "subtitles": "/in/show.srt", "translation_subtitles": "/in/show.ko.srt",
        "video_duration": 60.0,
    }  # fmt: skip
    assert manifest["options"] == {
        "max_expressions": 5, "repeat": 3, "tts": "espeak", "language_level": "intermediate",
        "context_seconds": 10.0, "subtitles_style": "bilingual",
        "format": OutputFormat(width=320, height=240).model_dump(),
        "outputs": ["lessons", "shorts", "deck", "compilation"],
        "shorts": {"width": 1080, "height": 1920, "fit": "letterbox", "max_seconds": 60.0},
    }  # fmt: skip
    assert manifest["selector"] == "offline"
    assert manifest["translation"] == {"language": "ko", "lines": {"translation_file": 3}}
    (entry,) = manifest["expressions"]  # type: ignore[misc]
    assert entry == {
        "index": 1, "phrase": "break the ice", "kind": "idiom", "level": "beginner", "meaning": "a meaning",
        "similar": ["x"], "translation": "어색함을 깨다", "translation_source": "translation_file",
        "line": "Well, break the ice.",
        "cue_start": 5.0, "cue_end": 6.235, "context_start": 3.0, "context_end": 8.0,
        "clip_start": 4.8, "clip_end": 6.435, "file": "01-break-the-ice.mp4", "thumbnail": "01-break-the-ice.png",
        "duration": 9.877, "short": None,
        "parts": {"title_card": 3.0, "context_clip": 5.0, "expression_clip": 1.635, "repeat": 3},
    }  # fmt: skip
    assert manifest["compilation"] == {"file": COMPILATION_NAME, "duration": 9.877, "thumbnail": "compilation.png"}
    assert manifest["deck"] is None and manifest["metadata"] is None


def test_the_manifest_names_shorts_the_deck_and_the_metadata() -> None:
    lesson = dataclasses.replace(_lesson("break the ice", 5.0), short="01-break-the-ice.short.mp4", short_duration=7.2)
    deck = DeckRecord(1234567890, "LangFlix::my_show", ("guid-1",), with_shorts=True)
    manifest = _manifest(lessons=[lesson], deck=deck, metadata=METADATA_NAME)
    (entry,) = manifest["expressions"]  # type: ignore[misc]
    assert entry["short"] == {"file": "01-break-the-ice.short.mp4", "duration": 7.2}
    assert manifest["deck"] == {
        "file": DECK_NAME, "tsv": DECK_TSV_NAME, "title": "LangFlix::my_show", "deck_id": 1234567890,
        "notes": 1, "guids": ["guid-1"], "with_shorts": True,
    }  # fmt: skip
    assert manifest["metadata"] == "metadata.json"
    rows = summary_rows(manifest)
    assert SummaryRow("01-break-the-ice.short.mp4", "(short) break the ice", 7.2) in rows
    assert [row.file for row in rows][-4:] == [DECK_NAME, DECK_TSV_NAME, METADATA_NAME, MANIFEST_NAME]


def test_a_job_without_lessons_or_compilation_says_so() -> None:
    lesson = dataclasses.replace(_lesson("break the ice", 5.0), file=None, short="01-break-the-ice.short.mp4")
    manifest = _manifest(lessons=[lesson], compilation_seconds=None, compilation_thumbnail=None)
    (entry,) = manifest["expressions"]  # type: ignore[misc]
    assert entry["file"] is None and entry["duration"] is None
    assert manifest["compilation"] is None
    assert [row.file for row in summary_rows(manifest)] == [
        "01-break-the-ice.png", "01-break-the-ice.short.mp4", MANIFEST_NAME,
    ]  # fmt: skip


def test_the_manifest_is_the_same_for_the_same_values() -> None:
    assert _manifest() == _manifest()


def test_the_text_is_utf8_json_with_korean_as_text() -> None:
    text = manifest_text(_manifest())
    assert "어색함을" in text and "\\u" not in text
    assert text.endswith("}\n") and json.loads(text) == _manifest()


@pytest.mark.parametrize(
    ("index", "phrase", "name"),
    [(0, "break the ice", "01-break-the-ice.mp4"), (9, "It's a piece of cake!", "10-it-s-a-piece-of-cake.mp4"),
     (1, "한국어", "02-expression.mp4"), (2, "x" * 100, f"03-{'x' * 40}.mp4"), (0, "café", "01-cafe.mp4")],
)  # fmt: skip
def test_lesson_file_names_are_ascii_and_numbered(index: int, phrase: str, name: str) -> None:
    assert lesson_file_name(index, phrase) == name


def test_the_summary_lists_every_published_file() -> None:
    manifest = _manifest(lessons=[_lesson("break the ice", 5.0), _lesson("give up", 20.0)])
    assert summary_rows(manifest) == [
        SummaryRow("01-break-the-ice.mp4", "break the ice", 9.877),
        SummaryRow("01-break-the-ice.png", "(thumbnail) break the ice", None),
        SummaryRow("01-give-up.mp4", "give up", 9.877),
        SummaryRow("01-give-up.png", "(thumbnail) give up", None),
        SummaryRow(COMPILATION_NAME, "(all of them)", 9.877),
        SummaryRow(COMPILATION_THUMBNAIL, "(thumbnail) all of them", None),
        SummaryRow(MANIFEST_NAME, "(index)", None),
    ]


def test_the_summary_says_where_translations_came_from_or_that_there_are_none() -> None:
    note = translation_note(_manifest(lessons=[_lesson("break the ice", 5.0, "깨다"), _lesson("give up", 20.0)]))
    assert note == "translations (ko): 1 of 2 expressions, lines from the translation subtitles 3"
    english = _manifest(lessons=[_lesson("give up", 20.0)], translation_language=None, translated_lines={})
    assert translation_note(english).startswith("English only: no translation was found")
    assert "--translation-subtitles" in translation_note(english)


def test_exports() -> None:
    assert module.__all__ == sorted(module.__all__)
    assert all(hasattr(module, name) for name in module.__all__)
