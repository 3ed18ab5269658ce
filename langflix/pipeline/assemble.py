"""Making what one expression gives inside the job's scope: its lesson, short and study media.

The scene is cut in one ffmpeg run (the context clip and the expression clip
from one decode, both languages burned in, the lesson's thumbnail from the same
frames); every output of the expression is then made from those pieces, so no
piece is encoded twice: the lesson joins them (stream copy) behind the card, a
letterboxed short scales them once into the vertical frame, the deck's audio
and screenshot are read out of the expression clip without a video encode. Only
what the job asks for is made (``PipelineOptions.outputs``): a deck alone cuts
no scene at all (its audio and screenshot come straight from the source), a
cropped short is cut from the source (a crop of the burned scene would cut its
subtitles off). Each expression's pieces are released as soon as its outputs
are made, so the scope's peak stays at the expressions being made plus the
finished outputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from langflix.core.card import KIND_LABELS, CardText
from langflix.core.card_video import make_card
from langflix.core.expressions import Expression
from langflix.core.ffmpeg import MediaInfo
from langflix.core.joins import educational_video
from langflix.core.scenes import Scene, cut_scene
from langflix.core.short_layout import ShortText, layout_short
from langflix.core.shorts import short_from_scene, short_from_source
from langflix.core.study_media import StudyMedia, study_media
from langflix.core.subtitle_render import SceneCue
from langflix.core.thumbnail import ThumbnailText, make_thumbnail
from langflix.core.video_editor import Piece
from langflix.pipeline.job import Job
from langflix.pipeline.lesson import card_seconds, plan_lesson, still_time
from langflix.pipeline.manifest import LessonRecord, lesson_file_name, short_file_name, thumbnail_file_name

__all__ = ["Made", "lesson_caption", "make_expression"]


@dataclass(frozen=True, slots=True)
class Made:
    """What one expression gave (files of the job's scope) and its record.

    ``video`` is the lesson (None when the job makes neither lessons nor the
    compilation), ``short`` its vertical short, ``study`` the deck's audio and
    screenshot, ``thumbnail`` the 1280x720 PNG lessons and shorts share.
    """

    record: LessonRecord
    video: Piece | None = None
    thumbnail: Path | None = None
    short: Piece | None = None
    study: StudyMedia | None = None


def lesson_caption(expression: Expression) -> str:
    """What kind of expression it is and its level, as the card and the thumbnail say it."""
    kind = KIND_LABELS.get(expression.kind, expression.kind.replace("_", " "))
    return " · ".join(part for part in (kind, expression.level or "") if part).upper()


def make_expression(
    job: Job,
    expression: Expression,
    index: int,
    count: int,
    *,
    scene: Sequence[SceneCue] = (),
    translation_source: str | None = None,
) -> Made:
    """Expression ``index`` of ``count``: what the job's outputs need of it, and its record.

    ``scene`` holds the cues shown on the scene (with their translations and the
    expression's spans); ``translation_source`` says where the expression's
    translation came from, for the manifest. The short shows the job's title.
    """
    options = job.options
    label = f"[{index + 1}] {expression.phrase!r}"
    plan = plan_lesson(expression, job.info.duration)
    editor, report = job.editor, job.progress
    lessons = options.makes("lessons") or options.makes("compilation")
    shorts, deck = options.makes("shorts"), options.makes("deck")
    letterbox = options.shorts_fit == "letterbox"
    still_at = still_time(expression, job.info.duration)
    title = ThumbnailText(expression.phrase, lesson_caption(expression))

    cut: Scene | None = None
    thumbnail: Path | None = None
    if lessons or (shorts and letterbox):
        report.lesson(index, count, 0.0, "cut", f"{label}: cutting the scene")
        cut = cut_scene(
            editor,
            job.info,
            context=(plan.context.start, plan.context.end),
            clip=(plan.clip.start, plan.clip.end),
            subtitles=scene,
            style=options.subtitles_style,
            # Lessons and shorts show it; a compilation alone has its own.
            thumbnail=title if shorts or options.makes("lessons") else None,
            thumbnail_at=still_at,
        )
        thumbnail = cut.thumbnail
    elif shorts:
        report.lesson(index, count, 0.0, "thumbnail", f"{label}: drawing the thumbnail")
        thumbnail = make_thumbnail(
            job.tools.ffmpeg, job.info.input, job.scope, at=still_at, title=title.title, caption=title.caption,
            timeout=job.tools.timeout, cancel=job.cancel,
        )  # fmt: skip

    short: Piece | None = None
    if shorts:
        report.lesson(index, count, 0.3, "short", f"{label}: making the vertical short")
        short = _short(job, expression, cut if letterbox else None, scene)
    study: StudyMedia | None = None
    if deck:
        report.lesson(index, count, 0.45, "study", f"{label}: the line's audio and a screenshot for the deck")
        if cut is not None:  # read out of the expression clip: burned in already, no second cut
            study = study_media(editor, cut.clip.path, window=(0.0, cut.clip.seconds))
        else:
            window = (plan.clip.start, plan.clip.end)
            study = study_media(editor, job.info, window=window, subtitles=scene, style=options.subtitles_style)

    video: Piece | None = None
    card_length = 0.0
    if cut is not None and lessons:
        video, card_length = _lesson(job, expression, cut, index, count, label)
    if cut is not None:
        for done in (cut.context.path, cut.clip.path):
            job.scope.release(done)
    file = lesson_file_name(index, expression.phrase)
    record = LessonRecord(
        expression,
        file if options.makes("lessons") else None,
        plan,
        card_length,
        duration=job.tools.probe(video.path).duration if video is not None else 0.0,
        thumbnail=thumbnail_file_name(file) if thumbnail is not None else None,
        translation_source=translation_source,
        short=short_file_name(file) if short is not None else None,
        short_duration=short.seconds if short is not None else 0.0,
    )
    return Made(record, video, thumbnail, short, study)


def _short(job: Job, expression: Expression, cut: Scene | None, scene: Sequence[SceneCue]) -> Piece:
    """The vertical short: from the burned scene (letterbox) or from the source (crop)."""
    options, fmt, size = job.options, job.options.output_format, job.options.short_format
    text = ShortText(
        expression.phrase, lesson_caption(expression), expression.translation, expression.meaning, job.title or None
    )
    if cut is not None:
        layout = layout_short(
            text, width=size.width, height=size.height, source_width=fmt.width, source_height=fmt.height
        )
        return short_from_scene(job.editor, cut, layout=layout, max_seconds=options.shorts_max_seconds)
    plan = plan_lesson(expression, job.info.duration)
    layout = layout_short(
        text, width=size.width, height=size.height, fit=options.shorts_fit,
        source_width=job.info.width or fmt.width, source_height=job.info.height or fmt.height,
    )  # fmt: skip
    return short_from_source(
        job.editor, job.info, context=(plan.context.start, plan.context.end), clip=(plan.clip.start, plan.clip.end),
        layout=layout, max_seconds=options.shorts_max_seconds, subtitles=scene, style=options.subtitles_style,
    )  # fmt: skip


def _lesson(job: Job, expression: Expression, cut: Scene, index: int, count: int, label: str) -> tuple[Piece, float]:
    """The card (with its speech) then the scene and the clip repeated, joined: the lesson and its card's length."""
    editor, report = job.editor, job.progress
    speech: MediaInfo | None = None
    if job.tts is not None:
        report.lesson(index, count, 0.55, "speech", f"{label}: synthesising speech")
        speech = job.tools.probe(job.tts.synthesize(expression.phrase, "en", job.scope))
        job.cancel.raise_if_cancelled()

    report.lesson(index, count, 0.65, "title", f"{label}: drawing the card")
    card = make_card(
        editor,
        CardText.from_expression(expression),
        duration=card_seconds(speech.duration if speech is not None else 0.0),
        speech=speech,
    )

    report.lesson(index, count, 0.8, "assemble", f"{label}: assembling the lesson")
    video = educational_video(
        editor, title_card=card, context_clip=cut.context, expression_clip=cut.clip, repeat=job.options.repeat
    )
    for done in (card.path, *([speech.path] if speech is not None else [])):
        job.scope.release(done)
    return video, card.seconds
