"""LangFlixPipeline: one job from an episode (video + subtitles) to published outputs.

One job is one scope of a :class:`~langflix.utils.temp_file_manager.TempFileManager`:
every intermediate (clips, speech, title cards, concat lists, the manifest) is made
inside it, and the scope's directory is removed at the end whatever happens. The
outputs reach ``OUTPUT_DIR/<episode>/`` only through ``scope.persist`` (atomic), with
``manifest.json`` persisted last: a reader that finds the manifest finds every file
it names, complete.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
import time
import unicodedata
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Final

from langflix.config import Settings, get_settings
from langflix.core.cancel import CancelToken
from langflix.core.expressions import LANGUAGE_LEVELS, Expression, select_expressions
from langflix.core.ffmpeg import MediaInfo, probe
from langflix.core.subtitles import Cue, Subtitles, load_subtitles
from langflix.core.video_editor import OutputFormat, VideoEditor
from langflix.errors import (
    ConfigError,
    ExpressionError,
    FFmpegError,
    JobError,
    LangFlixError,
)
from langflix.temp import TempFileManager, get_temp_manager
from langflix.tts import TTS_PROVIDERS, TTSClient, make_tts_client

__all__ = [
    "LangFlixPipeline",
    "MANIFEST_NAME",
    "PipelineOptions",
    "PipelineResult",
    "ProgressEvent",
    "claim_episode_dir",
    "sanitize_episode_name",
]

logger = logging.getLogger(__name__)

MANIFEST_NAME: Final[str] = "manifest.json"
MANIFEST_VERSION: Final[int] = 1
COMPILATION_NAME: Final[str] = "compilation.mp4"

_MAX_CLAIM_ATTEMPTS: Final[int] = 10_000
_MAX_NAME_CHARS: Final[int] = 80
_CLIP_PADDING: Final[float] = 0.2
"""Seconds kept around a cue so the first and last syllables are not clipped."""
_MIN_CLIP_SECONDS: Final[float] = 0.1
_MIN_CARD_SECONDS: Final[float] = 3.0
_CARD_TAIL_SECONDS: Final[float] = 1.0


@dataclass(frozen=True)
class PipelineOptions:
    """What the user chose for one job; validated at construction (ConfigError)."""

    max_expressions: int = 5
    repeat: int = 2
    tts: str = "espeak"
    language_level: str = "intermediate"
    episode_name: str | None = None
    output_format: OutputFormat = field(default_factory=OutputFormat)
    context_seconds: float = 10.0
    """Seconds of the scene shown around the expression's line (split before/after)."""

    def __post_init__(self) -> None:
        if self.max_expressions < 1:
            raise ConfigError(
                f"max_expressions must be at least 1 (got {self.max_expressions}); "
                "pass --max-expressions 1 or more"
            )
        if not 1 <= self.repeat <= 20:
            raise ConfigError(f"repeat must be between 1 and 20 (got {self.repeat}); fix --repeat")
        if self.tts not in TTS_PROVIDERS:
            raise ConfigError(
                f"unknown TTS provider {self.tts!r}; choose one of {', '.join(TTS_PROVIDERS)}"
            )
        if self.language_level not in LANGUAGE_LEVELS:
            raise ConfigError(
                f"unknown language level {self.language_level!r}; "
                f"choose one of {', '.join(LANGUAGE_LEVELS)}"
            )
        if not 0.0 <= self.context_seconds <= 120.0:
            raise ConfigError(
                f"context_seconds must be between 0 and 120 (got {self.context_seconds})"
            )
        if self.episode_name is not None and not sanitize_episode_name(self.episode_name):
            raise ConfigError(
                f"episode name {self.episode_name!r} has no usable character; "
                "use letters, digits, '-', '_' or '.'"
            )


@dataclass(frozen=True)
class ProgressEvent:
    """One step of a job: ``percent`` of the whole job done, 0..100."""

    step: str
    percent: float
    message: str


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


def sanitize_episode_name(name: str) -> str:
    """A directory name made from ``name`` that cannot escape the output dir.

    Letters of any script are kept (Korean titles are common), anything else
    (separators, ``..``, control characters, spaces) becomes ``_``. Empty when
    nothing usable is left.
    """
    text = unicodedata.normalize("NFKC", name)
    text = re.sub(r"[^\w.-]+", "_", text, flags=re.UNICODE)
    # Leading dots would hide the directory or spell "..": strip them.
    text = text.strip("._-")
    return text[:_MAX_NAME_CHARS].rstrip("._-")


