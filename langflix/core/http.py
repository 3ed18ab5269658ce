"""How LangFlix's HTTP clients (the TTS providers, the LLM selector) talk to their services.

Written once here:

* :class:`HttpOptions`, the one options object every client takes: timeout,
  retries, backoff, the ``httpx`` client or transport to use, the cancel token;
* which outcomes are transient: HTTP 429 and 5xx, and the exceptions in
  ``retry_on`` (by default only failures to connect, :data:`CONNECT_FAILURES`);
* how long to wait before retry ``n``: ``backoff(n)``, or the server's
  ``Retry-After`` when that is longer, capped so a job fails clearly, not hangs;
* the wait itself, which a :class:`~langflix.cancel.CancelToken` ends at once,
  and one warning per retry.

Each client keeps its own error type and wording: :meth:`RetryPolicy.send` hands
back the last response, or lets the last exception through, for it to explain.
"""

from __future__ import annotations

import contextlib
import dataclasses
import email.utils
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Final

import httpx

from langflix.cancel import CancelToken

__all__ = [
    "Backoff",
    "CONNECT_FAILURES",
    "DEFAULT_MAX_RETRY_AFTER",
    "HttpOptions",
    "RetryPolicy",
    "default_backoff",
    "exponential_backoff",
    "retry_after",
]

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

DEFAULT_MAX_RETRY_AFTER: Final[float] = 10.0
"""Longest ``Retry-After`` honoured by default: a job should fail clearly, not hang for an hour."""


def exponential_backoff(first: float, cap: float | None = None) -> Backoff:
    """``first``, twice that, four times that, ... (at most ``cap`` seconds when given)."""
    if first < 0:
        raise ValueError(f"a backoff cannot be negative, got {first}")

    def backoff(attempt: int) -> float:
        delay = first * 2 ** (attempt - 1)
        return float(delay if cap is None else min(delay, cap))

    return backoff


def default_backoff(attempt: int) -> float:
    """0.5 s, 1 s, 2 s, ... capped at 4 s: long enough for a blip, short for a job."""
    return float(min(0.5 * 2 ** (attempt - 1), 4.0))


def retry_after(response: httpx.Response, cap: float = DEFAULT_MAX_RETRY_AFTER) -> float | None:
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
    max_retry_after: float = DEFAULT_MAX_RETRY_AFTER
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
        logger.warning("%s: %s; retry %d/%d in %.2f s", self.label, why, attempt, self.retries, delay)
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


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpOptions:
    """How a client reaches its service: one object for every HTTP client of LangFlix.

    ``client`` (an ``httpx.Client`` the caller owns and closes) or ``transport``
    (e.g. ``httpx.MockTransport``) redirect the calls; with neither, a short-lived
    client is opened per call and always closed, so a holder of these options
    keeps no socket between calls and needs no ``close()``. ``cancel`` stops
    further attempts and ends a backoff at once; ``sleep`` replaces the backoff's
    wait (tests record it).
    """

    timeout: float = 30.0
    retries: int = 2
    backoff: Backoff = default_backoff
    client: httpx.Client | None = None
    transport: httpx.BaseTransport | None = None
    cancel: CancelToken | None = None
    sleep: Callable[[float], object] | None = None

    def __post_init__(self) -> None:
        if not self.timeout > 0:
            raise ValueError(f"timeout must be a positive number of seconds, got {self.timeout}")
        if self.retries < 0:
            raise ValueError(f"retries must be >= 0, got {self.retries}")
        if self.client is not None and self.transport is not None:
            raise ValueError("pass either client or transport, not both")

    def replace(self, **changes: Any) -> HttpOptions:
        """A copy with ``changes`` (checked like the original)."""
        return dataclasses.replace(self, **changes)

    @contextlib.contextmanager
    def open(self) -> Iterator[httpx.Client]:
        """The client for one call: the caller's, one on its transport, or a fresh one."""
        if self.client is not None:
            yield self.client
            return
        if self.transport is not None:
            # Closing an httpx.Client also closes its transport; the transport is
            # the caller's, so this wrapper is deliberately left open.
            yield httpx.Client(transport=self.transport, timeout=self.timeout)
            return
        with httpx.Client(timeout=self.timeout) as client:
            yield client

    def policy(
        self,
        label: str,
        *,
        retry_on: tuple[type[Exception], ...] = CONNECT_FAILURES,
        max_retry_after: float = DEFAULT_MAX_RETRY_AFTER,
    ) -> RetryPolicy:
        """The retry policy these options describe, for the calls of ``label``."""
        return RetryPolicy(
            label=label,
            retries=self.retries,
            backoff=self.backoff,
            max_retry_after=max_retry_after,
            retry_on=retry_on,
            cancel=self.cancel,
            sleep=self.sleep,
        )
