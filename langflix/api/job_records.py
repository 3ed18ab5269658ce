"""What both job stores share: the record, its statuses, the rules of its transitions and of listings.

The SQLite store (embedded) and the Redis store (scaled out) keep the same
records and must refuse the same requests with the same words, and page the
same way: the rules live here once, and each store only says how it reads and
writes.
"""

from __future__ import annotations

import base64
import binascii
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, get_args

from langflix.errors import JobError

__all__ = [
    "ACTIVE_STATUSES",
    "FINISHED_STATUSES",
    "InvalidCursorError",
    "JobNotFoundError",
    "JobRecord",
    "JobStateError",
    "JobStatus",
    "JobStoreBase",
    "MAX_OFFSET",
    "OutputFile",
    "already_exists",
    "check_deletable",
    "check_final",
    "check_listing",
    "clamp_progress",
    "decode_cursor",
    "encode_cursor",
    "next_cursor",
    "outputs_from_json",
    "outputs_json",
]

JobStatus = Literal["queued", "running", "completed", "failed", "cancelled"]
ACTIVE_STATUSES: Final[frozenset[str]] = frozenset({"queued", "running"})
FINISHED_STATUSES: Final[frozenset[str]] = frozenset({"completed", "failed", "cancelled"})
MAX_OFFSET: Final[int] = 1_000_000
"""The deepest ``offset`` a listing takes (SQLite's integers end at 2**63; the cursor has no limit)."""

class JobNotFoundError(JobError):
    """No job has this id (never created, or deleted)."""


class JobStateError(JobError):
    """The job exists but is not in a state that allows the change."""


class InvalidCursorError(JobError):
    """A listing cursor that this store did not give out."""


