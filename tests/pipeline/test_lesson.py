"""The arithmetic of a lesson on plain numbers: no ffmpeg, no files."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

import langflix.pipeline.lesson as module
from langflix.core.expressions import Expression
from langflix.core.output_format import OutputFormat
from langflix.core.subtitles import Cue
from langflix.pipeline.lesson import (
    CLIP_PADDING,
    MIN_CARD_SECONDS,
    LessonPlan,
    Window,
    card_seconds,
    encoded_bytes_per_second,
    estimate_peak_bytes,
    lesson_seconds,
    plan_lesson,
    shows_on_screen,
    still_time,
)
from langflix.pipeline.options import OUTPUT_KINDS, PipelineOptions


def _expression(start: float, end: float, context: tuple[float, float] | None = None) -> Expression:
    before, after = context if context is not None else (start - 2.0, end + 2.0)
    return Expression("break the ice", Cue(start, end, "Let's break the ice."), before, after, "idiom")


def test_the_clip_is_the_cue_padded_inside_its_context() -> None:
    plan = plan_lesson(_expression(5.0, 7.0), video_seconds=60.0)
    assert plan.context == Window(3.0, 9.0)
    assert plan.clip == Window(5.0 - CLIP_PADDING, 7.0 + CLIP_PADDING)


def test_windows_are_clamped_to_the_video() -> None:
    at_start = plan_lesson(_expression(0.1, 1.0), video_seconds=60.0)
    assert at_start.context.start == 0.0 and at_start.clip.start == 0.0
    past_end = plan_lesson(_expression(14.5, 19.0), video_seconds=16.0)
    assert past_end.context.end == 16.0 and past_end.clip.end == 16.0


def test_a_context_that_misses_the_cue_is_widened_to_hold_it() -> None:
    plan = plan_lesson(_expression(5.0, 7.0, context=(5.5, 6.0)), video_seconds=60.0)
    assert plan.context == Window(5.0, 7.0)
    assert plan.clip == Window(5.0, 7.0), "the padding never leaves the context"


@given(
    start=st.floats(0.0, 100.0),
    length=st.floats(0.01, 10.0),
    before=st.floats(0.0, 20.0),
    after=st.floats(0.0, 20.0),
    video=st.floats(0.5, 200.0),
)
def test_the_clip_always_lies_inside_the_context_inside_the_video(
    start: float, length: float, before: float, after: float, video: float
) -> None:
    expression = _expression(start, start + length, context=(start - before, start + length + after))
    plan = plan_lesson(expression, video)
    assert 0.0 <= plan.context.start <= plan.clip.start
    assert plan.clip.end <= plan.context.end <= video
    if shows_on_screen(expression, video):
        assert plan.clip.seconds > 0


@pytest.mark.parametrize(
    ("cue", "video", "shown"),
    [((1.0, 2.0), 16.0, True), ((15.95, 17.0), 16.0, False), ((15.8, 17.0), 16.0, True), ((40.0, 42.0), 16.0, False)],
)
def test_shows_on_screen(cue: tuple[float, float], video: float, shown: bool) -> None:
    assert shows_on_screen(_expression(*cue), video) is shown


@pytest.mark.parametrize(("speech", "card"), [(0.0, MIN_CARD_SECONDS), (1.5, MIN_CARD_SECONDS), (2.5, 3.5), (4.0, 5.0)])
def test_the_card_outlasts_its_speech_and_the_minimum(speech: float, card: float) -> None:
    assert card_seconds(speech) == card


def test_a_lesson_is_card_scene_and_repeated_clip() -> None:
    plan = LessonPlan(context=Window(10.0, 16.0), clip=Window(12.0, 13.5))
    assert lesson_seconds(plan, 3.0, repeat=1) == pytest.approx(3.0 + 6.0 + 1.5)
    assert lesson_seconds(plan, 3.0, repeat=3) == pytest.approx(3.0 + 6.0 + 4.5)


def test_bytes_per_second_follow_the_pixels() -> None:
    small, large = OutputFormat(width=320, height=240), OutputFormat(width=1280, height=720)
    assert encoded_bytes_per_second(large) == pytest.approx(1280 * 720 * 25 * 0.08 / 8 + 16_000)
    assert encoded_bytes_per_second(small) < encoded_bytes_per_second(large)


def test_the_peak_estimate_holds_every_lesson_and_the_compilation() -> None:
    fmt = OutputFormat()
    plans = [LessonPlan(Window(0.0, 10.0), Window(4.0, 6.0)), LessonPlan(Window(20.0, 30.0), Window(24.0, 25.0))]
    seconds = (MIN_CARD_SECONDS + 10.0 + 2.0 * 2) + (MIN_CARD_SECONDS + 10.0 + 1.0 * 2)
    lessons = PipelineOptions(output_format=fmt, repeat=2, outputs="lessons,compilation")
    assert estimate_peak_bytes(plans, lessons) == int(2 * seconds * encoded_bytes_per_second(fmt))
    assert estimate_peak_bytes([], lessons) == 0
    assert estimate_peak_bytes(plans, lessons.replace(repeat=5)) > estimate_peak_bytes(plans, lessons)


def test_the_peak_estimate_counts_each_output_asked_for() -> None:
    plans = [LessonPlan(Window(0.0, 10.0), Window(4.0, 6.0))]
    alone = {kind: estimate_peak_bytes(plans, PipelineOptions(outputs=kind)) for kind in OUTPUT_KINDS}
    assert all(value > 0 for value in alone.values())
    assert alone["deck"] < alone["shorts"] < alone["lessons"]
    assert estimate_peak_bytes(plans, PipelineOptions()) == sum(alone.values()) - alone["compilation"]


def test_exports() -> None:
    assert module.__all__ == sorted(module.__all__)
    assert all(hasattr(module, name) for name in module.__all__)


def test_a_still_shows_the_middle_of_the_line_inside_the_video() -> None:
    assert still_time(_expression(4.0, 6.0), video_seconds=60.0) == 5.0
    assert still_time(_expression(58.0, 64.0), video_seconds=60.0) == 59.0
