"""LangFlixPipeline: one job from an episode (video + subtitles) to a published episode.

One job is one scope of a temp manager: every intermediate (scenes, speech,
cards, subtitle and overlay files, concat lists, thumbnails, shorts, the deck's
audio, screenshots and collection, the staged episode) is made inside it, and
the scope's directory is removed at the end whatever happens. The steps are
other modules' (``inputs``: read, clean, translate; ``selection``; ``outputs``:
what the options ask of every expression, made concurrently, then the
episode's); this one puts them in order, holds the job's disk claim across them
and publishes. The outputs reach ``OUTPUT_DIR/<episode>/`` only through
:func:`~langflix.pipeline.publish.publish_episode` (all at once, with the
manifest), and are taken back if the job fails after that.
"""

from __future__ import annotations

import dataclasses
import functools
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from langflix.cancel import CancelToken
from langflix.config import Settings, get_settings
from langflix.core.expressions import Expression
from langflix.core.ffmpeg import FFmpegTools
from langflix.core.llm_selector import LLMExpressionSelector
from langflix.core.video_editor import VideoEditor
from langflix.errors import JobError, LangFlixError
from langflix.pipeline.inputs import check_files, read_inputs, translate_lines
from langflix.pipeline.job import Job, Progress, ProgressCallback, plural
from langflix.pipeline.lesson import estimate_peak_bytes, plan_lesson
from langflix.pipeline.manifest import (
    COMPILATION_NAME,
    COMPILATION_THUMBNAIL,
    DECK_NAME,
    DECK_TSV_NAME,
    MANIFEST_NAME,
    build_manifest,
    describe_translations,
    manifest_text,
)
from langflix.pipeline.metadata import METADATA_NAME
from langflix.pipeline.options import PipelineOptions
from langflix.pipeline.outputs import EpisodeOutputs, episode_outputs, make_expressions
from langflix.pipeline.publish import publish_episode
from langflix.pipeline.selection import SelectorName, choose_expressions
from langflix.pipeline.translation import Translations
from langflix.temp import TempArea, get_temp_manager
from langflix.tts import NO_TTS, TTSClient

__all__ = ["LangFlixPipeline", "PipelineResult"]


@dataclass(frozen=True)
class PipelineResult:
    """Where a finished job's outputs are; every path is inside ``episode_dir``."""

    episode_dir: Path
    videos: tuple[Path, ...]
    compilation: Path | None
    """None when the job was asked for no compilation (as every output below)."""
    manifest: Path
    expressions: tuple[Expression, ...]
    elapsed: float
    peak_temp_bytes: int = 0
    """Most bytes the job's scope held at once (sampled at every step)."""
    thumbnails: tuple[Path, ...] = ()
    """One per expression (lessons and shorts share it), when the job makes either."""
    compilation_thumbnail: Path | None = None
    shorts: tuple[Path, ...] = ()
    """One vertical short per expression, in the order of ``expressions``."""
    deck: Path | None = None
    deck_tsv: Path | None = None
    metadata: Path | None = None

    @classmethod
    def of(cls, episode_dir: Path, episode: EpisodeOutputs, *, elapsed: float, peak: int) -> PipelineResult:
        """Where ``episode``'s outputs are once published in ``episode_dir``."""
        records = episode.records
        return cls(
            episode_dir=episode_dir,
            videos=tuple(episode_dir / r.file for r in records if r.file is not None),
            compilation=_published(episode_dir, episode, COMPILATION_NAME),
            manifest=episode_dir / MANIFEST_NAME,
            expressions=tuple(r.expression for r in records),
            elapsed=elapsed,
            peak_temp_bytes=peak,
            thumbnails=tuple(episode_dir / r.thumbnail for r in records if r.thumbnail is not None),
            compilation_thumbnail=_published(episode_dir, episode, COMPILATION_THUMBNAIL),
            shorts=tuple(episode_dir / r.short for r in records if r.short is not None),
            deck=_published(episode_dir, episode, DECK_NAME),
            deck_tsv=_published(episode_dir, episode, DECK_TSV_NAME),
            metadata=_published(episode_dir, episode, METADATA_NAME),
        )