def encode_cursor(created_at: float, job_id: str) -> str:
    """An opaque token for "after this job" in the listing's order (newest first, then by id)."""
    raw = json.dumps([created_at, job_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[float, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created_at, job_id = json.loads(raw)
        if isinstance(created_at, bool) or not isinstance(created_at, (int, float)) or not isinstance(job_id, str):
            raise ValueError("not a (time, id) pair")
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError) as exc:
        raise InvalidCursorError(
            f"cursor {cursor[:40]!r} is not one this server gave out; use the next_cursor of a listing, "
            "or leave it out to start from the newest job"
        ) from exc
    return float(created_at), job_id


@dataclass(frozen=True, slots=True)
class OutputFile:
    """One published output of a job: its name in the job's output dir and its size."""

    name: str
    size: int


@dataclass(frozen=True, slots=True)
class JobRecord:
    """A job as stored; plain data, safe to hand to any layer."""

    id: str
    status: JobStatus
    progress: float
    step: str | None
    message: str | None
    error: str | None
    options: Mapping[str, Any]
    outputs: tuple[OutputFile, ...]
    output_dir: str | None
    created_at: float
    updated_at: float
    started_at: float | None = None
    finished_at: float | None = None

    @property
    def finished(self) -> bool:
        return self.status in FINISHED_STATUSES


def check_listing(status: str | None, limit: int, offset: int) -> None:
    """Refuse a listing no store can answer: an unknown status, a limit below 1, an offset past :data:`MAX_OFFSET`."""
    if status is not None and status not in get_args(JobStatus):
        raise JobStateError(f"unknown status {status!r}; use one of {', '.join(get_args(JobStatus))}")
    if not (1 <= limit and 0 <= offset <= MAX_OFFSET):
        raise JobStateError(f"limit must be at least 1 and offset between 0 and {MAX_OFFSET}")


def next_cursor(page: Sequence[JobRecord], more: bool) -> str | None:
    """The cursor of the page after ``page`` (named by its last job), or None when ``page`` is the last."""
    return encode_cursor(page[-1].created_at, page[-1].id) if more and page else None


def clamp_progress(percent: float) -> float:
    """Progress as stored: a percentage between 0 and 100, whatever a step reported."""
    return max(0.0, min(100.0, float(percent)))


def check_final(status: str) -> None:
    """Refuse to finish a job in a status that is not final (``finish`` moves a job to its end only)."""
    if status not in FINISHED_STATUSES:
        raise JobStateError(f"{status!r} is not a final status")


def outputs_json(outputs: Iterable[OutputFile]) -> str:
    """A job's outputs as both stores keep them: a JSON list of ``{"name", "size"}``."""
    return json.dumps([{"name": o.name, "size": o.size} for o in outputs])


def outputs_from_json(text: str | bytes) -> tuple[OutputFile, ...]:
    """The outputs :func:`outputs_json` wrote."""
    return tuple(OutputFile(**o) for o in json.loads(text))


def already_exists(job_id: str) -> JobStateError:
    """What creating a job under a taken id raises, in either store."""
    return JobStateError(f"a job with id {job_id!r} already exists")


def check_deletable(record: JobRecord) -> None:
    """Only a finished job is forgotten: an active one is cancelled first."""
    if not record.finished:
        raise JobStateError(f"job {record.id} is {record.status}; cancel it before deleting it")


class JobStoreBase(ABC):
    """What the routes, the runners and a work horse use of a job store; each request checked here, once.

    :class:`~langflix.api.store.JobStore` (SQLite, embedded) and the Redis store
    of ``langflix.api.scale`` implement it alike, with the same guarded
    transitions: each names the states it may leave, so of a DELETE and a
    worker finishing the same job exactly one wins. What a caller may ask, the
    error it gets otherwise, how progress is bounded, how outputs are written
    and how a listing pages are decided here; a store implements the abstract
    methods and the underscored steps (how it reads and writes).
    """

    @abstractmethod
    def add_listener(self, listener: Callable[[str], None]) -> None:
        """Call ``listener(job_id)`` after every change to a job."""

    @abstractmethod
    def now(self) -> float:
        """The store's clock: what ``updated_at`` is written in (what :meth:`changed_since` compares)."""

    @abstractmethod
    def close(self) -> None:
        """Release the store; safe to call twice."""

    @abstractmethod
    def create(self, job_id: str, options: Mapping[str, Any]) -> JobRecord:
        """Record a new ``queued`` job (:func:`already_exists` when the id is taken)."""

    @abstractmethod
    def get(self, job_id: str) -> JobRecord:
        """The job, or :class:`JobNotFoundError`."""

    @abstractmethod
    def changed_since(self, since: float, *, limit: int = 1000) -> list[JobRecord]:
        """Jobs written at or after ``since`` (the store's clock), oldest first: what a reconnecting stream missed."""

    @abstractmethod
    def counts(self) -> dict[str, int]:
        """Number of jobs per status (every status present, 0 when none)."""

    @abstractmethod
    def mark_running(self, job_id: str) -> bool:
        """queued -> running; False when the job is no longer queued (e.g. cancelled)."""

    @abstractmethod
    def discard(self, job_id: str) -> None:
        """Remove a job whatever its state (a submission that never reached the queue)."""

    @abstractmethod
    def _page(
        self, status: str | None, limit: int, after: tuple[float, str] | None, offset: int
    ) -> tuple[list[JobRecord], bool]:
        """Up to ``limit`` jobs (of ``status``) newest first, then by id, after the job ``after`` names and
        ``offset`` more; and whether any job follows them."""

    @abstractmethod
    def _set_progress(self, job_id: str, percent: float, step: str | None, message: str | None) -> bool:
        """Write a running job's progress (``percent`` already bounded); False when it is not running."""

    @abstractmethod
    def _finish(self, job_id: str, status: JobStatus, error: str | None, outputs: str, output_dir: str | None) -> bool:
        """Move a queued or running job to the final ``status`` (``outputs`` as JSON); False when already final."""

    @abstractmethod
    def _remove_finished(self, job_id: str) -> None:
        """Forget the job if it is still finished (a concurrent change is the store's to detect)."""

    def list_jobs(self, *, status: str | None = None, limit: int = 100, offset: int = 0) -> list[JobRecord]:
        """Newest first."""
        return self.list_page(status=status, limit=limit, offset=offset)[0]

    def list_page(
        self, *, status: str | None = None, limit: int = 100, cursor: str | None = None, offset: int = 0
    ) -> tuple[list[JobRecord], str | None]:
        """One page of jobs, newest first, and the cursor of the next page (None after the last).

        The cursor names the last job of the page, so a job created or deleted
        meanwhile never shifts the next page (an offset would skip or repeat one).
        """
        check_listing(status, limit, offset)
        page, more = self._page(status, limit, decode_cursor(cursor) if cursor is not None else None, offset)
        return page, next_cursor(page, more)

    def update_progress(self, job_id: str, percent: float, step: str | None, message: str | None = None) -> bool:
        """Record progress of a running job; False when it is not running any more."""
        return self._set_progress(job_id, clamp_progress(percent), step, message)

    def finish(
        self,
        job_id: str,
        status: JobStatus,
        *,
        error: str | None = None,
        outputs: Iterable[OutputFile] = (),
        output_dir: str | None = None,
    ) -> bool:
        """Move an active job to a final state; False when it was already final."""
        check_final(status)
        return self._finish(job_id, status, error, outputs_json(outputs), output_dir)

    def delete(self, job_id: str) -> None:
        """Forget a finished job (its outputs are the caller's business)."""
        check_deletable(self.get(job_id))
        self._remove_finished(job_id)
