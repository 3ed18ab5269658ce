"""LangFlixPipeline: one job from an episode (video + subtitles) to a published episode.

One job is one scope of a temp manager: every intermediate (scenes, speech,
cards, subtitle and overlay files, concat lists, thumbnails, shorts, the deck's
audio, screenshots and collection, the staged episode) is made inside it, and
the scope's directory is removed at the end whatever happens. The subtitles are
cleaned (sound descriptions and speaker labels out) before anything is chosen or
drawn; every line a lesson shows is translated from the first source that has it
(``translation``). The options' ``outputs`` say what is made (``assemble``);
expressions are made concurrently on the cores one encode leaves idle (``workers``). The outputs reach
``OUTPUT_DIR/<episode>/`` only through :func:`~langflix.pipeline.publish.publish_episode`
(all at once, with the manifest), and are taken back if the job fails after that.
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
from langflix.core.card import KIND_LABELS
from langflix.core.deck import DeckNote, deck_id, deck_tsv, note_guids, write_deck
from langflix.core.expressions import Expression, expression_spans
from langflix.core.ffmpeg import FFmpegTools
from langflix.core.llm_selector import LLMExpressionSelector
from langflix.core.subtitle_alignment import load_translation_track
from langflix.core.subtitle_cleaning import clean_subtitles
from langflix.core.subtitle_render import scene_cues
from langflix.core.subtitles import Subtitles, SubtitleTrack, load_subtitles
from langflix.core.thumbnail import make_thumbnail
from langflix.core.video_editor import VideoEditor
from langflix.errors import FFmpegError, JobError, LangFlixError
from langflix.pipeline.assemble import Made, make_expression
from langflix.pipeline.job import Job, Progress, ProgressCallback
from langflix.pipeline.lesson import LessonPlan, estimate_peak_bytes, plan_lesson
from langflix.pipeline.manifest import (
    COMPILATION_NAME,
    COMPILATION_THUMBNAIL,
    DECK_NAME,
    DECK_TSV_NAME,
    MANIFEST_NAME,
    DeckRecord,
    build_manifest,
    describe_translations,
    manifest_text,
)
from langflix.pipeline.metadata import METADATA_NAME, Chapter, ShortRecord, build_metadata, metadata_text
from langflix.pipeline.options import PipelineOptions
from langflix.pipeline.publish import publish_episode, sanitize_episode_name
from langflix.pipeline.selection import Selection, SelectorName, choose_expressions
from langflix.pipeline.translation import Translations, translate_cues
from langflix.pipeline.workers import run_pieces
from langflix.temp import TempArea, get_temp_manager
from langflix.tts import NO_TTS, TTSClient

__all__ = ["LangFlixPipeline", "PipelineResult"]

_TITLE_PHRASES = 3
"""Expressions named on the compilation's thumbnail."""


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


