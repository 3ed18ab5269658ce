"""LangFlixPipeline: one job from an episode (video + subtitles) to a published episode.

One job is one scope of a temp manager: every intermediate (clips, speech, title
cards, concat lists, the staged episode) is made inside it, and the scope's
directory is removed at the end whatever happens. The outputs reach
``OUTPUT_DIR/<episode>/`` only through :func:`~langflix.pipeline.publish.publish_episode`
(all at once, with the manifest), and are taken back if the job fails after that.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from langflix.cancel import CancelToken
from langflix.config import Settings, get_settings
from langflix.core.expressions import Expression
from langflix.core.ffmpeg import FFmpegTools
from langflix.core.llm_selector import LLMExpressionSelector
from langflix.core.subtitles import Subtitles, load_subtitles
from langflix.core.video_editor import VideoEditor
from langflix.errors import FFmpegError, JobError, LangFlixError
from langflix.pipeline.assemble import make_lesson
from langflix.pipeline.job import Job, Progress, ProgressCallback
from langflix.pipeline.lesson import estimate_peak_bytes, plan_lesson
from langflix.pipeline.manifest import COMPILATION_NAME, MANIFEST_NAME, build_manifest, manifest_text
from langflix.pipeline.options import PipelineOptions
from langflix.pipeline.publish import publish_episode, sanitize_episode_name
from langflix.pipeline.selection import Selection, SelectorName, choose_expressions
from langflix.temp import TempArea, get_temp_manager
from langflix.tts import TTSClient

__all__ = ["LangFlixPipeline", "PipelineResult"]


@dataclass(frozen=True)
class PipelineResult:
    """Where a finished job's outputs are; every path is inside ``episode_dir``."""

    episode_dir: Path
    videos: tuple[Path, ...]
    compilation: Path
    manifest: Path
    expressions: tuple[Expression, ...]
    elapsed: float
    peak_temp_bytes: int = 0
    """Most bytes the job's scope held at once (sampled at every step)."""


