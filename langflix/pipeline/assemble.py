"""Making one lesson inside the job's scope: cut, speak, title, assemble.

Each lesson's pieces (two clips, the speech, the card) are released as soon as
they are inside the lesson, so the scope's peak stays at one expression's worth
plus the finished lessons.
"""

from __future__ import annotations

from pathlib import Path

from langflix.core.expressions import Expression
from langflix.pipeline.job import Job
from langflix.pipeline.lesson import card_seconds, plan_lesson
from langflix.pipeline.manifest import LessonRecord, lesson_file_name

__all__ = ["make_lesson"]


def make_lesson(job: Job, expression: Expression, index: int, count: int) -> tuple[Path, LessonRecord]:
    """Lesson ``index`` of ``count``: its video (a file of the job's scope) and its record."""
    label = f"[{index + 1}] {expression.phrase!r}"
    plan = plan_lesson(expression, job.info.duration)
    editor, report = job.editor, job.progress

    report.lesson(index, count, 0.0, "cut", f"{label}: cutting the scene")
    context_clip = editor.cut_clip(job.video, plan.context.start, plan.context.end)
    expression_clip = editor.cut_clip(job.video, plan.clip.start, plan.clip.end)

    report.lesson(index, count, 0.35, "speech", f"{label}: synthesising speech")
    speech = job.tts.synthesize(expression.phrase, "en", job.scope)
    job.cancel.raise_if_cancelled()
    card_length = card_seconds(job.tools.probe(speech).duration)

    report.lesson(index, count, 0.5, "title", f"{label}: rendering the title card")
    card = editor.title_card(
        expression.phrase, expression.cue.text, duration=card_length, translation=expression.translation, audio=speech
    )

    report.lesson(index, count, 0.75, "assemble", f"{label}: assembling the lesson")
    video = editor.educational_video(
        title_card=card, context_clip=context_clip, expression_clip=expression_clip, repeat=job.options.repeat
    )
    for done in (context_clip, expression_clip, speech, card):
        job.scope.release(done)
    # The card's length is computed, not probed (ffprobe costs ~0.1 s a call): it is
    # already longer than its speech, so the editor keeps the duration asked for.
    return video, LessonRecord(expression, lesson_file_name(index, expression.phrase), plan, card_length)
