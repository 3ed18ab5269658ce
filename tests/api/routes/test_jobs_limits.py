"""``POST /jobs`` against clients that hold what they claim: silent sockets, trickles, bursts.

Real sockets to a real server: each client sends its headers and then only as
much body as the case needs, and every wait for an answer is bounded, so a
guard that is missing fails the test instead of hanging it.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from ..helpers import Episode, LiveServer, RawAnswer, RawUpload, TempPeak, multipart_body, multipart_head

pytestmark = pytest.mark.slow

BIG = 20_900_000
"""The size of the uploads of the burst (as in the report: 20.9 MB each)."""


def first_answers(clients: list[RawUpload], count: int, timeout: float = 15.0) -> dict[int, RawAnswer]:
    """The answers (by client index) that arrive before any body is sent: at least ``count``, then no more.

    Bounded: waits up to ``timeout`` for ``count`` answers, then a short while to
    show the others are really waiting for their bodies.
    """
    answers: dict[int, RawAnswer] = {}
    deadline = time.monotonic() + timeout
    while len(answers) < count and time.monotonic() < deadline:
        for n, client in enumerate(clients):
            if n not in answers and (answer := client.answer(timeout=0.02)) is not None:
                answers[n] = answer
    for n, client in enumerate(clients):
        if n not in answers and (answer := client.answer(timeout=0.3)) is not None:
            answers[n] = answer
    return answers


def wait_until_released(server: LiveServer, timeout: float = 10.0) -> None:
    """Until the server holds no upload: no claim, no place in the queue, no file."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stats = server.services.manager.stats()
        queue = server.services.runner.stats()
        if (stats.reserved_bytes, stats.live_files, queue.reserved) == (0, 0, 0) and not server.temp_entries():
            return
        time.sleep(0.02)
    raise AssertionError(
        f"still held after {timeout} s: {server.services.manager.stats()}, {server.services.runner.stats()}, "
        f"{server.temp_entries()}"
    )


def test_a_silent_body_is_dropped_with_its_claim_and_partial_file(
    live_server: Callable[..., LiveServer], episode: Episode
) -> None:
    server = live_server(upload_idle_timeout=0.5)
    client = RawUpload(server, 10_000_000)
    try:
        # Part of the video, then silence: the claim (10 MB) and a partial file are held.
        client.send(multipart_head(episode.subtitles.read_bytes()) + b"\x00" * 200_000)
        answer = client.answer(timeout=15)
        assert answer is not None, "a stalled upload was never timed out"
        assert answer.status == 408 and b"LANGFLIX_UPLOAD_IDLE_TIMEOUT" in answer.body
        assert answer.headers["connection"] == "close"
    finally:
        client.close()
    wait_until_released(server)
    assert server.client.get(f"{server.api}/jobs").json()["jobs"] == []


def test_a_trickle_under_the_minimum_rate_is_dropped(live_server: Callable[..., LiveServer], episode: Episode) -> None:
    # Never idle long enough to trip the idle timeout, but 64 bytes a tenth of a
    # second is far under 10 KB/s: the body's allowance (2 s + bytes / rate) runs out.
    server = live_server(upload_idle_timeout=2.0, upload_min_rate=10_000)
    client = RawUpload(server, 5_000_000)
    try:
        client.send(multipart_head(episode.subtitles.read_bytes()))
        answer = None
        deadline = time.monotonic() + 20
        while answer is None and time.monotonic() < deadline:
            client.send(b"\x00" * 64)
            answer = client.answer(timeout=0.1)
        assert answer is not None, "a trickling upload was never timed out"
        assert answer.status == 408 and b"LANGFLIX_UPLOAD_MIN_RATE" in answer.body
    finally:
        client.close()
    wait_until_released(server)


def test_one_client_cannot_hold_more_than_its_cap(live_server: Callable[..., LiveServer], episode: Episode) -> None:
    server = live_server(max_upload_bytes=BIG, upload_client_max_bytes=BIG + BIG // 2, upload_idle_timeout=30)
    clients = [RawUpload(server, BIG) for _ in range(2)]
    try:
        answers = list(first_answers(clients, 1).values())
        assert len(answers) == 1, "a second claim past the client's cap was left waiting for its body"
        assert answers[0].status == 429 and b"LANGFLIX_UPLOAD_CLIENT_MAX_BYTES" in answers[0].body
        assert answers[0].headers["retry-after"]
        assert server.services.clients.held("127.0.0.1") == (1, BIG)
    finally:
        for client in clients:
            client.close()
    wait_until_released(server)
    assert server.services.clients.held("127.0.0.1") == (0, 0)


def test_one_client_cannot_have_more_uploads_in_flight_than_its_cap(
    live_server: Callable[..., LiveServer], episode: Episode
) -> None:
    server = live_server(upload_client_max_uploads=2)
    clients = [RawUpload(server, 1000) for _ in range(3)]
    try:
        answers = list(first_answers(clients, 1).values())
        assert len(answers) == 1, "a third upload past the client's cap was left waiting for its body"
        assert answers[0].status == 429 and b"LANGFLIX_UPLOAD_CLIENT_MAX_UPLOADS" in answers[0].body
        assert server.services.clients.held("127.0.0.1") == (2, 2000)
    finally:
        for client in clients:
            client.close()
    wait_until_released(server)


def test_a_burst_is_refused_before_its_bodies_and_the_disk_holds_two_uploads(
    live_server: Callable[..., LiveServer], episode: Episode
) -> None:
    """LANGFLIX_MAX_QUEUE=2, 12 uploads of 20.9 MB at once: 10 get 503 before sending a byte of body."""
    server = live_server(max_queue=2, workers=1, max_upload_bytes=32_000_000, upload_client_max_uploads=16)
    body = multipart_body(episode.subtitles.read_bytes(), b"\x00not a video" * (BIG // 12))
    assert server.settings.temp_dir is not None
    peak = TempPeak(server.settings.temp_dir)
    peak.start()
    clients = [RawUpload(server, len(body)) for _ in range(12)]
    try:
        answers = first_answers(clients, 10)
        assert len(answers) == 10, f"{len(answers)} of 12 refused before their bodies: the queue was checked late"
        for answer in answers.values():
            assert answer.status == 503 and answer.headers["retry-after"], answer
            assert b"LANGFLIX_MAX_QUEUE" in answer.body
        assert server.services.runner.stats().reserved == 2
        waiting = [client for n, client in enumerate(clients) if n not in answers]
        for client in waiting:  # the two admitted send their bodies: read, probed, refused as no video
            client.send(body)
        for client in waiting:
            answer = client.answer(timeout=60)
            assert answer is not None and answer.status == 415, answer
    finally:
        for client in clients:
            client.close()
        held = peak.stop()
    wait_until_released(server)
    print(f"temp peak of a 12-upload burst at LANGFLIX_MAX_QUEUE=2: {held / 1e6:.1f} MB")
    assert held <= 2 * len(body) + 1_000_000, f"the disk held {held} bytes: more than the two admitted uploads"
