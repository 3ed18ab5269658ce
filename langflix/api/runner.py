"""A bounded pool of worker threads running one LangFlixPipeline per job.

Why threads: the heavy work is ffmpeg and espeak-ng *subprocesses*; a thread
only waits on them, so the event loop keeps serving requests while N jobs
encode. The queue is bounded (``LANGFLIX_MAX_QUEUE``) so a burst of uploads
gets a clear "queue full" instead of unbounded disk use. Holds no HTTP types.

Ownership: a submitted job carries the resources that own its temp files (the
job's scope, as an :class:`contextlib.ExitStack`). Whatever happens to the job
(done, failed, cancelled while queued or running, server shutdown) the runner
closes that stack exactly once, *before* the final state is written, so a
client that sees a final state never sees the job's temp files.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal, Protocol

from langflix.api.redact import Redactor
from langflix.api.store import JobStoreProtocol, OutputFile
from langflix.cancel import CancelToken
from langflix.config import Settings
from langflix.errors import CancelledError, LangFlixError, QueueFullError
from langflix.pipeline import LangFlixPipeline, PipelineOptions, ProgressEvent
from langflix.temp import TempArea, get_temp_manager

__all__ = [
    "CANCEL_REASON",
    "CancelOutcome",
    "JobResult",
    "JobRunner",
    "JobRunnerProtocol",
    "PipelineFactory",
    "QueueSlot",
    "QueuedJob",
    "Runnable",
    "RunnerStats",
    "SHUTDOWN_REASON",
    "SlotKeeper",
    "run_queued_job",
]

logger = logging.getLogger(__name__)

SHUTDOWN_REASON: Final[str] = "interrupted by server shutdown; submit the job again"
CANCEL_REASON: Final[str] = "cancelled on request"

CancelOutcome = Literal["dequeued", "cancelling", "not-active"]


class JobResult(Protocol):
    """What the runner reads of a finished pipeline run."""

    @property
    def episode_dir(self) -> Path: ...


class Runnable(Protocol):
    """One job's pipeline, ready to run."""

    def run(self) -> JobResult: ...


class PipelineFactory(Protocol):
    """Builds the pipeline of one job (LangFlixPipeline's constructor by default)."""

    def __call__(
        self,
        video: Path,
        subtitles: Path,
        output_dir: Path,
        options: PipelineOptions,
        *,
        manager: TempArea,
        settings: Settings | None,
        progress: Callable[[ProgressEvent], None],
        cancel: CancelToken,
        source_names: tuple[str, ...] | None,
        translation_subtitles: Path | None = None,
    ) -> Runnable: ...


@dataclass
class QueuedJob:
    """One accepted submission: inputs inside ``scope`` and the stack that closes it.

    ``redact`` rewrites what the job's record shows (progress messages, the
    error) in the client's words: its own file names, setting names for the
    server's dirs; the full text goes to the server log. ``source_names`` are
    the client's names of the video, the subtitles and (when given) the
    translation file, for the manifest.
    """

    job_id: str
    video: Path
    subtitles: Path
    options: PipelineOptions
    scope: TempArea
    resources: contextlib.ExitStack
    cancel: CancelToken = field(default_factory=CancelToken)
    redact: Redactor = field(default_factory=Redactor)
    source_names: tuple[str, ...] | None = None
    translation: Path | None = None
    """The optional second subtitle file (the learner's language), inside ``scope`` too."""


@dataclass(frozen=True)
class RunnerStats:
    """What the pool is doing right now (for /health and /metrics)."""

    workers: int
    max_queue: int
    queued: int
    running: int
    accepting: bool
    reserved: int = 0
    """Queue places held by submissions still uploading."""


class SlotKeeper(Protocol):
    """What a :class:`QueueSlot` gives its place back to (a runner)."""

    def _give_back(self, slot: QueueSlot) -> None: ...


class QueueSlot:
    """A place in the queue held for a submission whose body is still arriving.

    Taken before the first byte is read (:meth:`JobRunner.reserve`), so a full
    queue is refused before an upload costs any disk; turned into the job's
    place by :meth:`JobRunner.submit`, or given back by :meth:`release`.
    """

    def __init__(self, runner: SlotKeeper) -> None:
        self._runner = runner
        self.held = True

    def release(self) -> None:
        """Give the place back (nothing once submitted or released); safe to call twice."""
        self._runner._give_back(self)


