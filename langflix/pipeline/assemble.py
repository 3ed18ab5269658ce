"""Making one lesson inside the job's scope: cut the scene, speak, draw the card, join.

The scene is cut in one ffmpeg run (the context clip and the expression clip
from one decode, both languages burned in, the lesson's thumbnail from the same
frames). Each lesson's pieces (the clips, the speech, the card) are released as
soon as they are inside the lesson, so the scope's peak stays at the lessons
being made plus the finished ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from langflix.core.card import KIND_LABELS, CardText
from langflix.core.expressions import Expression
from langflix.core.ffmpeg import MediaInfo
from langflix.core.subtitle_render import SceneCue
from langflix.core.thumbnail import ThumbnailText
from langflix.core.video_editor import Piece
from langflix.pipeline.job import Job
from langflix.pipeline.lesson import card_seconds, plan_lesson
from langflix.pipeline.manifest import LessonRecord, lesson_file_name, thumbnail_file_name

__all__ = ["Lesson", "lesson_caption", "make_lesson"]


@dataclass(frozen=True, slots=True)
class Lesson:
    """One made lesson: its video and thumbnail (files of the job's scope) and its record."""

    video: Piece
    thumbnail: Path
    record: LessonRecord


def lesson_caption(expression: Expression) -> str:
    """What kind of expression it is and its level, as the card and the thumbnail say it."""
    kind = KIND_LABELS.get(expression.kind, expression.kind.replace("_", " "))
    return " · ".join(part for part in (kind, expression.level or "") if part).upper()


def make_lesson(
    job: Job,
    expression: Expression,
    index: int,
    count: int,
    *,
    scene: Sequence[SceneCue] = (),
    translation_source: str | None = None,
) -> Lesson:
    """Lesson ``index`` of ``count``: its video, its thumbnail and its record.

    ``scene`` holds the cues shown on the scene (with their translations and the
    expression's spans); ``translation_source`` says where the expression's
    translation came from, for the manifest.
    """
    label = f"[{index + 1}] {expression.phrase!r}"
    plan = plan_lesson(expression, job.info.duration)
    editor, report = job.editor, job.progress

    report.lesson(index, count, 0.0, "cut", f"{label}: cutting the scene")
    cut = editor.cut_scene(
        job.info,
        context=(plan.context.start, plan.context.end),
        clip=(plan.clip.start, plan.clip.end),
        subtitles=scene,
        style=job.options.subtitles_style,
        thumbnail=ThumbnailText(expression.phrase, lesson_caption(expression)),
        thumbnail_at=(expression.cue.start + min(expression.cue.end, job.info.duration)) / 2,
    )
    assert cut.thumbnail is not None  # asked for above

    speech: MediaInfo | None = None
    if job.tts is not None:
        report.lesson(index, count, 0.45, "speech", f"{label}: synthesising speech")
        speech = job.tools.probe(job.tts.synthesize(expression.phrase, "en", job.scope))
        job.cancel.raise_if_cancelled()

    report.lesson(index, count, 0.55, "title", f"{label}: drawing the card")
    card = editor.card(
        CardText.from_expression(expression),
        duration=card_seconds(speech.duration if speech is not None else 0.0),
        speech=speech,
    )

    report.lesson(index, count, 0.75, "assemble", f"{label}: assembling the lesson")
    video = editor.educational_video(
        title_card=card, context_clip=cut.context, expression_clip=cut.clip, repeat=job.options.repeat
    )
    for done in (cut.context.path, cut.clip.path, card.path, *([speech.path] if speech is not None else [])):
        job.scope.release(done)
    file = lesson_file_name(index, expression.phrase)
    record = LessonRecord(
        expression,
        file,
        plan,
        card.seconds,
        duration=job.tools.probe(video.path).duration,
        thumbnail=thumbnail_file_name(file),
        translation_source=translation_source,
    )
    return Lesson(video, cut.thumbnail, record)
