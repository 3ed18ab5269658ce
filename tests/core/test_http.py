"""Tests for the shared HTTP options and retry policy against a real server on 127.0.0.1.

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

from langflix.cancel import CancelToken
from langflix.core import http as http_module
from langflix.core.http import HttpOptions, RetryPolicy, default_backoff, exponential_backoff, retry_after
from langflix.errors import CancelledError


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
    assert http_module.__all__ == sorted(http_module.__all__)
    assert all(hasattr(http_module, name) for name in http_module.__all__)


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


def test_exponential_backoff() -> None:
    assert [exponential_backoff(0.01)(n) for n in range(1, 4)] == [0.01, 0.02, 0.04]
    assert [exponential_backoff(1.0, cap=3.0)(n) for n in range(1, 4)] == [1.0, 2.0, 3.0]
    with pytest.raises(ValueError, match="negative"):
        exponential_backoff(-1.0)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [(None, None), ("2", 2.0), ("0.5", 0.5), ("-3", 0.0), ("3600", 10.0), ("soon", None)],
)
def test_retry_after_is_parsed_and_capped(header: str | None, seconds: float | None) -> None:
    headers = {} if header is None else {"Retry-After": header}
    assert retry_after(httpx.Response(429, headers=headers)) == seconds


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
    with caplog.at_level(logging.WARNING, logger="langflix.core.http"):
        _send(_policy(waits), server.url)
    (record,) = caplog.records
    assert record.getMessage() == "svc: HTTP 503; retry 1/2 in 0.01 s"


def test_negative_retries_are_refused() -> None:
    with pytest.raises(ValueError, match="retries"):
        RetryPolicy(label="svc", retries=-1)


# -- HttpOptions: the one options object of every HTTP client ---------------------------


@pytest.mark.parametrize(
    ("options", "needle"),
    [({"timeout": 0}, "timeout"), ({"timeout": -1.0}, "timeout"), ({"retries": -1}, "retries")],
)
def test_options_refuse_values_that_cannot_work(options: dict[str, float], needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        HttpOptions(**options)  # type: ignore[arg-type]


def test_options_take_a_client_or_a_transport_not_both() -> None:
    with httpx.Client() as client, pytest.raises(ValueError, match="either client or transport"):
        HttpOptions(client=client, transport=httpx.MockTransport(lambda request: httpx.Response(200)))


def test_options_policy_carries_retries_backoff_cancel_and_sleep(server: FakeServer, waits: list[float]) -> None:
    token = CancelToken()
    options = HttpOptions(retries=1, backoff=lambda n: 0.25, cancel=token, sleep=waits.append)
    policy = options.policy("svc", retry_on=(httpx.TransportError,), max_retry_after=1.0)
    assert (policy.retries, policy.cancel, policy.retry_on, policy.max_retry_after) == (
        1, token, (httpx.TransportError,), 1.0,
    )  # fmt: skip
    server.add(503).add(200, b"ok")
    with options.open() as client:
        response, attempt = policy.send(lambda: client.post(server.url + "/x"))
    assert (response.content, attempt, waits) == (b"ok", 2, [0.25])


def test_open_uses_the_callers_client_and_leaves_it_open(server: FakeServer) -> None:
    server.add(200, b"mine")
    with httpx.Client(timeout=5.0) as client:
        with HttpOptions(client=client).open() as used:
            assert used is client
            assert used.post(server.url + "/x").content == b"mine"
        assert not client.is_closed


def test_open_on_a_transport_goes_through_it() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, content=b"mocked")

    with HttpOptions(transport=httpx.MockTransport(handler)).open() as client:
        assert client.get("https://example.invalid/y").content == b"mocked"
    assert seen == ["https://example.invalid/y"]


def test_open_without_either_makes_a_short_lived_client(server: FakeServer) -> None:
    server.add(200, b"fresh")
    with HttpOptions(timeout=3.0).open() as client:
        assert client.timeout.read == 3.0
        assert client.post(server.url + "/x").content == b"fresh"
    assert client.is_closed


def test_replace_checks_the_copy() -> None:
    options = HttpOptions(timeout=5.0)
    assert options.replace(retries=0) == HttpOptions(timeout=5.0, retries=0)
    with pytest.raises(ValueError, match="timeout"):
        options.replace(timeout=0)