class LangFlixPipeline:
    """Turn one episode into educational videos, a compilation, thumbnails and a manifest.

    ``translation_subtitles`` is a second subtitle file in the learner's
    language (the Korean SRT beside the English one), aligned by time.
    ``manager`` is the temp area the job's scope is made in (default: the
    process-wide manager); ``settings``, ``tts_client`` and ``ffmpeg`` replace
    what would be built from the environment. ``source_names`` are how the
    manifest names the video, the subtitles and the translation subtitles when
    given (a service passes the names its client sent, never its own temp
    paths); by default, their resolved paths.
    """

    def __init__(
        self,
        video: Path,
        subtitles: Path,
        output_dir: Path,
        options: PipelineOptions = PipelineOptions(),
        *,
        translation_subtitles: Path | None = None,
        manager: TempArea | None = None,
        settings: Settings | None = None,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
        tts_client: TTSClient | None = None,
        ffmpeg: FFmpegTools | None = None,
        source_names: Sequence[str] | None = None,
    ) -> None:
        self.video, self.subtitles, self.output_dir = Path(video), Path(subtitles), Path(output_dir)
        self.translation_subtitles = None if translation_subtitles is None else Path(translation_subtitles)
        given = [self.video, self.subtitles, *filter(None, [self.translation_subtitles])]
        if source_names is not None and len(source_names) != len(given):
            raise ValueError(
                f"source_names names {len(source_names)} files, but the job has {len(given)}: "
                "the video, the subtitles and (when given) the translation subtitles"
            )
        self._sources = tuple(source_names or (str(path.resolve()) for path in given))
        self.options = options
        self.cancel = cancel if cancel is not None else CancelToken()
        self._area, self._settings, self._callback = manager, settings, progress
        self._tts, self._tools = tts_client, ffmpeg
        self.selector: SelectorName = "offline"
        """Which selector chose the expressions of the last run."""

    def run(self) -> PipelineResult:
        """Run the job; raise only the :class:`LangFlixError` family.

        Whatever fails (bad input, ffmpeg, TTS, cancellation, the progress
        callback, Ctrl-C), the job's scope is removed and no partial output is
        left behind; ``KeyboardInterrupt`` is re-raised as itself after that
        cleanup so a terminal still stops.
        """
        started = time.monotonic()
        # The job's own token: the caller's cancel reaches it, and so does the
        # failure of one of its concurrent pieces (without cancelling the caller's).
        work = self.cancel.child()
        progress = Progress(self._callback, work)
        try:
            settings = self._settings or get_settings()
            check_files(self.video, self.subtitles, self.translation_subtitles)
            # Built before any work, so a provider without its key fails now; the
            # cancel token reaches espeak-ng and the HTTP retry backoff too.
            tts = None if self.options.tts == NO_TTS else self._tts or settings.speech(self.options.tts, cancel=work)
            tools = self._tools or settings.ffmpeg_tools()
            area = self._area or get_temp_manager()
            with area.scope(f"job-{uuid.uuid4().hex[:12]}") as scope, progress.watching(scope):
                info, inputs = read_inputs(
                    self.video, self.subtitles, self.translation_subtitles, tools=tools, progress=progress
                )
                editor = VideoEditor(scope, fmt=self.options.output_format, tools=tools, cancel=work)
                job = Job(video=self.video, subtitles=self.subtitles, info=info, options=self.options, scope=scope,
                          tools=tools, tts=tts, editor=editor, cancel=work, progress=progress)  # fmt: skip
                progress("expressions", 6.0, f"choosing up to {plural(self.options.max_expressions, 'expression')}")
                llm = _llm_once(settings, work)
                selection = choose_expressions(job, inputs.subtitles, llm=llm, warn=progress.warning)
                self.selector = selection.selector
                # Fail before the first encode, with the quota's or the disk's own clear
                # error, rather than half-way through. The claim is held for the whole
                # job (its files fill it), so concurrent jobs cannot all count on the
                # same free space.
                plans = [plan_lesson(e, job.info.duration) for e in selection.expressions]
                with scope.reserve(estimate_peak_bytes(plans, self.options), f"processing {self.video.name}"):
                    translations = translate_lines(job, inputs, selection.expressions, plans, llm=llm,
                                                   llm_language=settings.translation_language)  # fmt: skip
                    taught = [dataclasses.replace(e, translation=translations(e.cue)) for e in selection.expressions]
                    made, cover = make_expressions(
                        job, taught, plans, inputs.english, translations, width=settings.concurrency()
                    )
                    return self._publish(job, episode_outputs(job, made, cover), translations, started)
        except LangFlixError:
            raise
        except Exception as exc:  # a bug or an OSError: still one error family
            raise JobError(f"the job failed during {progress.step!r}: {exc}") from exc

    def _publish(self, job: Job, episode: EpisodeOutputs, translations: Translations, started: float) -> PipelineResult:
        """Publish the episode with its manifest, then report it done (taking it back if that fails)."""
        job.progress("publish", 96.0, f"publishing to {self.output_dir}")
        peak = job.scope.stats().peak_bytes  # every output and what it was made of: the usual peak
        job.cancel.raise_if_cancelled()
        manifest = _EpisodeManifest(job, episode, self._sources, self.selector, translations, started)
        published = publish_episode(job.scope, self.output_dir, job.episode_name, episode.files,
                                    (MANIFEST_NAME, manifest))  # fmt: skip
        expressions = tuple(record.expression for record in episode.records)
        try:
            note = describe_translations(
                sum(1 for e in expressions if e.translation), len(expressions), translations.language,
                translations.counts(),
            )  # fmt: skip
            made_what = ", ".join(self.options.outputs)
            where = published.episode_dir
            job.progress("done", 100.0, f"{made_what} of {plural(len(expressions), 'expression')} in {where}; {note}")
        except BaseException:
            published.undo()
            raise
        return PipelineResult.of(published.episode_dir, episode, elapsed=time.monotonic() - started, peak=peak)