class LangFlixPipeline:
    """Turn one episode into educational videos, a compilation and a manifest.

    ``manager`` is the temp area the job's scope is made in (default: the
    process-wide manager); ``settings``, ``tts_client`` and ``ffmpeg`` replace
    what would be built from the environment. ``source_names`` are how the
    manifest names the video and the subtitles (a service passes the names its
    client sent, never its own temp paths); by default, their resolved paths.
    """

    def __init__(
        self,
        video: Path,
        subtitles: Path,
        output_dir: Path,
        options: PipelineOptions = PipelineOptions(),
        *,
        manager: TempArea | None = None,
        settings: Settings | None = None,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
        tts_client: TTSClient | None = None,
        ffmpeg: FFmpegTools | None = None,
        source_names: tuple[str, str] | None = None,
    ) -> None:
        self.video, self.subtitles, self.output_dir = Path(video), Path(subtitles), Path(output_dir)
        self._sources = source_names or (str(self.video.resolve()), str(self.subtitles.resolve()))
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
        progress = Progress(self._callback, self.cancel)
        try:
            settings = self._settings or get_settings()
            for path, what in ((self.video, "video"), (self.subtitles, "subtitle")):
                if not path.is_file():
                    raise JobError(f"{what} file {path} does not exist or is not a file; check the path")
            # Built before any work, so a provider without its key fails now; the
            # cancel token reaches espeak-ng and the HTTP retry backoff too.
            tts = self._tts or settings.tts_client(self.options.tts, cancel=self.cancel)
            tools = self._tools or settings.ffmpeg_tools()
            area = self._area or get_temp_manager()
            with area.scope(f"job-{uuid.uuid4().hex[:12]}") as scope, progress.watching(scope):
                job, subs = self._open(scope, tools, tts, progress)
                selection = choose_expressions(job, subs, llm=self._llm(settings), warn=progress.warning)
                self.selector = selection.selector
                # Fail before the first encode, with the quota's or the disk's own clear
                # error, rather than half-way through. The claim is held for the whole
                # job (its files fill it), so concurrent jobs cannot all count on the
                # same free space.
                plans = [plan_lesson(e, job.info.duration) for e in selection.expressions]
                need = estimate_peak_bytes(plans, self.options.output_format, self.options.repeat)
                with scope.reserve(need, f"processing {self.video.name}"):
                    return self._teach(job, selection, started)
        except LangFlixError:
            raise
        except Exception as exc:  # a bug or an OSError: still one error family
            raise JobError(f"the job failed during {progress.step!r}: {exc}") from exc

    def _open(self, scope: TempArea, tools: FFmpegTools, tts: TTSClient, progress: Progress) -> tuple[Job, Subtitles]:
        """Read the subtitles, then probe the video (a corrupt one fails in a second): the job."""
        progress("subtitles", 0.0, f"reading {self.subtitles.name}")
        # A "subtitle" ffmpeg would read as a playlist (or any non-subtitle format)
        # is refused before anything reads it; LangFlix's own parser reads the rest.
        tools.subtitle_input(self.subtitles)
        subs = load_subtitles(self.subtitles)
        progress("probe", 3.0, f"probing {self.video.name}")
        info = tools.probe(self.video)
        if not info.has_video or info.duration <= 0:
            raise FFmpegError(f"{self.video} has no video stream (or a zero duration); give a video file")
        editor = VideoEditor(scope, fmt=self.options.output_format, tools=tools, cancel=self.cancel)
        job = Job(video=self.video, subtitles=self.subtitles, info=info, options=self.options, scope=scope,
                  tools=tools, tts=tts, editor=editor, cancel=self.cancel, progress=progress)  # fmt: skip
        progress("expressions", 6.0, f"choosing up to {_plural(self.options.max_expressions, 'expression')}")
        return job, subs

    def _llm(self, settings: Settings) -> Callable[[], LLMExpressionSelector] | None:
        if not settings.llm_base_url:
            return None
        return lambda: settings.llm_selector(cancel=self.cancel)

    def _teach(self, job: Job, selection: Selection, started: float) -> PipelineResult:
        """Make every lesson and the compilation, then publish them with their manifest."""
        count = len(selection.expressions)
        made = [make_lesson(job, expression, i, count) for i, expression in enumerate(selection.expressions)]
        job.progress("compilation", 92.0, f"joining {_plural(count, 'video')}")
        compilation = job.editor.concat([video for video, _ in made])
        lessons = [dataclasses.replace(record, duration=job.tools.probe(video).duration) for video, record in made]
        compilation_seconds = job.tools.probe(compilation).duration

        job.progress("publish", 96.0, f"publishing to {self.output_dir}")
        peak = job.scope.stats().peak_bytes  # the compilation and its parts: the usual peak
        self.cancel.raise_if_cancelled()
        files = {record.file: video for (video, _), record in zip(made, lessons, strict=True)}

        def manifest(episode_dir: Path) -> str:
            return manifest_text(build_manifest(
                episode=episode_dir.name, created=datetime.now(UTC), elapsed=time.monotonic() - started,
                video=self._sources[0], subtitles=self._sources[1], video_seconds=job.info.duration,
                options=self.options, selector=selection.selector, lessons=lessons,
                compilation_seconds=compilation_seconds,
            ))  # fmt: skip

        name = sanitize_episode_name(self.options.episode_name or self.video.stem) or "episode"
        published = publish_episode(
            job.scope, self.output_dir, name, files | {COMPILATION_NAME: compilation}, (MANIFEST_NAME, manifest)
        )
        episode_dir = published.episode_dir
        try:
            job.progress("done", 100.0, f"{_plural(count, 'video')} in {episode_dir}")
        except BaseException:
            published.undo()
            raise
        return PipelineResult(
            episode_dir=episode_dir,
            videos=tuple(episode_dir / name for name in files),
            compilation=episode_dir / COMPILATION_NAME,
            manifest=episode_dir / MANIFEST_NAME,
            expressions=selection.expressions,
            elapsed=time.monotonic() - started,
            peak_temp_bytes=peak,
        )


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"
