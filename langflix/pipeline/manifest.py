"""The episode's ``manifest.json``, as pure functions: built from what a job made, read back for a summary.

The manifest names every published file and tells what it holds (the expression,
its line and translation and where that came from, what was cut, how long each
part lasts, its thumbnail), so a reader never has to probe a video to know it.
:func:`build_manifest` makes it from plain values (no clock, no disk);
:func:`summary_rows` and :func:`translation_note` are what ``langflix process``
shows of it.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from langflix.core.expressions import Expression
from langflix.pipeline.lesson import LessonPlan
from langflix.pipeline.options import PipelineOptions

__all__ = [
    "COMPILATION_NAME",
    "COMPILATION_THUMBNAIL",
    "DECK_NAME",
    "DECK_TSV_NAME",
    "DeckRecord",
    "LessonRecord",
    "MANIFEST_NAME",
    "MANIFEST_VERSION",
    "SummaryRow",
    "build_manifest",
    "describe_translations",
    "lesson_file_name",
    "manifest_text",
    "short_file_name",
    "summary_rows",
    "thumbnail_file_name",
    "translation_note",
]

MANIFEST_NAME: Final[str] = "manifest.json"
MANIFEST_VERSION: Final[int] = 2
COMPILATION_NAME: Final[str] = "compilation.mp4"
COMPILATION_THUMBNAIL: Final[str] = "compilation.png"
DECK_NAME: Final[str] = "deck.apkg"
DECK_TSV_NAME: Final[str] = "deck.tsv"
_SOURCE_NAMES: Final[dict[str, str]] = {
    "bilingual_track": "the subtitle file's other track",
    "translation_file": "the translation subtitles",
    "llm": "the LLM",
}


@dataclass(frozen=True, slots=True)
class LessonRecord:
    """One expression as the manifest describes it: what was cut, and what was published of it."""

    expression: Expression
    file: str | None
    """The lesson video; None when the job made no lessons."""
    plan: LessonPlan
    card_seconds: float
    duration: float = 0.0
    thumbnail: str | None = None
    translation_source: str | None = None
    """Which source translated the expression's line (``translation.TRANSLATION_SOURCES``), None: none."""
    short: str | None = None
    short_duration: float = 0.0


@dataclass(frozen=True, slots=True)
class DeckRecord:
    """The published study deck: the package, its TSV, its ids and what each note holds."""

    deck_id: int
    title: str
    guids: tuple[str, ...]
    with_shorts: bool = False


@dataclass(frozen=True, slots=True)
class SummaryRow:
    """One line of a finished job's summary: a file, what it holds, its length."""

    file: str
    label: str
    seconds: float | None


def lesson_file_name(index: int, phrase: str) -> str:
    """The file of lesson ``index`` (from 0): ``01-break-the-ice.mp4``, ASCII whatever the phrase."""
    ascii_text = unicodedata.normalize("NFKD", phrase).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return f"{index + 1:02d}-{slug[:40].rstrip('-') or 'expression'}.mp4"


def short_file_name(lesson_file: str) -> str:
    """The short beside a lesson: ``01-break-the-ice.short.mp4`` for ``01-break-the-ice.mp4``."""
    return str(Path(lesson_file).with_suffix(".short.mp4"))


def thumbnail_file_name(lesson_file: str) -> str:
    """The thumbnail beside a lesson: ``01-break-the-ice.png`` for ``01-break-the-ice.mp4``."""
    return str(Path(lesson_file).with_suffix(".png"))


def build_manifest(
    *,
    episode: str,
    created: datetime,
    elapsed: float,
    video: str | Path,
    subtitles: str | Path,
    video_seconds: float,
    options: PipelineOptions,
    selector: str,
    lessons: Sequence[LessonRecord],
    compilation_seconds: float | None,
    compilation_thumbnail: str | None = None,
    translation_subtitles: str | Path | None = None,
    translation_language: str | None = None,
    translated_lines: Mapping[str, int] | None = None,
    deck: DeckRecord | None = None,
    metadata: str | None = None,
) -> dict[str, Any]:
    """The manifest of an episode, as JSON-able data (times rounded to the millisecond).

    ``video``, ``subtitles`` and ``translation_subtitles`` are shown as given:
    the caller chooses paths or names. ``translated_lines`` counts the lines
    (every cue the lessons show) each translation source gave; its keys are the
    sources of ``translation``. ``compilation_seconds`` None: no compilation was
    made (its entry is null); ``deck`` and ``metadata`` likewise, when the job made them.
    """
    compilation: dict[str, Any] | None = None
    if compilation_seconds is not None:
        compilation = {"file": COMPILATION_NAME, "duration": round(compilation_seconds, 3)}
        if compilation_thumbnail is not None:
            compilation["thumbnail"] = compilation_thumbnail
    deck_entry: dict[str, Any] | None = None
    if deck is not None:
        deck_entry = {
            "file": DECK_NAME, "tsv": DECK_TSV_NAME, "title": deck.title, "deck_id": deck.deck_id,
            "notes": len(deck.guids), "guids": list(deck.guids), "with_shorts": deck.with_shorts,
        }  # fmt: skip
    return {
        "version": MANIFEST_VERSION,
        "episode": episode,
        "created": created.isoformat(timespec="seconds"),
        "elapsed_seconds": round(elapsed, 3),
        "source": {
            "video": str(video),
            "subtitles": str(subtitles),
            "translation_subtitles": None if translation_subtitles is None else str(translation_subtitles),
            "video_duration": round(video_seconds, 3),
        },
        "options": {
            "max_expressions": options.max_expressions,
            "repeat": options.repeat,
            "tts": options.tts,
            "language_level": options.language_level,
            "context_seconds": options.context_seconds,
            "subtitles_style": options.subtitles_style,
            "format": options.output_format.model_dump(),
            "outputs": list(options.outputs),
            "shorts": {
                **options.short_format.model_dump(),
                "fit": options.shorts_fit,
                "max_seconds": options.shorts_max_seconds,
            },
        },
        "selector": selector,
        "translation": {"language": translation_language, "lines": dict(translated_lines or {})},
        "expressions": [_lesson_entry(i, lesson, options.repeat) for i, lesson in enumerate(lessons)],
        "compilation": compilation,
        "deck": deck_entry,
        "metadata": metadata,
    }


