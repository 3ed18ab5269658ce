"""``langflix worker``: an RQ worker that keeps LangFlix's ownership promises on every host.

RQ forks a work horse per job, stops a running one on request, and finds the
jobs of workers that stopped answering; this subclass ties each of those to
the job store and the temp contract:

- at start it reclaims this host's dead temp sessions and the shared dir's
  abandoned staging areas (:func:`~langflix.temp.sweep_leased`);
- its timing follows ``LANGFLIX_LEASE_TTL``: a job whose worker vanished is
  found within about a TTL (RQ's own heartbeat would wait a minute more);
- after a work horse dies (killed, or stopped on request) it reclaims the
  horse's scratch at once, and records the outcome RQ chose: cancelled,
  queued again for another attempt, or failed with "worker lost";
- a horse dies with its worker (``PR_SET_PDEATHSIG``), so a job is never run
  twice at once by a retry and an orphaned horse;
- a Redis restart is waited out, not a reason to quit.
"""

from __future__ import annotations

import ctypes
import logging
import math
import os
import signal
from collections.abc import Sequence
from types import TracebackType
from typing import Any, Final

import redis
from rq import Queue, Worker
from rq.exceptions import AbandonedJobError
from rq.job import Job

from langflix.api.runner import CANCEL_REASON
from langflix.api.scale.connection import connect, reachable
from langflix.api.scale.leases import RedisLeaseChecker
from langflix.api.scale.store import RedisJobStore
from langflix.config import Settings
from langflix.temp import (
    LeasedArea,
    LeaseSweepReport,
    SweepReport,
    get_temp_manager,
    install_signal_handlers,
    sweep_leased,
    sweep_orphans,
    uninstall_signal_handlers,
)

__all__ = ["LOST_RETRYING", "LOST_STOPPED_ANSWERING", "LangFlixWorker", "run_worker", "sweep_at_start"]

logger = logging.getLogger(__name__)

LOST_RETRYING: Final[str] = "the worker running it was lost; running it again"
LOST_STOPPED_ANSWERING: Final[str] = (
    "worker lost: the worker running it stopped answering (killed, or its host went down) and no retry is left; "
    "send the job again"
)
_PR_SET_PDEATHSIG: Final[int] = 1


