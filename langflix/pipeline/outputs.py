"""An episode's outputs: every expression's made at once, then the compilation, the deck and the metadata.

Each expression's pieces come from :func:`~langflix.pipeline.assemble.make_expression`,
run ``width`` at a time (``workers``) beside the compilation's cover; the
episode-wide outputs are then made from what they gave, every one a file of
the job's scope until publishing moves them. Which file is published under
which name, where each chapter starts and what the cover says are pure
functions of what was made.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from langflix.core.expressions import Expression
from langflix.core.joins import concat
from langflix.core.subtitle_render import scene_cues
from langflix.core.subtitles import SubtitleTrack
from langflix.core.thumbnail import make_thumbnail
from langflix.pipeline.assemble import Made, make_expression
from langflix.pipeline.job import Job, plural
from langflix.pipeline.lesson import LessonPlan, still_time
from langflix.pipeline.manifest import COMPILATION_NAME, COMPILATION_THUMBNAIL, DeckRecord, LessonRecord
from langflix.pipeline.metadata import METADATA_NAME, Chapter, ShortRecord, build_metadata, metadata_text
from langflix.pipeline.study import pack_deck
from langflix.pipeline.translation import Translations
from langflix.pipeline.workers import run_pieces

__all__ = [
    "COVER_PHRASES",
    "EpisodeOutputs",
    "compilation_chapters",
    "compilation_cover",
    "cover_title",
    "episode_outputs",
    "expression_files",
    "make_expressions",
    "short_records",
]

COVER_PHRASES: Final[int] = 3
"""Expressions named on the compilation's thumbnail."""


@dataclass(frozen=True, slots=True)
class EpisodeOutputs:
    """What one episode publishes (its name there -> a file of the job's scope) and what the manifest says of it."""

    made: tuple[Made, ...]
    files: dict[str, Path]
    compilation_seconds: float | None = None
    """None when the job made no compilation."""
    deck: DeckRecord | None = None
    metadata: str | None = None
    """The metadata file's name, when the job made one."""

    @property
    def records(self) -> tuple[LessonRecord, ...]:
        return tuple(item.record for item in self.made)


def make_expressions(
    job: Job,
    expressions: Sequence[Expression],
    plans: Sequence[LessonPlan],
    english: SubtitleTrack,
    translations: Translations,
    *,
    width: int,
) -> tuple[list[Made], Path | None]:
    """What every expression gives, made ``width`` at a time, and the compilation's cover when the job makes one."""
    count = len(expressions)
    pieces: list[Callable[[], Made | Path]] = []
    for index, (expression, plan) in enumerate(zip(expressions, plans, strict=True)):
        shown = english.overlapping(plan.context.start, plan.context.end)
        scene = scene_cues(shown, phrase=expression.phrase, translate=translations)
        source = translations.source(expression.cue)
        pieces.append(functools.partial(make_expression, job, expression, index, count, scene=scene,
                                        translation_source=source))  # fmt: skip
    if job.options.makes("compilation"):
        pieces.append(functools.partial(compilation_cover, job, expressions))
    results = run_pieces(pieces, width=width, cancel=job.cancel)
    made = [piece for piece in results if isinstance(piece, Made)]
    cover = next((piece for piece in results if isinstance(piece, Path)), None)
    return made, cover


def cover_title(phrases: Sequence[str]) -> str:
    """The compilation cover's title: its first phrases, and an ellipsis when there are more."""
    return " · ".join(phrases[:COVER_PHRASES]) + (" …" if len(phrases) > COVER_PHRASES else "")


def compilation_cover(job: Job, expressions: Sequence[Expression]) -> Path:
    """The compilation's thumbnail: the first expression's frame, the first phrases on it."""
    return make_thumbnail(
        job.tools.ffmpeg, job.info.input, job.scope, at=still_time(expressions[0], job.info.duration),
        title=cover_title([e.phrase for e in expressions]),
        caption=plural(len(expressions), "English expression").upper(), timeout=job.tools.timeout, cancel=job.cancel,
    )  # fmt: skip


def expression_files(made: Sequence[Made]) -> dict[str, Path]:
    """Each expression's published files (lesson, thumbnail, short) by the names its record gives them."""
    files: dict[str, Path] = {}
    for item in made:
        record = item.record
        if record.file is not None and item.video is not None:
            files[record.file] = item.video.path
        if record.thumbnail is not None and item.thumbnail is not None:
            files[record.thumbnail] = item.thumbnail
        if record.short is not None and item.short is not None:
            files[record.short] = item.short.path
    return files


def compilation_chapters(made: Sequence[Made]) -> list[Chapter]:
    """Where each lesson starts in the compilation, which joins them in order."""
    chapters: list[Chapter] = []
    at = 0.0
    for item in made:
        if item.video is None:
            raise ValueError(f"expression {item.record.expression.phrase!r} has no lesson to join")
        chapters.append(Chapter(at, item.record.expression))
        at += item.video.seconds
    return chapters


def short_records(made: Sequence[Made]) -> list[ShortRecord]:
    """The metadata's record of every short made, numbered as its expression."""
    return [
        ShortRecord(i + 1, item.record.expression, item.record.short, item.record.short_duration,
                    item.record.thumbnail)
        for i, item in enumerate(made) if item.record.short is not None
    ]  # fmt: skip


def episode_outputs(job: Job, made: Sequence[Made], cover: Path | None) -> EpisodeOutputs:
    """The episode's outputs from what its expressions gave: theirs, the compilation, the deck, the metadata."""
    options, files = job.options, expression_files(made)
    seconds: float | None = None
    chapters: list[Chapter] = []
    if options.makes("compilation"):
        joined_files, seconds, chapters = _compile(job, made, cover)
        files |= joined_files
    if not options.makes("lessons"):
        for item in made:  # made for the compilation only: not published
            if item.video is not None:
                job.scope.release(item.video.path)
    deck: DeckRecord | None = None
    if options.makes("deck"):
        job.progress("deck", 94.0, f"packing the study deck of {plural(len(made), 'note')}")
        deck, deck_files = pack_deck(job, made)
        files |= deck_files
    metadata: str | None = None
    if options.makes("shorts") or options.makes("compilation"):
        job.progress("metadata", 95.0, "writing the upload metadata")
        joined = None if seconds is None else (COMPILATION_NAME, seconds, COMPILATION_THUMBNAIL)
        text = metadata_text(build_metadata(episode=job.title, shorts=short_records(made), compilation=joined,
                                            chapters=chapters))  # fmt: skip
        files[METADATA_NAME] = job.text_file(text, suffix=".json", prefix="metadata_")
        metadata = METADATA_NAME
    return EpisodeOutputs(tuple(made), files, seconds, deck, metadata)


def _compile(job: Job, made: Sequence[Made], cover: Path | None) -> tuple[dict[str, Path], float, list[Chapter]]:
    """Join the lessons into the compilation: its files (with the cover), its length and its chapters."""
    job.progress("compilation", 92.0, f"joining {plural(len(made), 'video')}")
    if cover is None:
        raise ValueError("the compilation's cover was not made")
    chapters = compilation_chapters(made)
    compilation = concat(job.editor, [item.video for item in made if item.video is not None])
    files = {COMPILATION_NAME: compilation.path, COMPILATION_THUMBNAIL: cover}
    return files, job.tools.probe(compilation.path).duration, chapters