def claim_episode_dir(output_dir: Path, name: str) -> Path:
    """Create and return ``output_dir/name`` or the first free ``name-2``, ``name-3``...

    ``os.mkdir`` is the claim: it fails atomically when the directory exists, so
    two pipelines publishing the same episode at once can never both pick the
    same directory (a check-then-create would race) and an earlier run is never
    clobbered.
    """
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise JobError(
            f"cannot create the output directory {output_dir}: {exc.strerror}; "
            "choose another one with -o/--output-dir"
        ) from exc
    for attempt in range(1, _MAX_CLAIM_ATTEMPTS + 1):
        candidate = output_dir / (name if attempt == 1 else f"{name}-{attempt}")
        try:
            os.mkdir(candidate, 0o755)
        except FileExistsError:
            continue
        except OSError as exc:
            raise JobError(
                f"cannot create {candidate}: {exc.strerror}; check the permissions of {output_dir}"
            ) from exc
        return candidate
    raise JobError(
        f"{output_dir} already holds {_MAX_CLAIM_ATTEMPTS} runs of {name!r}; "
        "clean it up or pass another --episode-name"
    )


def _estimate_peak_bytes(
    expressions: Sequence[Expression], options: PipelineOptions, video_seconds: float
) -> int:
    """Rough peak of a job's scope: every lesson plus the compilation, at the output bitrate.

    0.08 bit per pixel per frame plus 128 kbit/s of audio: what x264 ``veryfast`` at
    CRF 23 gave in ``benchmarks/bench_pipeline.py`` (720p: 245 KB/s of lesson; the
    measured peak of a 5-expression job was 46.8 MiB for 99.9 s of lessons).
    """
    fmt = options.output_format
    rate = fmt.width * fmt.height * fmt.fps * 0.08 / 8 + 16_000
    lesson_seconds = 0.0
    for e in expressions:
        context = min(e.context_end, video_seconds) - max(e.context_start, 0.0)
        clip = min(e.cue.end, video_seconds) - e.cue.start + 2 * _CLIP_PADDING
        lesson_seconds += _MIN_CARD_SECONDS + max(context, 0.0) + max(clip, 0.0) * options.repeat
    return int(2 * lesson_seconds * rate)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _slug(text: str, limit: int = 40) -> str:
    """An ASCII file-name fragment for a phrase ("break the ice" -> "break-the-ice")."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:limit].rstrip("-") or "expression"


@dataclass
class _Piece:
    """One expression's educational video while the job is running."""

    expression: Expression
    video: Path
    card_seconds: float
    context: tuple[float, float]
    clip: tuple[float, float]
    duration: float = 0.0
    name: str = ""


