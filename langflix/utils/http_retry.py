"""One retry policy for LangFlix's HTTP clients (the TTS providers, the LLM selector).

Written once here:

* which outcomes are transient: HTTP 429 and 5xx, and the exceptions in
  ``retry_on`` (by default only failures to connect, :data:`CONNECT_FAILURES`);
* how long to wait before retry ``n``: ``backoff(n)``, or the server's
  ``Retry-After`` when that is longer, capped so a job fails clearly, not hangs;
* the wait itself, which a :class:`~langflix.core.cancel.CancelToken` ends at
  once, and one warning per retry.

Each client keeps its own error type and wording: :meth:`RetryPolicy.send` hands
back the last response, or lets the last exception through, for it to explain.
"""

from __future__ import annotations

import email.utils
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import httpx

from langflix.core.cancel import CancelToken

__all__ = ["Backoff", "CONNECT_FAILURES", "RetryPolicy", "default_backoff", "retry_after"]

logger = logging.getLogger(__name__)

Backoff = Callable[[int], float]
"""Seconds to wait before retry number ``n`` (1 for the first retry)."""

CONNECT_FAILURES: Final[tuple[type[Exception], ...]] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.RemoteProtocolError,
)
"""The server never got (or dropped) the request, so sending it again costs little.

A read timeout is deliberately absent: the server may still be working, and a
retry would multiply the wait. A client whose request is cheap to repeat passes
``retry_on=(httpx.TransportError,)`` instead."""

_MAX_RETRY_AFTER: Final[float] = 10.0
"""Longest ``Retry-After`` honoured by default: a job should fail clearly, not hang for an hour."""


def default_backoff(attempt: int) -> float:
    """0.5 s, 1 s, 2 s, ... capped at 4 s: long enough for a blip, short for a job."""
    return float(min(0.5 * 2 ** (attempt - 1), 4.0))


def retry_after(response: httpx.Response, cap: float = _MAX_RETRY_AFTER) -> float | None:
    """Seconds from a ``Retry-After`` header (delta or HTTP date), between 0 and ``cap``."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = email.utils.parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError):
            return None
    return min(max(seconds, 0.0), cap)


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """Up to ``retries`` more attempts after the first, on transient outcomes only.

    ``sleep`` replaces the wait (tests pass a recorder); without it the ``cancel``
    token's wait is used, so a cancel ends a backoff at once, else ``time.sleep``.
    """

    label: str
    """Who retries, for the log ("lemonfox", "LLM at <url>"); never a secret."""
    retries: int = 2
    backoff: Backoff = default_backoff
    max_retry_after: float = _MAX_RETRY_AFTER
    retry_on: tuple[type[Exception], ...] = CONNECT_FAILURES
    cancel: CancelToken | None = None
    sleep: Callable[[float], object] | None = None

    def __post_init__(self) -> None:
        if self.retries < 0:
            raise ValueError(f"retries must be >= 0, got {self.retries}")

    def send(self, request: Callable[[], httpx.Response]) -> tuple[httpx.Response, int]:
        """Call ``request`` until its outcome is not transient or the retries are used up.

        Returns the last response (a 2xx, another final status, or a transient
        status after the last retry) and the attempt (from 1) that got it. An
        exception in ``retry_on`` after the last retry, or any other at once,
        propagates unchanged.
        """
        for attempt in range(1, self.retries + 2):
            self._raise_if_cancelled()
            last = attempt > self.retries
            try:
                response = request()
            except self.retry_on as exc:
                if last:
                    raise
                self._wait(attempt, f"{type(exc).__name__}: {exc}", None)
                continue
            status = response.status_code
            # 429 and 5xx are the server's "not now"; any other status is its answer.
            if last or not (status == 429 or status >= 500):
                return response, attempt
            self._wait(attempt, f"HTTP {status}", retry_after(response, self.max_retry_after))
        raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover

    def _wait(self, attempt: int, why: str, hint: float | None) -> None:
        delay = max(self.backoff(attempt), hint or 0.0, 0.0)
        logger.warning(
            "%s: %s; retry %d/%d in %.2f s", self.label, why, attempt, self.retries, delay
        )
        if self.sleep is not None:
            self.sleep(delay)
        elif self.cancel is not None:
            self.cancel.wait(delay)
        else:
            time.sleep(delay)
        self._raise_if_cancelled()

    def _raise_if_cancelled(self) -> None:
        if self.cancel is not None:
            self.cancel.raise_if_cancelled()