class JobRunnerProtocol(Protocol):
    """What the routes and the app use of a runner: where uploads go, the queue, cancelling.

    :class:`JobRunner` (threads in this process) and the RQ runner of
    ``langflix.api.scale`` (work horses on any host) implement it alike.
    """

    def start(self) -> None: ...

    def shutdown(self, timeout: float = 30.0) -> None: ...

    def staging(self, job_id: str) -> contextlib.AbstractContextManager[TempArea]: ...

    def has_room(self) -> bool: ...

    def reserve(self) -> QueueSlot: ...

    def submit(self, job: QueuedJob, slot: QueueSlot | None = None) -> None: ...

    def cancel(self, job_id: str, reason: str = CANCEL_REASON) -> CancelOutcome: ...

    def stats(self) -> RunnerStats: ...


class JobRunner:
    """``workers`` threads draining a queue of at most ``max_queue`` jobs."""

    def __init__(
        self,
        store: JobStoreProtocol,
        output_dir: Path,
        *,
        workers: int = 2,
        max_queue: int = 16,
        settings: Settings | None = None,
        pipeline_factory: PipelineFactory | None = None,
        manager: TempArea | None = None,
    ) -> None:
        self.store = store
        self._manager = manager
        self.output_dir = Path(output_dir)
        self.workers = max(1, workers)
        self.max_queue = max(1, max_queue)
        self._settings = settings
        self._factory: PipelineFactory = pipeline_factory or LangFlixPipeline
        self._cond = threading.Condition()
        self._queue: collections.OrderedDict[str, QueuedJob] = collections.OrderedDict()
        self._running: dict[str, QueuedJob] = {}
        self._reserved = 0
        self._threads: list[threading.Thread] = []
        self._accepting = False
        self._stopped = False

    # -- life cycle ---------------------------------------------------------

    def start(self) -> None:
        """Start the worker threads; jobs are accepted from now on."""
        with self._cond:
            if self._stopped:
                raise LangFlixError("this job runner was shut down; create a new one")
            if self._threads:
                return
            self._accepting = True
            for n in range(self.workers):
                thread = threading.Thread(target=self._work, name=f"langflix-job-worker-{n}", daemon=True)
                self._threads.append(thread)
                thread.start()

    def shutdown(self, timeout: float = 30.0) -> None:
        """Stop taking jobs, cancel queued and running ones, wait for the workers.

        Queued jobs are failed with :data:`SHUTDOWN_REASON` and their scopes
        closed here; running ones are cancelled (their ffmpeg is killed by the
        pipeline) and close their own scopes before their thread ends.
        """
        with self._cond:
            self._accepting = False
            self._stopped = True
            dropped = list(self._queue.values())
            self._queue.clear()
            for job in self._running.values():
                job.cancel.cancel(SHUTDOWN_REASON)
            self._cond.notify_all()
        for job in dropped:
            self._close_resources(job)
            self.store.finish(job.job_id, "failed", error=SHUTDOWN_REASON)
        for thread in self._threads:
            thread.join(timeout)
            if thread.is_alive():
                logger.warning("worker %s did not stop within %.0f s", thread.name, timeout)

    # -- submissions --------------------------------------------------------

    def staging(self, job_id: str) -> contextlib.AbstractContextManager[TempArea]:
        """The area a submission's upload is written into: a scope of this server's manager, the job's own."""
        # A short name: espeak-ng silently writes nothing to a path over ~200 chars,
        # and the pipeline nests its own scope inside this one.
        return (self._manager or get_temp_manager()).scope(f"job-{job_id[:12]}")

    def has_room(self) -> bool:
        """Whether a submission would be queued now (queued jobs and held places count)."""
        with self._cond:
            return self._accepting and len(self._queue) + self._reserved < self.max_queue

    def reserve(self) -> QueueSlot:
        """Hold a place in the queue for a submission about to upload; QueueFullError when none is left."""
        with self._cond:
            self._check_room()
            self._reserved += 1
            return QueueSlot(self)

    def submit(self, job: QueuedJob, slot: QueueSlot | None = None) -> None:
        """Queue ``job`` in the place ``slot`` holds (or a free one); QueueFullError when full or closed.

        On error the caller still owns ``job.resources`` (and ``slot``).
        """
        with self._cond:
            if slot is not None and slot.held and self._accepting:
                slot.held = False
                self._reserved -= 1
            else:
                self._check_room()
            self._queue[job.job_id] = job
            self._cond.notify()

    def _check_room(self) -> None:
        if not self._accepting:
            raise QueueFullError("the server is shutting down and takes no new job; try again later")
        if len(self._queue) + self._reserved >= self.max_queue:
            raise QueueFullError(
                f"the job queue is full ({self.max_queue} jobs waiting or uploading); try again later "
                "or raise LANGFLIX_MAX_QUEUE"
            )

    def _give_back(self, slot: QueueSlot) -> None:
        with self._cond:
            if slot.held:
                slot.held = False
                self._reserved -= 1

    def cancel(self, job_id: str, reason: str = CANCEL_REASON) -> CancelOutcome:
        """Cancel a queued job now, or ask a running one to stop."""
        with self._cond:
            queued = self._queue.pop(job_id, None)
            running = self._running.get(job_id)
            if running is not None:
                running.cancel.cancel(reason)
        if queued is not None:
            queued.cancel.cancel(reason)
            self._close_resources(queued)
            self.store.finish(job_id, "cancelled", error=reason)
            return "dequeued"
        return "cancelling" if running is not None else "not-active"

    def stats(self) -> RunnerStats:
        with self._cond:
            return RunnerStats(
                workers=self.workers,
                max_queue=self.max_queue,
                queued=len(self._queue),
                running=len(self._running),
                accepting=self._accepting,
                reserved=self._reserved,
            )

    # -- workers ------------------------------------------------------------

    def _next(self) -> QueuedJob | None:
        with self._cond:
            while not self._queue:
                if self._stopped:
                    return None
                self._cond.wait()
            _, job = self._queue.popitem(last=False)
            self._running[job.job_id] = job
            return job

    def _work(self) -> None:
        while (job := self._next()) is not None:
            try:
                self._run(job)
            except BaseException:  # never lose a worker thread to a bug
                logger.exception("job %s: unexpected error in the runner", job.job_id)
            finally:
                with self._cond:
                    self._running.pop(job.job_id, None)

    def _run(self, job: QueuedJob) -> None:
        run_queued_job(job, self.store, self.output_dir, settings=self._settings, factory=self._factory)

    @staticmethod
    def _close_resources(job: QueuedJob) -> None:
        _close_resources(job)


