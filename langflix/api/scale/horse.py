"""What an RQ work horse runs for one job: the embedded pool's own code, with its owners moved.

:func:`perform` takes the job's lease (renewed while it runs), adopts the
staged upload from the shared dir, makes this horse's own temp manager for
the scratch (clips, speech: a session on this host's local temp dir, owned by
this process's lock, like any other; the staged inputs are read in place and
never closed by this process's exit or signal cleanup), and runs
:func:`~langflix.api.runner.run_queued_job`. Its resources close in order
before the final state is written: the scratch first, then the staged
inputs. A horse that is killed closes nothing: its session is a dead one
(its worker sweeps it), and the staged inputs stay for the retry, owned by
the lease, until the job is finished.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from pathlib import Path
from typing import Any

from rq import get_current_job

from langflix.api.redact import Redactor, server_dirs
from langflix.api.runner import CANCEL_REASON, QueuedJob, run_queued_job
from langflix.api.scale.connection import connect
from langflix.api.scale.leases import Lease, LeaseKeeper, holder_name
from langflix.api.scale.store import RedisJobStore
from langflix.cancel import CancelToken
from langflix.config import get_settings
from langflix.errors import BackendUnavailableError, TempFileError
from langflix.pipeline import PipelineOptions
from langflix.temp import LeasedArea, TempFileManager

__all__ = ["perform"]

logger = logging.getLogger(__name__)


class _HorseStore(RedisJobStore):
    """A work horse's writes: progress is best effort (an outage must not fail a job that can finish)."""

    def update_progress(self, job_id: str, percent: float, step: str | None, message: str | None = None) -> bool:
        try:
            return super().update_progress(job_id, percent, step, message)
        except BackendUnavailableError as exc:
            logger.warning("job %s: progress not recorded (%s)", job_id, exc)
            return True


def _remove_if_ours(staging: Path, store: RedisJobStore, job_id: str) -> None:
    try:
        ours = store.holds(job_id)
    except Exception:  # Redis unreachable: keep the bytes; the shared sweep decides once it can ask
        ours = False
    if ours:
        LeasedArea.adopt(staging).close()
    else:
        logger.info("job %s: staged inputs left to the job's current attempt (or the shared sweep)", job_id)


def perform(payload: dict[str, Any]) -> None:
    """Run the job ``payload`` describes (see :func:`~langflix.api.scale.runner.job_payload`) to its final state.

    Never raises for the job's own failures (bad input, ffmpeg, cancellation):
    they are the job's outcome, recorded in the store. RQ's retries are kept
    for what only RQ sees: a worker or work horse that died.
    """
    settings = get_settings()
    assert settings.redis_url is not None, "a work horse runs with LANGFLIX_REDIS_URL set"
    rq_job = get_current_job()
    client = rq_job.connection if rq_job is not None else connect(settings.redis_url, patient=True)
    job_id = str(payload["job_id"])
    cancel = CancelToken()
    store = _HorseStore(
        client, settings.redis_url, attempt=uuid.uuid4().hex, on_cancel=lambda _id: cancel.cancel(CANCEL_REASON)
    )
    lease = Lease(client, settings.redis_url, job_id, settings.lease_ttl, holder_name("worker"))
    lease.take()
    keeper = LeaseKeeper(lease, take=True).start()
    try:
        try:
            # Checked, then let go at once: the inputs are the lease's, so a SIGTERM that
            # cleans up this horse's temp files must leave them for the job's retry.
            staged = LeasedArea.adopt(payload["staging"])
            staged.handover()
        except TempFileError as exc:
            logger.warning("job %s: %s", job_id, exc)
            store.mark_running(job_id)
            store.finish(
                job_id, "failed", error="its staged upload is gone from LANGFLIX_SHARED_DIR; send the job again"
            )
            return
        with contextlib.ExitStack() as resources:
            # Last, once the scratch is gone: the inputs, unless this attempt was given up on
            # (its worker thought lost) and a retry elsewhere reads them now.
            resources.callback(lambda: _remove_if_ours(staged.path, store, job_id))
            manager = resources.enter_context(
                TempFileManager(
                    base_dir=settings.temp_dir, max_bytes=settings.temp_max_bytes,
                    min_free_bytes=settings.min_free_bytes,
                )
            )  # fmt: skip
            redact = Redactor(
                server_dirs(
                    (manager.path, manager.base_dir), settings.data_dir, settings.output_dir, settings.shared_dir
                )
                | payload["redact"]
            )
            names = payload.get("source_names")
            job = QueuedJob(
                job_id,
                staged.path / payload["video"],
                staged.path / payload["subtitles"],
                PipelineOptions(**payload["options"]),
                scope=manager,
                resources=resources.pop_all(),
                cancel=cancel,
                redact=redact,
                source_names=tuple(str(name) for name in names) if names else None,
                translation=staged.path / payload["translation"] if payload.get("translation") else None,
            )
        run_queued_job(job, store, settings.output_dir.resolve(), settings=settings)
    finally:
        keeper.stop()
        lease.release()
