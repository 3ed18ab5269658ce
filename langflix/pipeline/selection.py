"""Which expressions a job teaches: the LLM's picks when it is configured, else the offline list.

A chat API that is down, slow or answers nonsense must not cost the user the
whole job when the curated list can still choose: the LLM's failure is a warning
and the offline selector takes over. Either way only expressions whose line is
inside the video are kept, in time order. Translations are not chosen here: the
pipeline asks its sources for every line a lesson shows (``translation``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from langflix.core.expressions import Expression, select_expressions
from langflix.core.llm_selector import LLMExpressionSelector
from langflix.core.subtitles import Cue, Subtitles
from langflix.errors import ConfigError, ExpressionError
from langflix.pipeline.job import Job
from langflix.pipeline.lesson import shows_on_screen
from langflix.pipeline.options import PipelineOptions

__all__ = ["Selection", "SelectorName", "choose_expressions"]

logger = logging.getLogger(__name__)

SelectorName = Literal["offline", "llm"]


@dataclass(frozen=True, slots=True)
class Selection:
    """The expressions chosen, in time order, and which selector chose them."""

    expressions: tuple[Expression, ...]
    selector: SelectorName


def choose_expressions(
    job: Job,
    subs: Subtitles,
    *,
    llm: Callable[[], LLMExpressionSelector] | None = None,
    warn: Callable[[str], None] = logger.warning,
) -> Selection:
    """Choose up to ``job.options.max_expressions`` from the English track of ``subs``.

    ``llm`` builds the LLM selector (None: offline only); ``warn`` hears why the
    LLM was not used. The LLM's picks keep the translation it gave (the
    pipeline's last source); the offline ones have none yet. Raises
    ExpressionError when nothing usable is left.
    """
    options, video_seconds = job.options, job.info.duration
    cues = subs.track("en").cues
    chosen = _with_llm(llm, cues, video_seconds, options, warn) if llm is not None else None
    selector: SelectorName = "llm"
    if chosen is None:
        selector = "offline"
        chosen = select_expressions(
            cues,
            options.max_expressions,
            language_level=options.language_level,
            context_seconds=options.context_seconds,
            media_duration=video_seconds,
        )
    usable = [e for e in chosen if shows_on_screen(e, video_seconds)]
    if not usable:
        raise ExpressionError(
            f"every expression found in {job.subtitles.name} lies beyond the end of {job.video.name} "
            f"({video_seconds:.1f} s); check that the subtitles belong to this video"
        )
    return Selection(tuple(sorted(usable, key=lambda e: e.cue.start)), selector)


def _with_llm(
    build: Callable[[], LLMExpressionSelector],
    cues: Sequence[Cue],
    video_seconds: float,
    options: PipelineOptions,
    warn: Callable[[str], None],
) -> list[Expression] | None:
    """The LLM's picks, or None (after a warning) when it fails or picks nothing."""
    try:
        chosen = build().select(
            cues,
            options.max_expressions,
            language_level=options.language_level,
            media_duration=video_seconds,
            context_seconds=options.context_seconds,
        )
    except (ExpressionError, ConfigError) as exc:
        warn(f"LLM selector failed ({exc}); using the offline list")
        return None
    if not chosen:
        warn("the LLM selector chose nothing; using the offline list")
        return None
    return chosen