def _die_with_parent(parent: int) -> None:
    """Ask the kernel to SIGKILL this process when its parent dies (Linux); then check it has not already."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: the lease expiry still finds the job
        return
    if os.getppid() != parent:  # the worker died between fork and prctl
        os._exit(1)


class LangFlixWorker(Worker):
    """An RQ worker for LangFlix jobs (see the module's docstring)."""

    def __init__(self, queues: Sequence[Queue], *, settings: Settings, connection: redis.Redis) -> None:
        assert settings.redis_url is not None
        ttl = settings.lease_ttl
        super().__init__(
            list(queues),
            connection=connection,
            job_monitoring_interval=max(1, int(ttl / 3)),
            maintenance_interval=max(1, math.ceil(ttl)),
            # RQ blocks for worker_ttl - 15 s waiting for a job; finding lost jobs needs it awake every TTL.
            worker_ttl=15 + max(1, math.ceil(ttl)),
            exception_handlers=[self._on_abandoned],
        )
        self.settings = settings
        self.lease_ttl = ttl
        self.job_store = RedisJobStore(connection, settings.redis_url)
        self._parent_pid = os.getpid()

    def get_heartbeat_ttl(self, job: Job) -> int:
        """How long a running job stays claimed without a heartbeat: a monitoring interval plus a lease TTL."""
        return int(self.job_monitoring_interval + max(1, math.ceil(self.lease_ttl)))

    def maintain_heartbeats(self, job: Job) -> None:
        # A Redis restart mid-job must not end the worker (RQ would quit on the
        # error, orphaning the horse): the next heartbeat tries again.
        try:
            super().maintain_heartbeats(job)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            self.log.warning("job %s: heartbeat not sent (%s); trying again", job.id, exc)

    def setup_work_horse_signals(self) -> None:
        super().setup_work_horse_signals()  # type: ignore[no-untyped-call]
        _die_with_parent(self._parent_pid)
        # SIGTERM in a horse cleans up its temp files first (RQ resets it to the default).
        uninstall_signal_handlers()
        install_signal_handlers((signal.SIGTERM,))

    # -- what RQ decided, told to the job store --------------------------------

    def handle_job_failure(
        self, job: Job, queue: Queue, started_job_registry: Any = None, exc_string: str = ""
    ) -> None:
        stopped = self._stopped_job_id == job.id
        retry = job.should_retry and not stopped
        if retry:
            # Before RQ puts it back: a worker that takes it at once must find it queued.
            self._record(lambda: self.job_store.requeue(job.id, LOST_RETRYING))
        super().handle_job_failure(job, queue, started_job_registry=started_job_registry, exc_string=exc_string)
        if not retry:
            # Before the final state is written: whoever sees the job cancelled or
            # failed must find its staged inputs already reclaimed.
            self._remove_staging(job)
        if stopped:
            self._record(lambda: self.job_store.finish(job.id, "cancelled", error=CANCEL_REASON))
        elif not retry:
            self._record(lambda: self.job_store.finish(job.id, "failed", error=_failure_reason(exc_string)))
        if not self.is_horse:
            # A dead horse's session: unlocked now, so this reclaims it at once.
            self.sweep_local("after a work horse ended")

    def _on_abandoned(
        self, job: Job, exc_type: type[BaseException], exc_value: BaseException, tb: TracebackType | Any
    ) -> bool:
        """RQ found ``job`` claimed by a worker that stopped answering (called before it retries or fails it)."""
        if not (isinstance(exc_type, type) and issubclass(exc_type, AbandonedJobError)):
            return True  # any other error: RQ's default handling
        if job.retries_left:
            self.log.warning("job %s: its worker was lost; running it again", job.id)
            self._record(lambda: self.job_store.requeue(job.id, LOST_RETRYING))
        else:
            self.log.warning("job %s: its worker was lost and no retry is left", job.id)
            self._remove_staging(job)
            self._record(lambda: self.job_store.finish(job.id, "failed", error=LOST_STOPPED_ANSWERING))
        return True

    def _record(self, write: Any) -> None:
        try:
            write()
        except Exception:  # the job's RQ state is still right; ours is logged for the operator
            self.log.exception("could not record a job's outcome in the job store")

    def _remove_staging(self, job: Job) -> None:
        """The job is finished: its staged inputs go now (a sweep would, once the lease expires)."""
        try:
            payload = job.args[0] if job.args else None
            if isinstance(payload, dict) and payload.get("staging"):
                LeasedArea.adopt(payload["staging"]).close()
        except Exception as exc:
            self.log.info("job %s: staged inputs not removed now (%s); the shared sweep will", job.id, exc)

    def sweep_local(self, when: str) -> SweepReport:
        """Reclaim this host's dead temp sessions (a work horse's among them)."""
        report = sweep_orphans(self.settings.temp_base_dir())
        if report.removed or report.garbage_finished:
            self.log.info("temp sweep %s: %s", when, report.summary())
        return report


def _failure_reason(exc_string: str) -> str:
    if "terminated unexpectedly" in exc_string:
        return f"worker lost: its work horse died ({exc_string.strip().rstrip(';')})"
    last = exc_string.strip().splitlines()[-1] if exc_string.strip() else "unknown error"
    return f"internal error in the worker: {last}"


def sweep_at_start(settings: Settings, client: redis.Redis) -> tuple[SweepReport, LeaseSweepReport]:
    """What a worker reclaims before its first job: this host's dead sessions, the shared dir's abandoned staging."""
    assert settings.redis_url is not None
    local = sweep_orphans(settings.temp_base_dir())
    shared = sweep_leased(settings.staging_dir(), RedisLeaseChecker(client, settings.redis_url))
    return local, shared


def run_worker(settings: Settings, queues: Sequence[str], *, burst: bool = False) -> bool:
    """``langflix worker``: sweep, then take jobs from ``queues`` until stopped (or, with ``burst``, none is left).

    Returns whether any job was run. Raises BackendUnavailableError when Redis cannot be reached at start.
    """
    assert settings.redis_url is not None, "langflix worker needs LANGFLIX_REDIS_URL"
    probe = connect(settings.redis_url, patient=False)  # a Redis that is not there at start: say so at once
    try:
        reachable(probe, settings.redis_url)
    finally:
        probe.close()
    client = connect(settings.redis_url, patient=True)
    local, shared = sweep_at_start(settings, client)  # before this process has a session of its own
    logger.info("worker start: %s", local.summary())
    logger.info("worker start: %s", shared.summary())
    manager = get_temp_manager()
    worker = LangFlixWorker([Queue(name, connection=client) for name in queues], settings=settings, connection=client)
    try:
        level = logging.getLevelName(logging.getLogger().getEffectiveLevel())
        return bool(worker.work(burst=burst, logging_level=level))
    finally:
        manager.close()
