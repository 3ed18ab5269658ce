"""The API's side of the queue: uploads staged under a lease, jobs enqueued on RQ, cancelled on any host.

The same interface as the embedded pool (:class:`~langflix.api.runner.JobRunnerProtocol`),
so the routes do not know which one they talk to. What differs is who owns a
submission's bytes. An upload is written into a :class:`~langflix.temp.LeasedArea`
of ``LANGFLIX_SHARED_DIR/staging``, owned by the job's lease, which this server
renews while the body arrives. Submitting enqueues the job and *hands the
area over*: the bytes stay for whichever worker takes the job (the lease
outlives this server), and this process will never delete them. A failed
submission (a bad field, a limit, a client gone, Redis gone) removes the area
here and now: nothing half-staged is left for a sweep.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from pathlib import Path
from types import TracebackType
from typing import Any, Final

import redis
from rq import Queue, Retry, Worker
from rq.command import send_stop_job_command
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job

from langflix.api.runner import CANCEL_REASON, CancelOutcome, QueuedJob, QueueSlot, RunnerStats
from langflix.api.scale.connection import unavailable
from langflix.api.scale.leases import Lease, LeaseKeeper, holder_name
from langflix.api.scale.store import RedisJobStore
from langflix.config import Settings
from langflix.errors import BackendUnavailableError, QueueFullError
from langflix.temp import LeasedArea, TempArea

__all__ = ["HORSE_FUNCTION", "RESULT_TTL", "RQJobRunner", "StagedUpload", "job_payload"]

logger = logging.getLogger(__name__)

HORSE_FUNCTION: Final[str] = "langflix.api.scale.horse.perform"
"""What a work horse runs for a job (named, not imported: the API never runs a job)."""
RESULT_TTL: Final[int] = 7 * 24 * 3600
"""How long RQ keeps its own record of a finished job (ours is in the job store until deleted)."""


class StagedUpload(contextlib.AbstractContextManager[TempArea]):
    """One submission's staging area and the lease this server keeps while the body arrives.

    Leaving the block removes the area and drops the lease, unless the job was
    handed over to the queue (:meth:`handover`), after which the area is the
    lease's and leaving does nothing.
    """

    def __init__(self, area: LeasedArea, lease: Lease, keeper: LeaseKeeper) -> None:
        self.area, self.lease, self.keeper = area, lease, keeper
        self.handed_over = False

    def __enter__(self) -> TempArea:
        return self.area

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.keeper.stop()
        if not self.handed_over:
            self.area.close()
            self.lease.release()

    def confirm(self) -> None:
        """Check the lease held all along, before the job is queued: else a sweep may have taken the bytes."""
        if self.keeper.lost or not self.lease.renew():
            raise BackendUnavailableError(
                f"the upload's lease expired while it was received (this server was silent for more than "
                f"LANGFLIX_LEASE_TTL, {self.lease.ttl_ms / 1000:g} s); send the job again"
            )

    def handover(self) -> None:
        """The queue has the job: keep the bytes for its worker (the lease outlives this server)."""
        self.handed_over = True
        self.area.handover()


def job_payload(job: QueuedJob, staging: Path) -> dict[str, Any]:
    """What a work horse needs of a submission: plain values (RQ stores them), no object of this process."""
    return {
        "job_id": job.job_id,
        "staging": str(staging),
        "video": job.video.relative_to(staging).as_posix(),
        "subtitles": job.subtitles.relative_to(staging).as_posix(),
        "translation": None if job.translation is None else job.translation.relative_to(staging).as_posix(),
        "options": job.options.model_dump(mode="json"),
        "source_names": list(job.source_names) if job.source_names else None,
        "redact": job.redact.replacements(),
    }


class RQJobRunner:
    """Jobs on the RQ queue ``LANGFLIX_REDIS_QUEUE``, run by ``langflix worker`` on any host."""

    def __init__(self, store: RedisJobStore, client: redis.Redis, settings: Settings) -> None:
        if settings.redis_url is None:
            raise ValueError("RQJobRunner needs LANGFLIX_REDIS_URL")
        self.store, self._client, self._settings = store, client, settings
        self._url = settings.redis_url
        self.max_queue = settings.max_queue
        self.queue = Queue(settings.redis_queue, connection=client)
        self._staging = settings.staging_dir()
        self._lock = threading.Lock()
        self._reserved = 0
        self._accepting = False
        self._staged: dict[str, StagedUpload] = {}

    # -- life cycle -----------------------------------------------------------

    def start(self) -> None:
        self._accepting = True

    def shutdown(self, timeout: float = 30.0) -> None:
        """Take no new job. Queued and running jobs are the workers' and go on without this server."""
        self._accepting = False

    # -- submissions ----------------------------------------------------------

    def staging(self, job_id: str) -> StagedUpload:
        """A leased area in the shared dir for ``job_id``'s upload, its lease taken first and kept renewed."""
        lease = Lease(self._client, self._url, job_id, self._settings.lease_ttl, holder_name("api"))
        if not lease.take_new():
            raise QueueFullError(f"job id {job_id} is already staged; send the job again")
        try:
            area = LeasedArea(
                self._staging, job_id, max_bytes=self._settings.temp_max_bytes,
                min_free_bytes=self._settings.min_free_bytes,
            )  # fmt: skip
        except BaseException:
            lease.release()
            raise
        staged = StagedUpload(area, lease, LeaseKeeper(lease, take=False).start())
        with self._lock:
            self._staged[job_id] = staged
        return staged

    def _queued_count(self) -> int:
        with unavailable(self._url):
            return int(self.queue.count)

    def has_room(self) -> bool:
        with self._lock:
            reserved = self._reserved
        return self._accepting and self._queued_count() + reserved < self.max_queue

    def reserve(self) -> QueueSlot:
        """Hold a place for a submission about to upload; 503 when the queue is full or Redis unreachable."""
        queued = self._queued_count()  # outside the lock: a network round trip
        with self._lock:
            self._check_room(queued)
            self._reserved += 1
            return QueueSlot(self)

    def _check_room(self, queued: int) -> None:
        if not self._accepting:
            raise QueueFullError("the server is shutting down and takes no new job; try again later")
        if queued + self._reserved >= self.max_queue:
            raise QueueFullError(
                f"the job queue is full ({self.max_queue} jobs waiting or uploading); try again later "
                "or raise LANGFLIX_MAX_QUEUE"
            )

    def _give_back(self, slot: QueueSlot) -> None:
        with self._lock:
            if slot.held:
                slot.held = False
                self._reserved -= 1

    def submit(self, job: QueuedJob, slot: QueueSlot | None = None) -> None:
        """Enqueue ``job`` and hand its staged upload over to it; on error the caller still owns both."""
        with self._lock:
            staged = self._staged.get(job.job_id)
            if slot is None or not slot.held:
                self._check_room(0)
        if staged is None:
            raise ValueError(f"job {job.job_id} was not staged by this runner; stage it with staging() first")
        staged.confirm()
        retries = self._settings.job_retries
        with unavailable(self._url):
            self.queue.enqueue_call(
                func=HORSE_FUNCTION,
                args=(job_payload(job, staged.area.path),),
                job_id=job.job_id,
                timeout=-1,  # the pipeline's tools have their own timeouts
                result_ttl=RESULT_TTL,
                failure_ttl=RESULT_TTL,
                retry=Retry(max=retries) if retries else None,
            )
        staged.handover()
        with self._lock:
            self._staged.pop(job.job_id, None)
        if slot is not None:
            slot.release()
        job.resources.close()  # the keeper stops; the area is the lease's now

    def _dequeue(self, job_id: str) -> None:  # a queued job that must never run
        with contextlib.suppress(NoSuchJobError, redis.RedisError):
            Job.fetch(job_id, connection=self._client).cancel()

    # -- cancelling -----------------------------------------------------------

    def cancel(self, job_id: str, reason: str = CANCEL_REASON) -> CancelOutcome:
        """Cancel a queued job at once (its staged upload goes), or tell the worker running it to stop."""
        outcome = self.store.request_cancel(job_id, reason)
        if outcome == "dequeued":
            self._dequeue(job_id)
            self._remove_staging(job_id)
        elif outcome == "cancelling":
            try:
                with unavailable(self._url):
                    send_stop_job_command(self._client, job_id)
            except (InvalidJobOperation, NoSuchJobError):
                # Between two attempts, or not yet picked up: the horse reads the
                # request at its next progress report and stops there.
                logger.info("job %s: no worker is executing it right now; it stops at its next step", job_id)
        return outcome

    def _remove_staging(self, job_id: str) -> None:
        for path in self._staging.glob(f"*lease-{job_id}-*"):
            with contextlib.suppress(Exception):
                LeasedArea.adopt(path).close()

    def stats(self) -> RunnerStats:
        with unavailable(self._url):
            workers = Worker.count(connection=self._client, queue=self.queue)
            running = self.queue.started_job_registry.count
            queued = self.queue.count
        with self._lock:
            reserved = self._reserved
        return RunnerStats(
            workers=workers, max_queue=self.max_queue, queued=queued, running=running,
            accepting=self._accepting, reserved=reserved,
        )  # fmt: skip
