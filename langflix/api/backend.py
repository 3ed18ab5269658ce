"""Where jobs live and run: SQLite and this process's threads, or Redis and RQ workers on any host.

One switch, ``LANGFLIX_REDIS_URL``: unset, the embedded default needs nothing
but this machine (and imports neither redis nor rq); set, the same routes run
on the scale-out of :mod:`langflix.api.scale`, imported only then.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from langflix.api.runner import JobRunner, JobRunnerProtocol, PipelineFactory
from langflix.api.store import JobStore, JobStoreProtocol
from langflix.config import Settings
from langflix.temp import TempArea

__all__ = ["JobBackend", "open_job_backend"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobBackend:
    """The job store and runner of one server, and how to close them (after the runner's shutdown)."""

    store: JobStoreProtocol
    runner: JobRunnerProtocol
    interrupted: tuple[str, ...]
    """Jobs a dead server left queued or running, marked failed at start (embedded only)."""
    where: str
    """Where the jobs' state is, for the operator's log."""
    close: Callable[[], None]


def open_job_backend(
    settings: Settings, manager: TempArea, *, pipeline_factory: PipelineFactory | None = None
) -> JobBackend:
    """The backend ``settings`` choose; ``pipeline_factory`` only matters embedded (workers run the pipeline)."""
    if settings.scaled_out:
        from langflix.api.scale.backend import open_redis_backend

        return open_redis_backend(settings)
    store = JobStore(settings.data_dir)
    try:
        interrupted = store.fail_interrupted()
        if interrupted:
            logger.warning("%d job(s) left by a dead process marked failed: %s", len(interrupted), interrupted)
        runner = JobRunner(
            store,
            settings.output_dir.resolve(),
            workers=settings.workers,
            max_queue=settings.max_queue,
            settings=settings,
            pipeline_factory=pipeline_factory,
            manager=manager,
        )
    except BaseException:
        store.close()
        raise
    return JobBackend(store, runner, tuple(interrupted), str(store.path), store.close)
