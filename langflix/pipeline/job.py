"""One running job: its state in one object, and the progress it reports.

:class:`Job` holds what every step reads (inputs, options, the job's scope, the
tools and clients), so a step takes the job and its own arguments, nothing
threaded through. :class:`Progress` reports each step to the caller's callback
and honours a cancellation asked for meanwhile.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from langflix.cancel import CancelToken
from langflix.core.ffmpeg import FFmpegTools, MediaInfo
from langflix.core.video_editor import VideoEditor
from langflix.errors import JobError, LangFlixError
from langflix.pipeline.options import PipelineOptions
from langflix.pipeline.publish import sanitize_episode_name
from langflix.temp import TempArea
from langflix.tts import TTSClient

__all__ = [
    "Job",
    "LESSONS_DONE_PERCENT",
    "LESSONS_START_PERCENT",
    "Progress",
    "ProgressCallback",
    "ProgressEvent",
    "plural",
]

logger = logging.getLogger(__name__)

LESSONS_START_PERCENT: Final[float] = 8.0
LESSONS_DONE_PERCENT: Final[float] = 92.0
"""The lessons fill the progress bar from 8 % to 92 %, an equal share each."""


@dataclass(frozen=True)
class ProgressEvent:
    """One step of a job: ``percent`` of the whole job done, 0..100."""

    step: str
    percent: float
    message: str


ProgressCallback = Callable[[ProgressEvent], None]


def plural(count: int, noun: str) -> str:
    """``count`` and ``noun``, as a progress message says them ("1 line", "3 lines")."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


class Progress:
    """Reports steps to a callback; the step name is kept for error messages.

    Each report samples the job's scope (so its ``peak_bytes`` is meaningful) and
    checks the cancel token before and after the callback, so a cancellation is
    honoured at the next step whatever the callback does. Reports may come from
    the threads making lessons at once: they reach the callback one at a time,
    and the percentage never goes back.
    """

    def __init__(self, callback: ProgressCallback | None, cancel: CancelToken) -> None:
        self.step = "start"
        self._callback = callback
        self._cancel = cancel
        self._area: TempArea | None = None
        self._lock = threading.RLock()
        self._lessons: dict[int, float] = {}

    @contextlib.contextmanager
    def watching(self, area: TempArea) -> Iterator[None]:
        """Sample ``area``'s size at every step of the block."""
        self._area = area
        try:
            yield
        finally:
            self._area = None

    def __call__(self, step: str, percent: float, message: str) -> None:
        with self._lock:
            self._report(step, percent, message)

    def _report(self, step: str, percent: float, message: str) -> None:
        self.step = step
        if self._area is not None:
            self._area.stats()
        self._cancel.raise_if_cancelled()
        if self._callback is not None:
            try:
                self._callback(ProgressEvent(step, round(min(100.0, percent), 1), message))
            except LangFlixError:
                raise
            except Exception as exc:
                raise JobError(
                    f"the progress callback raised {type(exc).__name__}: {exc}; "
                    f"the job was aborted at step {step!r} and its temp files removed"
                ) from exc
        self._cancel.raise_if_cancelled()

    def warning(self, message: str) -> None:
        """Log ``message`` and show it as a step of the expression choice."""
        logger.warning("%s", message)
        self("expressions", 7.0, message)

    def lesson(self, index: int, count: int, fraction: float, step: str, message: str) -> None:
        """Report ``step`` at ``fraction`` (0..1) of lesson ``index`` of ``count``.

        The job's percentage is the sum of every lesson's fraction so far: lessons
        made at once each add their share as they go.
        """
        share = (LESSONS_DONE_PERCENT - LESSONS_START_PERCENT) / count
        with self._lock:
            self._lessons[index] = max(fraction, self._lessons.get(index, 0.0))
            self(step, LESSONS_START_PERCENT + share * sum(self._lessons.values()), message)


@dataclass(frozen=True, slots=True, kw_only=True)
class Job:
    """What every step of one job reads; made once the video is known to be a video."""

    video: Path
    subtitles: Path
    info: MediaInfo
    options: PipelineOptions
    scope: TempArea
    tools: FFmpegTools
    tts: TTSClient | None
    """None: no speech (``--tts none``), the card is silent."""
    editor: VideoEditor
    cancel: CancelToken
    """The job's own token (a child of the caller's): cancelled too when one of its pieces fails."""
    progress: Progress

    @property
    def title(self) -> str:
        """The episode's title: the name the user gave it, else the video's."""
        return self.options.episode_name or self.video.stem

    @property
    def episode_name(self) -> str:
        """The episode directory's name, which the deck's ids are derived from too."""
        return sanitize_episode_name(self.title) or "episode"

    def text_file(self, text: str, *, suffix: str, prefix: str) -> Path:
        """``text`` in a new UTF-8 file of the job's scope."""
        path = self.scope.new_file(suffix=suffix, prefix=prefix)
        path.write_text(text, encoding="utf-8")
        return path
