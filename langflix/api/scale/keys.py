"""The names of what LangFlix keeps in Redis, in one place (RQ's own keys are RQ's)."""

from __future__ import annotations

from typing import Final

__all__ = [
    "CHANGES_CHANNEL",
    "CREATED_INDEX",
    "UPDATED_INDEX",
    "job_key",
    "lease_key",
    "rq_job_key",
    "status_index",
]

_ROOT: Final[str] = "langflix:"
CREATED_INDEX: Final[str] = f"{_ROOT}jobs:created"
"""Every job id, scored by its creation time (the listing's order)."""
UPDATED_INDEX: Final[str] = f"{_ROOT}jobs:updated"
"""Every job id, scored by its last change (what a reconnecting event stream missed)."""
CHANGES_CHANNEL: Final[str] = f"{_ROOT}job-changes"
"""Pub/sub: the id of each job as it changes, for every API server's event streams."""


def job_key(job_id: str) -> str:
    """The hash of one job's record."""
    return f"{_ROOT}job:{job_id}"


def status_index(status: str) -> str:
    """The ids of the jobs in ``status``, scored by creation time."""
    return f"{_ROOT}jobs:status:{status}"


def lease_key(job_id: str) -> str:
    """The lease of a job's staged inputs: present while someone holds the job."""
    return f"{_ROOT}lease:{job_id}"


def rq_job_key(job_id: str) -> str:
    """RQ's hash of the job (RQ 2.x's name for it), read by the lease check."""
    return f"rq:job:{job_id}"