@dataclass(frozen=True, slots=True)
class _EpisodeManifest:
    """The manifest of the episode being published, as :func:`publish_episode` asks for it: by its directory."""

    job: Job
    episode: EpisodeOutputs
    sources: tuple[str, ...]
    """How the manifest names the video, the subtitles and (when given) the translation subtitles."""
    selector: SelectorName
    translations: Translations
    started: float

    def __call__(self, episode_dir: Path) -> str:
        job, episode, translations = self.job, self.episode, self.translations
        joined = episode.compilation_seconds is not None
        return manifest_text(build_manifest(
            episode=episode_dir.name, created=datetime.now(UTC), elapsed=time.monotonic() - self.started,
            video=self.sources[0], subtitles=self.sources[1], video_seconds=job.info.duration,
            options=job.options, selector=self.selector, lessons=episode.records,
            compilation_seconds=episode.compilation_seconds,
            compilation_thumbnail=COMPILATION_THUMBNAIL if joined else None,
            translation_subtitles=self.sources[2] if len(self.sources) > 2 else None,
            translation_language=translations.language, translated_lines=translations.counts(),
            deck=episode.deck, metadata=episode.metadata,
        ))  # fmt: skip


def _llm_once(settings: Settings, work: CancelToken) -> Callable[[], LLMExpressionSelector] | None:
    """Builds the LLM once, when one is set up; it chooses and then translates."""
    if not settings.llm_base_url:
        return None
    return functools.cache(lambda: settings.llm_selector(cancel=work))


def _published(episode_dir: Path, episode: EpisodeOutputs, name: str) -> Path | None:
    """Where the episode-wide output ``name`` is, or None when the job did not make it."""
    return episode_dir / name if name in episode.files else None
