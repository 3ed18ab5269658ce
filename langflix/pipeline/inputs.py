"""What a job reads: its files checked, the subtitles cleaned, the video probed, every shown line translated.

Each input is refused with a message naming it before any work is spent on
it; the subtitles are cleaned (sound descriptions and speaker labels out)
before anything is chosen or drawn; every line a lesson shows is translated
from the first source that has it (``translation``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from langflix.core.expressions import Expression
from langflix.core.ffmpeg import FFmpegTools, MediaInfo
from langflix.core.llm_selector import LLMExpressionSelector
from langflix.core.subtitle_alignment import load_translation_track
from langflix.core.subtitle_cleaning import clean_subtitles
from langflix.core.subtitles import Cue, Subtitles, SubtitleTrack, load_subtitles
from langflix.errors import FFmpegError, JobError
from langflix.pipeline.job import Job, Progress, plural
from langflix.pipeline.lesson import LessonPlan
from langflix.pipeline.translation import Translations, translate_cues

__all__ = ["JobInputs", "check_files", "read_inputs", "shown_lines", "translate_lines"]


@dataclass(frozen=True, slots=True)
class JobInputs:
    """The subtitles as the job uses them: cleaned, with the tracks that translate them."""

    subtitles: Subtitles
    english: SubtitleTrack
    bilingual: SubtitleTrack | None
    translation_file: SubtitleTrack | None


def check_files(video: Path, subtitles: Path, translation: Path | None) -> None:
    """Refuse, by name, an input that is not a file: before any client is built or any work starts."""
    inputs = [(video, "video"), (subtitles, "subtitle")]
    if translation is not None:
        inputs.append((translation, "translation subtitle"))
    for path, what in inputs:
        if not path.is_file():
            raise JobError(f"{what} file {path} does not exist or is not a file; check the path")


def read_inputs(
    video: Path, subtitles: Path, translation: Path | None, *, tools: FFmpegTools, progress: Progress
) -> tuple[MediaInfo, JobInputs]:
    """Read and clean the subtitles (and the translation file), then probe the video."""
    progress("subtitles", 0.0, f"reading {subtitles.name}")
    # A "subtitle" ffmpeg would read as a playlist (or any non-subtitle format)
    # is refused before anything reads it; LangFlix's own parser reads the rest.
    tools.subtitle_input(subtitles)
    subs = clean_subtitles(load_subtitles(subtitles))
    english = subs.track("en")
    translation_file = None
    if translation is not None:
        progress("translation", 1.5, f"reading the translation {translation.name}")
        tools.subtitle_input(translation)  # refused like the subtitles
        translation_file = load_translation_track(translation, english.cues)
    progress("probe", 3.0, f"probing {video.name}")
    info = tools.probe(video)
    if not info.has_video or info.duration <= 0:
        raise FFmpegError(f"{video} has no video stream (or a zero duration); give a video file")
    return info, JobInputs(subs, english, subs.translation_track(), translation_file)


def shown_lines(
    expressions: Sequence[Expression], plans: Sequence[LessonPlan], english: SubtitleTrack, *, bilingual_scenes: bool
) -> list[Cue]:
    """Every line a lesson shows: each card's line, and the scenes' lines when they are shown in both languages."""
    needed = [e.cue for e in expressions]
    if bilingual_scenes:
        for plan in plans:
            needed += english.overlapping(plan.context.start, plan.context.end)
    return needed


def translate_lines(
    job: Job,
    inputs: JobInputs,
    expressions: Sequence[Expression],
    plans: Sequence[LessonPlan],
    *,
    llm: Callable[[], LLMExpressionSelector] | None,
    llm_language: str,
) -> Translations:
    """Every line the lessons show (the scenes' cues, the cards' lines), translated."""
    bilingual = job.options.subtitles_style == "bilingual"
    needed = shown_lines(expressions, plans, inputs.english, bilingual_scenes=bilingual)
    if llm is not None and inputs.bilingual is None:
        job.progress("translate", 7.5, f"finding translations for {plural(len(set(needed)), 'line')}")
    known = {e.cue: e.translation for e in expressions if e.translation}
    return translate_cues(
        needed, bilingual=inputs.bilingual, translation_file=inputs.translation_file, llm=llm,
        llm_language=llm_language, llm_known=known, warn=job.progress.warning,
    )  # fmt: skip
