"""Which file is published under which name, where chapters start, what the cover says: plain values, no ffmpeg."""

from __future__ import annotations

from pathlib import Path

import pytest

from langflix.core.expressions import Expression
from langflix.core.output_format import OutputFormat
from langflix.core.subtitles import Cue
from langflix.core.video_editor import Piece
from langflix.pipeline.assemble import Made
from langflix.pipeline.lesson import LessonPlan, Window
from langflix.pipeline.manifest import LessonRecord
from langflix.pipeline.metadata import Chapter, ShortRecord
from langflix.pipeline.outputs import (
    COVER_PHRASES,
    EpisodeOutputs,
    compilation_chapters,
    cover_title,
    expression_files,
    short_records,
)

FMT = OutputFormat(width=160, height=120, fps=25)


def _expression(phrase: str, start: float = 1.0) -> Expression:
    return Expression(phrase, Cue(start, start + 1.0, f"So {phrase}."), start - 1.0, start + 2.0, "idiom")


def _made(phrase: str, *, lesson: int | None = 50, short: bool = False, thumbnail: bool = True) -> Made:
    expression = _expression(phrase)
    plan = LessonPlan(Window(0.0, 3.0), Window(0.8, 2.2))
    file = f"{phrase}.mp4"
    record = LessonRecord(
        expression, file if lesson is not None else None, plan, 3.0, duration=2.0,
        thumbnail=f"{phrase}.png" if thumbnail else None,
        short=f"{phrase}_short.mp4" if short else None, short_duration=4.0 if short else 0.0,
    )  # fmt: skip
    return Made(
        record,
        video=Piece(Path(f"/scope/{phrase}.mp4"), lesson, FMT) if lesson is not None else None,
        thumbnail=Path(f"/scope/{phrase}.png") if thumbnail else None,
        short=Piece(Path(f"/scope/{phrase}_short.mp4"), 100, FMT) if short else None,
    )


def test_the_cover_names_the_first_phrases_and_says_when_there_are_more() -> None:
    assert cover_title(["a", "b"]) == "a · b"
    many = [f"p{i}" for i in range(COVER_PHRASES + 2)]
    assert cover_title(many) == " · ".join(many[:COVER_PHRASES]) + " …"
    assert cover_title(many[:COVER_PHRASES]) == " · ".join(many[:COVER_PHRASES])


def test_each_expression_publishes_what_its_record_names() -> None:
    files = expression_files([_made("one", short=True), _made("two", lesson=None, thumbnail=False)])
    assert files == {
        "one.mp4": Path("/scope/one.mp4"),
        "one.png": Path("/scope/one.png"),
        "one_short.mp4": Path("/scope/one_short.mp4"),
    }


def test_chapters_start_where_the_lessons_before_them_end() -> None:
    made = [_made("one", lesson=50), _made("two", lesson=75), _made("three")]
    chapters = compilation_chapters(made)
    assert chapters == [
        Chapter(0.0, made[0].record.expression),
        Chapter(2.0, made[1].record.expression),
        Chapter(5.0, made[2].record.expression),
    ]


def test_a_chapter_needs_a_lesson() -> None:
    with pytest.raises(ValueError, match="'two' has no lesson"):
        compilation_chapters([_made("one"), _made("two", lesson=None)])


def test_shorts_are_numbered_as_their_expressions() -> None:
    made = [_made("one"), _made("two", short=True)]
    assert short_records(made) == [ShortRecord(2, made[1].record.expression, "two_short.mp4", 4.0, "two.png")]


def test_the_outputs_records_are_the_expressions_in_order() -> None:
    made = (_made("one"), _made("two"))
    assert EpisodeOutputs(made, {}).records == (made[0].record, made[1].record)
