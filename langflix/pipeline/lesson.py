"""The arithmetic of a lesson, as pure functions: what is cut, how long it lasts, what it weighs.

A lesson is a title card, the scene around the expression's line (its context)
and the expression clip repeated. Everything here is computed from the cue
times, the video's length and the options, without ffmpeg, so it is unit-tested
on plain numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from langflix.core.expressions import Expression
from langflix.core.output_format import OutputFormat
from langflix.pipeline.options import PipelineOptions

__all__ = [
    "CARD_TAIL_SECONDS",
    "CLIP_PADDING",
    "LessonPlan",
    "MIN_CARD_SECONDS",
    "MIN_CLIP_SECONDS",
    "Window",
    "card_seconds",
    "encoded_bytes_per_second",
    "estimate_peak_bytes",
    "lesson_seconds",
    "plan_lesson",
    "shows_on_screen",
    "still_time",
]

CLIP_PADDING: Final[float] = 0.2
"""Seconds kept around a cue so the first and last syllables are not clipped."""
MIN_CLIP_SECONDS: Final[float] = 0.1
"""Shortest stretch of a cue inside the video that is worth a lesson."""
MIN_CARD_SECONDS: Final[float] = 3.0
"""A title card stays at least this long, so it can be read."""
CARD_TAIL_SECONDS: Final[float] = 1.0
"""Silence after the spoken expression before the scene starts."""

_BITS_PER_PIXEL_FRAME: Final[float] = 0.08
_AUDIO_BYTES_PER_SECOND: Final[float] = 16_000.0  # 128 kbit/s AAC (and the deck's MP3)
_STILL_BYTES: Final[int] = 512 * 1024  # a deck screenshot (JPEG), generously


@dataclass(frozen=True, slots=True)
class Window:
    """A stretch of the source video, in seconds."""

    start: float
    end: float

    @property
    def seconds(self) -> float:
        return self.end - self.start


@dataclass(frozen=True, slots=True)
class LessonPlan:
    """What one lesson cuts from the video: the scene (context) and, inside it, the clip."""

    context: Window
    clip: Window


def plan_lesson(expression: Expression, video_seconds: float) -> LessonPlan:
    """The context and clip windows of ``expression``, clamped to the video.

    The context covers the cue and the expression's context window; the clip is
    the cue plus :data:`CLIP_PADDING` on each side, never outside the context.
    """
    cue = expression.cue
    context = Window(
        max(0.0, min(expression.context_start, cue.start)),
        min(video_seconds, max(expression.context_end, cue.end)),
    )
    clip = Window(max(context.start, cue.start - CLIP_PADDING), min(context.end, cue.end + CLIP_PADDING))
    return LessonPlan(context, clip)


def shows_on_screen(expression: Expression, video_seconds: float) -> bool:
    """Whether enough of the cue lies inside the video to be shown (a subtitle may run past it)."""
    return min(expression.cue.end, video_seconds) - expression.cue.start >= MIN_CLIP_SECONDS


def still_time(expression: Expression, video_seconds: float) -> float:
    """The moment a still of ``expression`` shows: the middle of its line (the part inside the video)."""
    return (expression.cue.start + min(expression.cue.end, video_seconds)) / 2


def card_seconds(speech_seconds: float) -> float:
    """How long the title card lasts: its speech plus a tail, never under the minimum."""
    return max(MIN_CARD_SECONDS, speech_seconds + CARD_TAIL_SECONDS)


def lesson_seconds(plan: LessonPlan, card: float, repeat: int) -> float:
    """The length of a lesson: the card, the scene, then the clip ``repeat`` times."""
    return card + plan.context.seconds + plan.clip.seconds * repeat


def encoded_bytes_per_second(fmt: OutputFormat) -> float:
    """Bytes a second of lesson takes at ``fmt``: what x264 and AAC write, roughly.

    0.08 bit per pixel per frame plus 128 kbit/s of audio: what x264 ``veryfast``
    at CRF 23 gave in ``benchmarks/bench_pipeline.py`` (720p: 245 KB/s of lesson).
    """
    return fmt.width * fmt.height * fmt.fps * _BITS_PER_PIXEL_FRAME / 8 + _AUDIO_BYTES_PER_SECOND


def estimate_peak_bytes(plans: Sequence[LessonPlan], options: PipelineOptions) -> int:
    """Rough peak of a job's scope: every lesson (shortest card) and the compilation joining
    them, every short (its scene and the clip once, capped), the deck holding their copies.

    The measured peak of a 5-expression job in ``benchmarks/bench_pipeline.py``
    was 46.8 MiB for 99.9 s of lessons; this estimate errs on the large side.
    """
    fmt = options.output_format
    need = 0.0
    if options.makes("lessons") or options.makes("compilation"):
        seconds = sum(lesson_seconds(plan, MIN_CARD_SECONDS, options.repeat) for plan in plans)
        need += 2 * seconds * encoded_bytes_per_second(fmt)
    if options.makes("shorts"):
        size = options.short_format
        tall = fmt.replace(width=size.width, height=size.height)
        seconds = sum(min(options.shorts_max_seconds, p.context.seconds + p.clip.seconds) for p in plans)
        need += (2 if options.deck_with_shorts else 1) * seconds * encoded_bytes_per_second(tall)
    if options.makes("deck"):
        need += 2 * sum(p.clip.seconds for p in plans) * _AUDIO_BYTES_PER_SECOND + len(plans) * _STILL_BYTES
    return int(need)
