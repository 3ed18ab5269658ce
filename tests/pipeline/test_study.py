"""The deck's notes from what each expression gave: plain values, no ffmpeg, no package written."""

from __future__ import annotations

from pathlib import Path

import pytest

from langflix.core.card import KIND_LABELS
from langflix.core.expressions import Expression, expression_spans
from langflix.core.output_format import OutputFormat
from langflix.core.study_media import StudyMedia
from langflix.core.subtitles import Cue
from langflix.core.video_editor import Piece
from langflix.pipeline.assemble import Made
from langflix.pipeline.lesson import LessonPlan, Window
from langflix.pipeline.manifest import LessonRecord
from langflix.pipeline.study import deck_notes, deck_title

EXPRESSION = Expression(
    "break the ice", Cue(1.0, 2.0, "Let's break the ice."), 0.0, 3.0, "idiom",
    meaning="make people comfortable", translation="어색함을 깨다", level="B1",
)  # fmt: skip
STUDY = StudyMedia(Path("/scope/line.mp3"), Path("/scope/still.jpg"))
SHORT = Piece(Path("/scope/short.mp4"), 100, OutputFormat())


def _made(study: StudyMedia | None = STUDY) -> Made:
    record = LessonRecord(EXPRESSION, None, LessonPlan(Window(0.0, 3.0), Window(0.8, 2.2)), 0.0)
    return Made(record, short=SHORT, study=study)


def test_a_note_holds_the_line_its_media_and_what_the_card_says() -> None:
    (note,) = deck_notes([_made()], with_shorts=False)
    assert (note.phrase, note.line, note.audio, note.still) == (
        "break the ice", "Let's break the ice.", STUDY.audio, STUDY.still,
    )  # fmt: skip
    assert note.line_highlights == tuple(expression_spans("break the ice", "Let's break the ice."))
    assert (note.translation, note.meaning, note.level) == ("어색함을 깨다", "make people comfortable", "B1")
    assert note.kind == KIND_LABELS["idiom"]
    assert note.short is None


def test_a_note_carries_the_short_only_when_asked() -> None:
    (note,) = deck_notes([_made()], with_shorts=True)
    assert note.short == SHORT.path


def test_an_expression_without_study_media_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="'break the ice' has no study media"):
        deck_notes([_made(study=None)], with_shorts=False)


def test_each_episode_is_a_sub_deck_of_langflix() -> None:
    assert deck_title("Sample Show") == "LangFlix::Sample Show"
