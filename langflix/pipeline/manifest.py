"""The episode's ``manifest.json``, as pure functions: built from what a job made, read back for a summary.

The manifest names every published file and tells what it holds (the expression,
its line and translation, what was cut, how long each part lasts), so a reader
never has to probe a video to know it. :func:`build_manifest` makes it from
plain values (no clock, no disk); :func:`summary_rows` is what ``langflix
process`` shows of it.
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
    "LessonRecord",
    "MANIFEST_NAME",
    "MANIFEST_VERSION",
    "SummaryRow",
    "build_manifest",
    "lesson_file_name",
    "manifest_text",
    "summary_rows",
]

MANIFEST_NAME: Final[str] = "manifest.json"
MANIFEST_VERSION: Final[int] = 1
COMPILATION_NAME: Final[str] = "compilation.mp4"


@dataclass(frozen=True, slots=True)
class LessonRecord:
    """One published lesson as the manifest describes it."""

    expression: Expression
    file: str
    plan: LessonPlan
    card_seconds: float
    duration: float = 0.0


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
    compilation_seconds: float,
) -> dict[str, Any]:
    """The manifest of an episode, as JSON-able data (times rounded to the millisecond).

    ``video`` and ``subtitles`` are shown as given: the caller chooses paths or names.
    """
    return {
        "version": MANIFEST_VERSION,
        "episode": episode,
        "created": created.isoformat(timespec="seconds"),
        "elapsed_seconds": round(elapsed, 3),
        "source": {"video": str(video), "subtitles": str(subtitles), "video_duration": round(video_seconds, 3)},
        "options": {
            "max_expressions": options.max_expressions,
            "repeat": options.repeat,
            "tts": options.tts,
            "language_level": options.language_level,
            "context_seconds": options.context_seconds,
            "format": options.output_format.model_dump(),
        },
        "selector": selector,
        "expressions": [_lesson_entry(i, lesson, options.repeat) for i, lesson in enumerate(lessons)],
        "compilation": {"file": COMPILATION_NAME, "duration": round(compilation_seconds, 3)},
    }


def _lesson_entry(index: int, lesson: LessonRecord, repeat: int) -> dict[str, Any]:
    expression, context, clip = lesson.expression, lesson.plan.context, lesson.plan.clip
    return {
        "index": index + 1,
        "phrase": expression.phrase,
        "kind": expression.kind,
        "meaning": expression.meaning,
        "translation": expression.translation,
        "line": expression.cue.text,
        "cue_start": round(expression.cue.start, 3),
        "cue_end": round(expression.cue.end, 3),
        # What was cut, after clamping to the video (a cue may run past its end).
        "context_start": round(context.start, 3),
        "context_end": round(context.end, 3),
        "clip_start": round(clip.start, 3),
        "clip_end": round(clip.end, 3),
        "file": lesson.file,
        "duration": round(lesson.duration, 3),
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
    """What a finished job published, one row per file: the lessons, the compilation, the manifest."""
    rows = [SummaryRow(item["file"], item["phrase"], item["duration"]) for item in manifest["expressions"]]
    compilation = manifest["compilation"]
    rows.append(SummaryRow(compilation["file"], "(all of them)", compilation["duration"]))
    rows.append(SummaryRow(MANIFEST_NAME, "(index)", None))
    return rows