def _lesson_entry(index: int, lesson: LessonRecord, repeat: int) -> dict[str, Any]:
    expression, context, clip = lesson.expression, lesson.plan.context, lesson.plan.clip
    return {
        "index": index + 1,
        "phrase": expression.phrase,
        "kind": expression.kind,
        "level": expression.level,
        "meaning": expression.meaning,
        "similar": list(expression.similar),
        "translation": expression.translation,
        "translation_source": lesson.translation_source,
        "line": expression.cue.text,
        "cue_start": round(expression.cue.start, 3),
        "cue_end": round(expression.cue.end, 3),
        # What was cut, after clamping to the video (a cue may run past its end).
        "context_start": round(context.start, 3),
        "context_end": round(context.end, 3),
        "clip_start": round(clip.start, 3),
        "clip_end": round(clip.end, 3),
        "file": lesson.file,
        "thumbnail": lesson.thumbnail,
        "duration": round(lesson.duration, 3) if lesson.file is not None else None,
        "short": None if lesson.short is None else {"file": lesson.short, "duration": round(lesson.short_duration, 3)},
        "parts": {
            "title_card": round(lesson.card_seconds, 3),
            "context_clip": round(context.seconds, 3),
            "expression_clip": round(clip.seconds, 3),
            "repeat": repeat,
        },
    }


def manifest_text(manifest: Mapping[str, Any]) -> str:
    """The manifest as written: UTF-8 JSON with Korean as text (not ``\\u`` escapes)."""
    return json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"


def summary_rows(manifest: Mapping[str, Any]) -> list[SummaryRow]:
    """What a finished job published, one row per file: the lessons, their thumbnails and
    shorts, the compilation and its thumbnail, the deck and its TSV, the metadata, the manifest."""
    rows = []
    for item in manifest["expressions"]:
        if item.get("file"):
            rows.append(SummaryRow(item["file"], item["phrase"], item["duration"]))
        if item.get("thumbnail"):
            rows.append(SummaryRow(item["thumbnail"], f"(thumbnail) {item['phrase']}", None))
        short = item.get("short")
        if short:
            rows.append(SummaryRow(short["file"], f"(short) {item['phrase']}", short["duration"]))
    compilation = manifest.get("compilation")
    if compilation:
        rows.append(SummaryRow(compilation["file"], "(all of them)", compilation["duration"]))
        if compilation.get("thumbnail"):
            rows.append(SummaryRow(compilation["thumbnail"], "(thumbnail) all of them", None))
    deck = manifest.get("deck")
    if deck:
        rows.append(SummaryRow(deck["file"], f"(Anki deck) {deck['notes']} notes", None))
        rows.append(SummaryRow(deck["tsv"], "(the deck as TSV)", None))
    if manifest.get("metadata"):
        rows.append(SummaryRow(manifest["metadata"], "(upload metadata)", None))
    rows.append(SummaryRow(MANIFEST_NAME, "(index)", None))
    return rows


def translation_note(manifest: Mapping[str, Any]) -> str:
    """One line saying which translations the lessons show, and from where; or that they show English only."""
    lessons = manifest["expressions"]
    translation = manifest.get("translation") or {}
    translated = sum(1 for item in lessons if item.get("translation"))
    return describe_translations(translated, len(lessons), translation.get("language"), translation.get("lines") or {})


def describe_translations(translated: int, total: int, language: str | None, lines: Mapping[str, int]) -> str:
    """:func:`translation_note` from plain values: expressions translated of ``total``, lines per source."""
    if not translated and not any(lines.values()):
        return (
            "English only: no translation was found (the subtitles are not bilingual, no "
            "--translation-subtitles file was given, no LLM is set up with LANGFLIX_LLM_BASE_URL)"
        )
    sources = ", ".join(f"{_SOURCE_NAMES.get(name, name)} {count}" for name, count in lines.items() if count)
    return (
        f"translations ({language or 'unknown language'}): {translated} of {total} expressions, "
        f"lines from {sources or 'no source'}"
    )