@dataclass(frozen=True)
class _Inputs:
    """The subtitles as the job uses them: cleaned, with the tracks that translate them."""

    subtitles: Subtitles
    english: SubtitleTrack
    bilingual: SubtitleTrack | None
    translation_file: SubtitleTrack | None


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
            inputs = [(self.video, "video"), (self.subtitles, "subtitle")]
            if self.translation_subtitles is not None:
                inputs.append((self.translation_subtitles, "translation subtitle"))
            for path, what in inputs:
                if not path.is_file():
                    raise JobError(f"{what} file {path} does not exist or is not a file; check the path")
            # Built before any work, so a provider without its key fails now; the
            # cancel token reaches espeak-ng and the HTTP retry backoff too.
            tts = None if self.options.tts == NO_TTS else self._tts or settings.speech(self.options.tts, cancel=work)
            tools = self._tools or settings.ffmpeg_tools()
            area = self._area or get_temp_manager()
            with area.scope(f"job-{uuid.uuid4().hex[:12]}") as scope, progress.watching(scope):
                job, subs = self._open(scope, tools, tts, progress, work)
                llm = self._llm(settings, work)
                selection = choose_expressions(job, subs.subtitles, llm=llm, warn=progress.warning)
                self.selector = selection.selector
                # Fail before the first encode, with the quota's or the disk's own clear
                # error, rather than half-way through. The claim is held for the whole
                # job (its files fill it), so concurrent jobs cannot all count on the
                # same free space.
                plans = [plan_lesson(e, job.info.duration) for e in selection.expressions]
                need = estimate_peak_bytes(plans, self.options)
                with scope.reserve(need, f"processing {self.video.name}"):
                    translations = self._translate(job, subs, selection, plans, llm, settings)
                    return self._teach(job, subs, selection, plans, translations, settings, started)
        except LangFlixError:
            raise
        except Exception as exc:  # a bug or an OSError: still one error family
            raise JobError(f"the job failed during {progress.step!r}: {exc}") from exc

    def _open(
        self, scope: TempArea, tools: FFmpegTools, tts: TTSClient | None, progress: Progress, work: CancelToken
    ) -> tuple[Job, _Inputs]:
        """Read and clean the subtitles (and the translation file), then probe the video: the job."""
        progress("subtitles", 0.0, f"reading {self.subtitles.name}")
        # A "subtitle" ffmpeg would read as a playlist (or any non-subtitle format)
        # is refused before anything reads it; LangFlix's own parser reads the rest.
        tools.subtitle_input(self.subtitles)
        subs = clean_subtitles(load_subtitles(self.subtitles))
        english = subs.track("en")
        translation_file = None
        if self.translation_subtitles is not None:
            progress("translation", 1.5, f"reading the translation {self.translation_subtitles.name}")
            tools.subtitle_input(self.translation_subtitles)  # refused like the subtitles
            translation_file = load_translation_track(self.translation_subtitles, english.cues)
        progress("probe", 3.0, f"probing {self.video.name}")
        info = tools.probe(self.video)
        if not info.has_video or info.duration <= 0:
            raise FFmpegError(f"{self.video} has no video stream (or a zero duration); give a video file")
        editor = VideoEditor(scope, fmt=self.options.output_format, tools=tools, cancel=work)
        job = Job(video=self.video, subtitles=self.subtitles, info=info, options=self.options, scope=scope,
                  tools=tools, tts=tts, editor=editor, cancel=work, progress=progress)  # fmt: skip
        progress("expressions", 6.0, f"choosing up to {_plural(self.options.max_expressions, 'expression')}")
        return job, _Inputs(subs, english, subs.translation_track(), translation_file)

    def _llm(self, settings: Settings, work: CancelToken) -> Callable[[], LLMExpressionSelector] | None:
        """Builds the LLM once, when one is set up; it chooses and then translates."""
        if not settings.llm_base_url:
            return None
        return functools.cache(lambda: settings.llm_selector(cancel=work))

    def _translate(
        self,
        job: Job,
        subs: _Inputs,
        selection: Selection,
        plans: Sequence[LessonPlan],
        llm: Callable[[], LLMExpressionSelector] | None,
        settings: Settings,
    ) -> Translations:
        """Every line the lessons show (the scenes' cues, the cards' lines), translated."""
        needed = [e.cue for e in selection.expressions]
        if self.options.subtitles_style == "bilingual":
            for plan in plans:
                needed += subs.english.overlapping(plan.context.start, plan.context.end)
        if llm is not None and subs.bilingual is None:
            job.progress("translate", 7.5, f"finding translations for {_plural(len(set(needed)), 'line')}")
        known = {e.cue: e.translation for e in selection.expressions if e.translation}
        return translate_cues(
            needed, bilingual=subs.bilingual, translation_file=subs.translation_file, llm=llm,
            llm_language=settings.translation_language, llm_known=known, warn=job.progress.warning,
        )  # fmt: skip

    def _teach(
        self,
        job: Job,
        subs: _Inputs,
        selection: Selection,
        plans: Sequence[LessonPlan],
        translations: Translations,
        settings: Settings,
        started: float,
    ) -> PipelineResult:
        """Make what the options ask of every expression, then the episode's outputs, and publish them all."""
        options = self.options
        expressions = [dataclasses.replace(e, translation=translations(e.cue)) for e in selection.expressions]
        count = len(expressions)
        title = self.options.episode_name or self.video.stem
        name = sanitize_episode_name(title) or "episode"

        def made(index: int) -> Callable[[], Made]:
            expression, plan = expressions[index], plans[index]
            scene = scene_cues(
                subs.english.overlapping(plan.context.start, plan.context.end),
                phrase=expression.phrase,
                translate=translations,
            )
            return lambda: make_expression(
                job, expression, index, count, scene=scene, translation_source=translations.source(expression.cue),
                episode_title=title,
            )  # fmt: skip

        def compilation_thumbnail() -> Path:
            first = expressions[0]
            title = " · ".join(e.phrase for e in expressions[:_TITLE_PHRASES]) + (
                " …" if count > _TITLE_PHRASES else ""
            )
            at = (first.cue.start + min(first.cue.end, job.info.duration)) / 2
            return make_thumbnail(
                job.tools.ffmpeg, job.info.input, job.scope, at=at, title=title,
                caption=_plural(count, "English expression").upper(), timeout=job.tools.timeout, cancel=job.cancel,
            )  # fmt: skip

        pieces: list[Callable[[], Made | Path]] = [made(i) for i in range(count)]
        if options.makes("compilation"):
            pieces.append(compilation_thumbnail)
        results = run_pieces(pieces, width=settings.concurrency(), cancel=job.cancel)
        everything = [piece for piece in results if isinstance(piece, Made)]
        cover = next((piece for piece in results if isinstance(piece, Path)), None)
        assert len(everything) == count

        outputs: dict[str, Path] = {}
        for item in everything:
            record = item.record
            if record.file is not None and item.video is not None:
                outputs[record.file] = item.video.path
            if record.thumbnail is not None and item.thumbnail is not None:
                outputs[record.thumbnail] = item.thumbnail
            if record.short is not None and item.short is not None:
                outputs[record.short] = item.short.path
        compilation_seconds: float | None = None
        chapters: list[Chapter] = []
        if options.makes("compilation"):
            job.progress("compilation", 92.0, f"joining {_plural(count, 'video')}")
            lessons = [item.video for item in everything if item.video is not None]
            compilation = job.editor.concat(lessons)
            compilation_seconds = job.tools.probe(compilation.path).duration
            at = 0.0
            for item, lesson in zip(everything, lessons, strict=True):
                chapters.append(Chapter(at, item.record.expression))
                at += lesson.seconds
            assert cover is not None
            outputs |= {COMPILATION_NAME: compilation.path, COMPILATION_THUMBNAIL: cover}
        if not options.makes("lessons"):
            for item in everything:  # made for the compilation only: not published
                if item.video is not None:
                    job.scope.release(item.video.path)
        deck: DeckRecord | None = None
        if options.makes("deck"):
            job.progress("deck", 94.0, f"packing the study deck of {_plural(count, 'note')}")
            deck, deck_files = self._deck(job, everything, name, title)
            outputs |= deck_files
        metadata: str | None = None
        if options.makes("shorts") or options.makes("compilation"):
            job.progress("metadata", 95.0, "writing the upload metadata")
            shorts = [
                ShortRecord(i + 1, item.record.expression, item.record.short, item.record.short_duration,
                            item.record.thumbnail)
                for i, item in enumerate(everything) if item.record.short is not None
            ]  # fmt: skip
            joined = None
            if compilation_seconds is not None:
                joined = (COMPILATION_NAME, compilation_seconds, COMPILATION_THUMBNAIL)
            text = metadata_text(build_metadata(episode=title, shorts=shorts, compilation=joined, chapters=chapters))
            outputs[METADATA_NAME] = _written(job.scope, text, suffix=".json", prefix="metadata_")
            metadata = METADATA_NAME

        job.progress("publish", 96.0, f"publishing to {self.output_dir}")
        peak = job.scope.stats().peak_bytes  # every output and what it was made of: the usual peak
        job.cancel.raise_if_cancelled()
        records = [item.record for item in everything]

        def manifest(episode_dir: Path) -> str:
            return manifest_text(build_manifest(
                episode=episode_dir.name, created=datetime.now(UTC), elapsed=time.monotonic() - started,
                video=self._sources[0], subtitles=self._sources[1], video_seconds=job.info.duration,
                options=self.options, selector=selection.selector, lessons=records,
                compilation_seconds=compilation_seconds,
                compilation_thumbnail=COMPILATION_THUMBNAIL if compilation_seconds is not None else None,
                translation_subtitles=self._sources[2] if len(self._sources) > 2 else None,
                translation_language=translations.language, translated_lines=translations.counts(),
                deck=deck, metadata=metadata,
            ))  # fmt: skip

        published = publish_episode(job.scope, self.output_dir, name, outputs, (MANIFEST_NAME, manifest))
        episode_dir = published.episode_dir
        try:
            note = describe_translations(
                sum(1 for e in expressions if e.translation), count, translations.language, translations.counts()
            )
            made_what = ", ".join(options.outputs)
            job.progress("done", 100.0, f"{made_what} of {_plural(count, 'expression')} in {episode_dir}; {note}")
        except BaseException:
            published.undo()
            raise

        def there(file: str | None) -> Path | None:
            return None if file is None or file not in outputs else episode_dir / file

        return PipelineResult(
            episode_dir=episode_dir,
            videos=tuple(episode_dir / r.file for r in records if r.file is not None),
            compilation=there(COMPILATION_NAME),
            manifest=episode_dir / MANIFEST_NAME,
            expressions=tuple(expressions),
            elapsed=time.monotonic() - started,
            peak_temp_bytes=peak,
            thumbnails=tuple(episode_dir / r.thumbnail for r in records if r.thumbnail is not None),
            compilation_thumbnail=there(COMPILATION_THUMBNAIL),
            shorts=tuple(episode_dir / r.short for r in records if r.short is not None),
            deck=there(DECK_NAME),
            deck_tsv=there(DECK_TSV_NAME),
            metadata=there(METADATA_NAME),
        )

    def _deck(self, job: Job, everything: Sequence[Made], name: str, title: str) -> tuple[DeckRecord, dict[str, Path]]:
        """The deck (``.apkg``) and its TSV, as files of the job's scope, with its record."""
        with_shorts = self.options.deck_with_shorts
        notes = []
        for item in everything:
            assert item.study is not None
            expression = item.record.expression
            notes.append(DeckNote(
                expression.phrase, expression.cue.text, item.study.audio, item.study.still,
                line_highlights=tuple(expression_spans(expression.phrase, expression.cue.text)),
                translation=expression.translation, meaning=expression.meaning,
                kind=KIND_LABELS.get(expression.kind, expression.kind), level=expression.level,
                short=item.short.path if with_shorts and item.short is not None else None,
            ))  # fmt: skip
        deck_title = f"LangFlix::{title}"
        package = write_deck(job.scope, notes, episode=name, title=deck_title, timestamp=time.time())
        tsv = _written(job.scope, deck_tsv(notes, episode=name), suffix=".tsv", prefix="deck_")
        for item in everything:
            if item.study is not None:
                for path in item.study.files:
                    job.scope.release(path)
        guids = tuple(note_guids(name, [note.phrase for note in notes]))
        return DeckRecord(deck_id(name), deck_title, guids, with_shorts), {DECK_NAME: package, DECK_TSV_NAME: tsv}


def _written(area: TempArea, text: str, *, suffix: str, prefix: str) -> Path:
    """``text`` in a new UTF-8 file of ``area``."""
    path = area.new_file(suffix=suffix, prefix=prefix)
    path.write_text(text, encoding="utf-8")
    return path


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"

