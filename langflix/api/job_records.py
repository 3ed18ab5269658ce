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
from collections.abc import Iterable, Mapping, Sequence
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