class LangFlixPipeline:
    """Turn one episode into educational videos, a compilation and a manifest."""

    def __init__(
        self,
        video: Path,
        subtitles: Path,
        output_dir: Path,
        options: PipelineOptions = PipelineOptions(),
        *,
        manager: TempFileManager | None = None,
        settings: Settings | None = None,
        progress: Callable[[ProgressEvent], None] | None = None,
        cancel: CancelToken | None = None,
        tts_client: TTSClient | None = None,
    ) -> None:
        self.video = Path(video)
        self.subtitles = Path(subtitles)
        self.output_dir = Path(output_dir)
        self.options = options
        self._manager = manager
        self._settings = settings
        self._progress = progress
        self.cancel = cancel if cancel is not None else CancelToken()
        self._tts_client = tts_client
        self._step = "start"
        self._scope: TempFileManager | None = None
        self.selector = "offline"
        """Which selector chose the expressions of the last run ("offline" or "llm")."""

    # -- public -----------------------------------------------------------------

    def run(self) -> PipelineResult:
        """Run the job; raise only the :class:`LangFlixError` family.

        Whatever fails (bad input, ffmpeg, TTS, cancellation, the progress
        callback, Ctrl-C), the job's scope is removed and no partial output is
        left behind; ``KeyboardInterrupt`` is re-raised as itself after that
        cleanup so a terminal still stops.
        """
        started = time.monotonic()
        try:
            settings = self._settings or get_settings()
            self._check_inputs()
            # The cancel token reaches espeak-ng and the HTTP retry backoff too.
            tts = self._tts_client or make_tts_client(
                self.options.tts, settings, cancel=self.cancel
            )
            manager = self._manager or get_temp_manager()
            with manager.scope(f"job-{uuid.uuid4().hex[:12]}") as scope:
                self._scope = scope
                try:
                    return self._run_job(scope, settings, tts, started)
                finally:
                    self._scope = None
        except LangFlixError:
            raise
        except Exception as exc:  # a bug or an OSError: still one error family
            raise JobError(f"the job failed during {self._step!r}: {exc}") from exc

    # -- steps ------------------------------------------------------------------

    def _run_job(
        self, scope: TempFileManager, settings: Settings, tts: TTSClient, started: float
    ) -> PipelineResult:
        self._emit("subtitles", 0.0, f"reading {self.subtitles.name}")
        subs = load_subtitles(self.subtitles)
        cues = subs.track("en").cues

        # Probe before any heavy work: a corrupt video fails in a second.
        self._emit("probe", 3.0, f"probing {self.video.name}")
        info = probe(self.video)
        if not info.has_video or info.duration <= 0:
            raise FFmpegError(
                f"{self.video} has no video stream (or a zero duration); give a video file"
            )

        self._emit(
            "expressions",
            6.0,
            f"choosing up to {_plural(self.options.max_expressions, 'expression')}",
        )
        expressions = self._select(subs, cues, info, settings)

        # Fail before the first encode, with the quota's or the disk's own clear error,
        # rather than half-way through when the disk fills up.
        # The claim is held for the whole job: its files fill it (a reservation is
        # a floor), so concurrent jobs cannot all count on the same free space.
        need = _estimate_peak_bytes(expressions, self.options, info.duration)
        with scope.reserve(need, f"processing {self.video.name}"):
            return self._make_and_publish(scope, settings, tts, info, expressions, started)

    def _make_and_publish(
        self,
        scope: TempFileManager,
        settings: Settings,
        tts: TTSClient,
        info: MediaInfo,
        expressions: list[Expression],
        started: float,
    ) -> PipelineResult:
        editor = VideoEditor(
            scope,
            fmt=self.options.output_format,
            cancel=self.cancel,
            timeout=settings.ffmpeg_timeout,
        )
        pieces: list[_Piece] = []
        span = 84.0 / len(expressions)
        for index, expr in enumerate(expressions):
            base = 8.0 + index * span
            pieces.append(self._make_piece(scope, editor, tts, info, expr, index, base, span))

        self._emit("compilation", 92.0, f"joining {_plural(len(pieces), 'video')}")
        compilation = editor.concat([p.video for p in pieces])
        for piece in pieces:
            piece.duration = probe(piece.video).duration
        compilation_seconds = probe(compilation).duration

        self._emit("publish", 96.0, f"publishing to {self.output_dir}")
        peak = scope.stats().peak_bytes  # the compilation and its parts: the usual peak
        result = self._publish(scope, info, pieces, compilation, compilation_seconds, started)
        return dataclasses.replace(result, peak_temp_bytes=peak)

    def _select(
        self, subs: Subtitles, cues: Sequence[Cue], info: MediaInfo, settings: Settings
    ) -> list[Expression]:
        bilingual = len(subs.tracks) > 1

        def translate(cue: Cue) -> str | None:
            return subs.translation_for(cue)

        chosen: list[Expression] | None = None
        if settings.llm_base_url:
            chosen = self._select_with_llm(cues, info, settings)
            if chosen is not None and bilingual:
                # The bilingual file's own translation when the model gave none.
                chosen = [
                    e if e.translation else dataclasses.replace(e, translation=translate(e.cue))
                    for e in chosen
                ]
        if chosen is None:
            self.selector = "offline"
            chosen = select_expressions(
                cues,
                self.options.max_expressions,
                language_level=self.options.language_level,
                context_seconds=self.options.context_seconds,
                media_duration=info.duration,
                translate=translate if bilingual else None,
            )
        # Cues beyond the video's end (a subtitle for a longer cut) cannot be shown.
        usable = [e for e in chosen if min(e.cue.end, info.duration) - e.cue.start >= _MIN_CLIP_SECONDS]
        if not usable:
            raise ExpressionError(
                f"every expression found in {self.subtitles.name} lies beyond the end of "
                f"{self.video.name} ({info.duration:.1f} s); check that the subtitles belong to this video"
            )
        return sorted(usable, key=lambda e: e.cue.start)

    def _select_with_llm(
        self, cues: Sequence[Cue], info: MediaInfo, settings: Settings
    ) -> list[Expression] | None:
        """The LLM's picks, or None (with a warning) when it fails: the job goes on offline.

        A chat API that is down, slow or answers nonsense must not cost the user the
        whole job when the curated list can still choose; the manifest records which
        selector chose.
        """
        from langflix.core.llm_selector import LLMExpressionSelector

        try:
            selector = LLMExpressionSelector.from_settings(settings)
            chosen = selector.select(
                cues,
                self.options.max_expressions,
                language_level=self.options.language_level,
                media_duration=info.duration,
                context_seconds=self.options.context_seconds,
            )
        except (ExpressionError, ConfigError) as exc:
            logger.warning("LLM selector failed, using the offline list instead: %s", exc)
            self._emit("expressions", 7.0, f"LLM selector failed ({exc}); using the offline list")
            return None
        if not chosen:
            logger.warning("the LLM selector chose nothing; using the offline list instead")
            return None
        self.selector = "llm"
        return chosen

    def _make_piece(
        self,
        scope: TempFileManager,
        editor: VideoEditor,
        tts: TTSClient,
        info: MediaInfo,
        expr: Expression,
        index: int,
        base: float,
        span: float,
    ) -> _Piece:
        label = f"[{index + 1}] {expr.phrase!r}"
        end_of_video = info.duration
        context_start = max(0.0, min(expr.context_start, expr.cue.start))
        context_end = min(end_of_video, max(expr.context_end, expr.cue.end))
        clip_start = max(context_start, expr.cue.start - _CLIP_PADDING)
        clip_end = min(context_end, expr.cue.end + _CLIP_PADDING)

        self._emit("cut", base, f"{label}: cutting the scene")
        context_clip = editor.cut_clip(self.video, context_start, context_end)
        expression_clip = editor.cut_clip(self.video, clip_start, clip_end)

        self._emit("speech", base + span * 0.35, f"{label}: synthesising speech")
        speech = tts.synthesize(expr.phrase, "en", scope)
        self.cancel.raise_if_cancelled()
        speech_seconds = probe(speech).duration
        card_seconds = max(_MIN_CARD_SECONDS, speech_seconds + _CARD_TAIL_SECONDS)

        self._emit("title", base + span * 0.5, f"{label}: rendering the title card")
        card = editor.title_card(
            expr.phrase,
            expr.cue.text,
            duration=card_seconds,
            translation=expr.translation,
            audio=speech,
        )

        self._emit("assemble", base + span * 0.75, f"{label}: assembling the lesson")
        video = editor.educational_video(
            title_card=card,
            context_clip=context_clip,
            expression_clip=expression_clip,
            repeat=self.options.repeat,
        )
        # Computed, not probed (ffprobe costs ~0.1 s a call): the card is already
        # longer than its speech, so the editor keeps the duration asked for.
        piece = _Piece(
            expression=expr,
            video=video,
            card_seconds=card_seconds,
            context=(context_start, context_end),
            clip=(clip_start, clip_end),
            name=f"{index + 1:02d}-{_slug(expr.phrase)}.mp4",
        )
        # The pieces are inside the lesson now: free their bytes before the next
        # expression so the scope's peak stays at one expression's worth.
        for done in (context_clip, expression_clip, speech, card):
            scope.release(done)
        return piece

    def _publish(
        self,
        scope: TempFileManager,
        info: MediaInfo,
        pieces: Sequence[_Piece],
        compilation: Path,
        compilation_seconds: float,
        started: float,
    ) -> PipelineResult:
        name = sanitize_episode_name(self.options.episode_name or self.video.stem) or "episode"
        self.cancel.raise_if_cancelled()
        # The whole episode is assembled in the scope, then renamed over the
        # empty directory claimed for it: a reader sees no episode or all of it.
        staging = scope.new_dir(prefix="episode-")
        for piece in pieces:
            scope.persist(piece.video, staging / piece.name)
        scope.persist(compilation, staging / COMPILATION_NAME)
        episode_dir = claim_episode_dir(self.output_dir, name)
        try:
            (staging / MANIFEST_NAME).write_text(
                json.dumps(
                    self._manifest(episode_dir, info, pieces, compilation_seconds, started),
                    indent=2,
                    ensure_ascii=False,
                )
                + "\n",
                encoding="utf-8",
            )
            scope.persist(staging, episode_dir)  # rename(2) over an empty dir: atomic
        except BaseException:
            _unclaim(episode_dir)
            raise
        videos = tuple(episode_dir / piece.name for piece in pieces)
        try:
            self._emit("done", 100.0, f"{_plural(len(videos), 'video')} in {episode_dir}")
        except BaseException:
            _unpublish(episode_dir, [*videos, episode_dir / COMPILATION_NAME, episode_dir / MANIFEST_NAME])
            raise
        return PipelineResult(
            episode_dir=episode_dir,
            videos=videos,
            compilation=episode_dir / COMPILATION_NAME,
            manifest=episode_dir / MANIFEST_NAME,
            expressions=tuple(p.expression for p in pieces),
            elapsed=time.monotonic() - started,
        )

    def _manifest(
        self,
        episode_dir: Path,
        info: MediaInfo,
        pieces: Sequence[_Piece],
        compilation_seconds: float,
        started: float,
    ) -> dict[str, Any]:
        fmt = self.options.output_format
        return {
            "version": MANIFEST_VERSION,
            "episode": episode_dir.name,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "elapsed_seconds": round(time.monotonic() - started, 3),
            "source": {
                "video": str(self.video.resolve()),
                "subtitles": str(self.subtitles.resolve()),
                "video_duration": round(info.duration, 3),
            },
            "options": {
                "max_expressions": self.options.max_expressions,
                "repeat": self.options.repeat,
                "tts": self.options.tts,
                "language_level": self.options.language_level,
                "context_seconds": self.options.context_seconds,
                "format": dataclasses.asdict(fmt),
            },
            "selector": self.selector,
            "expressions": [
                {
                    "index": i + 1,
                    "phrase": p.expression.phrase,
                    "kind": p.expression.kind,
                    "meaning": p.expression.meaning,
                    "translation": p.expression.translation,
                    "line": p.expression.cue.text,
                    "cue_start": round(p.expression.cue.start, 3),
                    "cue_end": round(p.expression.cue.end, 3),
                    # What was cut, after clamping to the video (a cue may run past its end).
                    "context_start": round(p.context[0], 3),
                    "context_end": round(p.context[1], 3),
                    "clip_start": round(p.clip[0], 3),
                    "clip_end": round(p.clip[1], 3),
                    "file": p.name,
                    "duration": round(p.duration, 3),
                    "parts": {
                        "title_card": round(p.card_seconds, 3),
                        "context_clip": round(p.context[1] - p.context[0], 3),
                        "expression_clip": round(p.clip[1] - p.clip[0], 3),
                        "repeat": self.options.repeat,
                    },
                }
                for i, p in enumerate(pieces)
            ],
            "compilation": {"file": COMPILATION_NAME, "duration": round(compilation_seconds, 3)},
        }

    # -- helpers ----------------------------------------------------------------

    def _check_inputs(self) -> None:
        if not self.video.is_file():
            raise JobError(f"video file {self.video} does not exist or is not a file; check the path")
        if not self.subtitles.is_file():
            raise JobError(
                f"subtitle file {self.subtitles} does not exist or is not a file; check the path"
            )

    def _emit(self, step: str, percent: float, message: str) -> None:
        """Report progress, then honour a cancellation asked for meanwhile."""
        self._step = step
        if self._scope is not None:
            self._scope.stats()  # samples the scope's size, so peak_bytes is meaningful
        self.cancel.raise_if_cancelled()
        if self._progress is not None:
            try:
                self._progress(ProgressEvent(step, round(min(100.0, percent), 1), message))
            except LangFlixError:
                raise
            except Exception as exc:
                raise JobError(
                    f"the progress callback raised {type(exc).__name__}: {exc}; "
                    f"the job was aborted at step {step!r} and its temp files removed"
                ) from exc
        self.cancel.raise_if_cancelled()


def _unclaim(episode_dir: Path) -> None:
    """Give back a claimed episode dir that nothing was published into."""
    try:
        episode_dir.rmdir()
    except OSError as exc:
        logger.warning("left %s in place: %s", episode_dir, exc)


def _unpublish(episode_dir: Path, published: Sequence[Path]) -> None:
    """Undo a failed publish: remove exactly what this job put in its claimed dir.

    Only the paths this job persisted are unlinked, then the directory is removed
    only if that left it empty: a file somebody else put there is never touched.
    """
    for path in reversed(published):
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:
            logger.warning("could not remove partial output %s: %s", path, exc)
    _unclaim(episode_dir)
