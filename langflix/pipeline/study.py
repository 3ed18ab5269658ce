"""The episode's study deck: one Anki note per expression, from the media its lesson step made.

The notes are built by a pure function (:func:`deck_notes`); :func:`pack_deck`
writes the package (``.apkg``) and its TSV as files of the job's scope and lets
go of the audio and screenshots they were made of (the package holds copies).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from langflix.core.card import KIND_LABELS
from langflix.core.deck import DeckNote, deck_id, deck_tsv, note_guids, write_deck
from langflix.core.expressions import expression_spans
from langflix.pipeline.assemble import Made
from langflix.pipeline.job import Job
from langflix.pipeline.manifest import DECK_NAME, DECK_TSV_NAME, DeckRecord

__all__ = ["deck_notes", "deck_title", "pack_deck"]


def deck_title(episode_title: str) -> str:
    """The deck's name in Anki: under LangFlix, one sub-deck per episode."""
    return f"LangFlix::{episode_title}"


def deck_notes(made: Sequence[Made], *, with_shorts: bool) -> list[DeckNote]:
    """One note per expression, from its study media (and its short, when ``with_shorts``)."""
    notes = []
    for item in made:
        if item.study is None:
            raise ValueError(f"expression {item.record.expression.phrase!r} has no study media for the deck")
        expression = item.record.expression
        notes.append(DeckNote(
            expression.phrase, expression.cue.text, item.study.audio, item.study.still,
            line_highlights=tuple(expression_spans(expression.phrase, expression.cue.text)),
            translation=expression.translation, meaning=expression.meaning,
            kind=KIND_LABELS.get(expression.kind, expression.kind), level=expression.level,
            short=item.short.path if with_shorts and item.short is not None else None,
        ))  # fmt: skip
    return notes


def pack_deck(job: Job, made: Sequence[Made]) -> tuple[DeckRecord, dict[str, Path]]:
    """The deck (``.apkg``) and its TSV, as files of the job's scope, with the manifest's record of them."""
    name, with_shorts = job.episode_name, job.options.deck_with_shorts
    notes = deck_notes(made, with_shorts=with_shorts)
    title = deck_title(job.title)
    package = write_deck(job.scope, notes, episode=name, title=title, timestamp=time.time())
    tsv = job.text_file(deck_tsv(notes, episode=name), suffix=".tsv", prefix="deck_")
    for item in made:
        if item.study is not None:
            for path in item.study.files:
                job.scope.release(path)
    guids = tuple(note_guids(name, [note.phrase for note in notes]))
    return DeckRecord(deck_id(name), title, guids, with_shorts), {DECK_NAME: package, DECK_TSV_NAME: tsv}