def run_queued_job(
    job: QueuedJob,
    store: JobStoreProtocol,
    output_dir: Path,
    *,
    settings: Settings | None,
    factory: PipelineFactory = LangFlixPipeline,
) -> None:
    """Run one job to its final state: the pipeline, its progress, its outcome in ``store``.

    The same code whether a pool thread or an RQ work horse runs it.
    ``job.resources`` (what owns its temp files) are closed exactly once,
    *before* the final state is written, so a client that reads a final state
    finds no temp file of this job.
    """
    job_output = output_dir / job.job_id
    status: Literal["completed", "failed", "cancelled"]
    error: str | None = None
    outputs: list[OutputFile] = []
    episode_dir: str | None = None

    def progress(event: ProgressEvent) -> None:
        store.update_progress(job.job_id, event.percent, event.step, job.redact(event.message))

    try:
        if job.cancel.cancelled or not store.mark_running(job.job_id):
            status, error = "cancelled", job.cancel.reason
        else:
            # Only when given: a factory written before translation files keeps working.
            extra = {} if job.translation is None else {"translation_subtitles": job.translation}
            result = factory(
                job.video,
                job.subtitles,
                job_output,
                job.options,
                manager=job.scope,
                settings=settings,
                progress=progress,
                cancel=job.cancel,
                source_names=job.source_names,
                **extra,
            ).run()
            episode_dir = str(result.episode_dir)
            outputs = _list_outputs(Path(result.episode_dir))
            status = "completed"
    except CancelledError:
        status, error = "cancelled", job.cancel.reason
    except LangFlixError as exc:
        logger.warning("job %s failed: %s", job.job_id, exc)  # the full text, paths and all: server log only
        status, error = "failed", job.redact(str(exc))
    except Exception as exc:
        logger.exception("job %s failed with an unexpected error", job.job_id)
        status, error = "failed", job.redact(f"internal error: {type(exc).__name__}: {exc}")
    if status == "cancelled" and job.cancel.reason == SHUTDOWN_REASON:
        status = "failed"
    # The scope goes first: a client that reads a final state finds no temp
    # file of this job.
    _close_resources(job)
    if status != "completed":
        shutil.rmtree(job_output, ignore_errors=True)  # only ever empty or ours: no partial outputs
    if not store.finish(job.job_id, status, error=error, outputs=outputs, output_dir=episode_dir):
        logger.info("job %s was already final; %s not recorded", job.job_id, status)


def _close_resources(job: QueuedJob) -> None:
    try:
        job.resources.close()
    except Exception:
        logger.exception("job %s: closing its temp scope failed", job.job_id)


def _list_outputs(episode_dir: Path) -> list[OutputFile]:
    """Every published file of a finished job, by name relative to its episode dir."""
    files = sorted(p for p in episode_dir.rglob("*") if p.is_file() and not p.is_symlink())
    return [OutputFile(p.relative_to(episode_dir).as_posix(), p.stat().st_size) for p in files]
