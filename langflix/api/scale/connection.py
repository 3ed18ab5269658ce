"""Reaching Redis, and what an outage looks like to a caller: one error, naming the setting and the fix.

Two kinds of client. The API's is *brief*: a request during an outage must be
answered (503 and Retry-After) in a second or two, not hang. A worker's and a
work horse's is *patient*: a Redis restart mid-job is waited out (reconnecting
with backoff) instead of losing the job.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Final
from urllib.parse import urlsplit

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from langflix.errors import BackendUnavailableError

__all__ = ["BRIEF_RETRIES", "PATIENT_RETRIES", "connect", "describe_url", "reachable", "unavailable"]

BRIEF_RETRIES: Final[int] = 2
PATIENT_RETRIES: Final[int] = 40
"""About 35 s of reconnecting (backoff capped at 1 s): a restart, not a lost server."""
_CONNECT_TIMEOUT: Final[float] = 2.0


def describe_url(url: str) -> str:
    """``url`` without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@")).geturl()


def connect(url: str, *, patient: bool) -> redis.Redis:
    """A client for ``url`` (nothing is sent yet); ``patient`` waits out a restart, brief gives up fast."""
    retries = PATIENT_RETRIES if patient else BRIEF_RETRIES
    return redis.Redis.from_url(
        url,
        retry=Retry(ExponentialBackoff(cap=1.0, base=0.05), retries),
        retry_on_error=[redis.ConnectionError, redis.TimeoutError],
        socket_connect_timeout=_CONNECT_TIMEOUT,
        health_check_interval=10,
    )


def reachable(client: redis.Redis, url: str) -> None:
    """Ping ``client``; :class:`BackendUnavailableError` with the fix when Redis does not answer."""
    with unavailable(url):
        client.ping()


@contextlib.contextmanager
def unavailable(url: str) -> Iterator[None]:
    """Turn a Redis outage inside the block into :class:`BackendUnavailableError` naming ``url``."""
    try:
        yield
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        raise BackendUnavailableError(
            f"cannot reach Redis at {describe_url(url)} (LANGFLIX_REDIS_URL): {str(exc).rstrip('.')}; "
            "start Redis there or fix the setting, then try again"
        ) from exc
