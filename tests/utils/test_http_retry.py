"""Tests for the shared HTTP retry policy against a real server on 127.0.0.1.

The server is ``support.fake_http.FakeServer``: it plays a script of replies and
records every request, so each retry is counted as it went over the wire. Waits
are recorded by an injected ``sleep`` except where a real ``CancelToken`` wait is
the point of the test.
"""

from __future__ import annotations

import email.utils
import logging
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from support.fake_http import FakeServer

from langflix.core.cancel import CancelToken
from langflix.errors import CancelledError
from langflix.utils import http_retry
from langflix.utils.http_retry import RetryPolicy, default_backoff, retry_after


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with FakeServer(name="fake-retry") as fake:
        yield fake


@pytest.fixture
def waits() -> list[float]:
    return []


def _policy(waits: list[float], **options: object) -> RetryPolicy:
    settings: dict[str, object] = {"label": "svc", "backoff": lambda n: n / 100, "sleep": waits.append}
    return RetryPolicy(**(settings | options))  # type: ignore[arg-type]


def _send(policy: RetryPolicy, url: str, timeout: float = 5.0) -> tuple[httpx.Response, int]:
    with httpx.Client(timeout=timeout) as client:
        return policy.send(lambda: client.post(url + "/x", json={"q": 1}))


def _free_port() -> int:
    with socket.socket() as probe:  # a port that was just free: nobody listens there
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_exports_are_sorted_and_real() -> None:
    assert http_retry.__all__ == sorted(http_retry.__all__)
    assert all(hasattr(http_retry, name) for name in http_retry.__all__)


@pytest.mark.parametrize("status", [429, 500, 503])
def test_transient_status_is_retried_with_backoff(
    server: FakeServer, waits: list[float], status: int
) -> None:
    server.add(status, b"busy").add(200, b"ok")
    response, attempt = _send(_policy(waits), server.url)
    assert (response.status_code, response.content, attempt) == (200, b"ok", 2)
    assert len(server.requests) == 2 and server.requests[1].json() == {"q": 1}
    assert waits == [0.01]


@pytest.mark.parametrize("status", [400, 401, 404, 422])
def test_final_status_is_returned_at_once(server: FakeServer, waits: list[float], status: int) -> None:
    server.add(status, b"no")
    response, attempt = _send(_policy(waits), server.url)
    assert (response.status_code, attempt) == (status, 1)
    assert len(server.requests) == 1 and waits == []


def test_retries_run_out_and_the_last_response_is_returned(server: FakeServer, waits: list[float]) -> None:
    server.add(500).add(502).add(503).add(200, b"never reached")
    response, attempt = _send(_policy(waits, retries=2), server.url)
    assert (response.status_code, attempt) == (503, 3)
    assert len(server.requests) == 3
    assert waits == [0.01, 0.02]


def test_zero_retries_means_one_attempt(server: FakeServer, waits: list[float]) -> None:
    server.add(503).add(200)
    assert _send(_policy(waits, retries=0), server.url)[0].status_code == 503
    assert len(server.requests) == 1 and waits == []


@pytest.mark.parametrize(
    ("header", "cap", "expected"),
    [("3", 30.0, 3.0), ("3600", 2.0, 2.0), ("0", 30.0, 0.01), ("-5", 30.0, 0.01), ("soon", 30.0, 0.01)],
    ids=["honoured", "capped", "backoff-is-longer", "negative", "garbage"],
)
def test_retry_after_sets_the_wait(
    server: FakeServer, waits: list[float], header: str, cap: float, expected: float
) -> None:
    server.add(429, headers={"Retry-After": header}).add(200)
    _send(_policy(waits, max_retry_after=cap), server.url)
    assert waits == [expected]


def test_retry_after_as_an_http_date() -> None:
    when = email.utils.formatdate(time.time() + 5, usegmt=True)
    seconds = retry_after(httpx.Response(503, headers={"Retry-After": when}), cap=30.0)
    assert seconds is not None and 3.0 <= seconds <= 5.0
    assert retry_after(httpx.Response(503, headers={"Retry-After": "60"})) == 10.0  # default cap
    assert retry_after(httpx.Response(503)) is None


def test_default_backoff_grows_and_is_capped() -> None:
    assert [default_backoff(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 4.0, 4.0]


def test_connect_error_is_retried_then_raised(waits: list[float]) -> None:
    with pytest.raises(httpx.ConnectError):
        _send(_policy(waits, retries=2), f"http://127.0.0.1:{_free_port()}")
    assert waits == [0.01, 0.02]


def test_read_timeout_is_not_retried_by_default(server: FakeServer, waits: list[float]) -> None:
    server.add(200, delay=5.0).add(200)
    started = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        _send(_policy(waits), server.url, timeout=0.2)
    assert time.monotonic() - started < 3.0
    assert len(server.requests) == 1 and waits == []


def test_read_timeout_is_retried_when_asked(server: FakeServer, waits: list[float]) -> None:
    server.add(200, delay=5.0).add(200, b"second")
    policy = _policy(waits, retry_on=(httpx.TransportError,))
    response, attempt = _send(policy, server.url, timeout=0.2)
    assert (response.content, attempt) == (b"second", 2)
    assert len(server.requests) == 2 and waits == [0.01]


def test_other_exceptions_are_not_retried(waits: list[float]) -> None:
    calls: list[int] = []

    def broken() -> httpx.Response:
        calls.append(1)
        raise httpx.UnsupportedProtocol("ftp is not http")

    with pytest.raises(httpx.UnsupportedProtocol):
        _policy(waits).send(broken)
    assert calls == [1] and waits == []


def test_cancel_ends_the_backoff_at_once(server: FakeServer) -> None:
    server.add(503).add(200)
    token = CancelToken()
    timer = threading.Timer(0.2, token.cancel, kwargs={"reason": "job cancelled"})
    timer.start()
    started = time.monotonic()
    try:
        with pytest.raises(CancelledError, match="job cancelled"):
            _send(RetryPolicy(label="svc", backoff=lambda n: 30.0, cancel=token), server.url)
    finally:
        timer.cancel()
    assert time.monotonic() - started < 5.0
    assert len(server.requests) == 1


def test_cancelled_before_start_sends_nothing(server: FakeServer, waits: list[float]) -> None:
    token = CancelToken()
    token.cancel("stop")
    with pytest.raises(CancelledError, match="stop"):
        _send(_policy(waits, cancel=token), server.url)
    assert server.requests == [] and waits == []


def test_each_retry_is_logged(
    server: FakeServer, waits: list[float], caplog: pytest.LogCaptureFixture
) -> None:
    server.add(503).add(200)
    with caplog.at_level(logging.WARNING, logger="langflix.utils.http_retry"):
        _send(_policy(waits), server.url)
    (record,) = caplog.records
    assert record.getMessage() == "svc: HTTP 503; retry 1/2 in 0.01 s"


def test_negative_retries_are_refused() -> None:
    with pytest.raises(ValueError, match="retries"):
        RetryPolicy(label="svc", retries=-1)
