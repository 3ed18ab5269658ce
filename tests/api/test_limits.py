"""Body deadlines and per-client caps, on their own: real time (short), a real event loop."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import anyio
import pytest

from langflix.api.limits import (
    BodyPace,
    ClientLedger,
    ClientLimitError,
    UploadTimeoutError,
    charged_body,
    paced_body,
)


async def chunks(sizes: list[int], pause: float = 0.0, *, then_hang: bool = False) -> AsyncIterator[bytes]:
    for size in sizes:
        if pause:
            await anyio.sleep(pause)
        yield b"x" * size
    if then_hang:
        await anyio.sleep(3600)


async def collect(body: AsyncIterator[bytes]) -> bytes:
    return b"".join([chunk async for chunk in body])


def test_a_body_at_a_good_pace_passes_unchanged() -> None:
    body = paced_body(chunks([1000] * 20, 0.001), BodyPace(min_rate=1000, idle_timeout=1.0))
    assert anyio.run(collect, body) == b"x" * 20_000


def test_a_stall_ends_the_body_after_the_idle_timeout() -> None:
    started = time.monotonic()
    with pytest.raises(UploadTimeoutError, match=r"stalled: no data for 0.2 s after 300 bytes.*IDLE_TIMEOUT"):
        anyio.run(collect, paced_body(chunks([100] * 3, then_hang=True), BodyPace(min_rate=10**6, idle_timeout=0.2)))
    assert time.monotonic() - started < 3  # bounded by the timeout, not by the hang


def test_a_steady_trickle_under_the_rate_runs_out_of_time() -> None:
    # 10 bytes every 20 ms = 500 B/s against a minimum of 10 kB/s: never idle, still too slow.
    pace = BodyPace(min_rate=10_000, idle_timeout=0.3)
    started = time.monotonic()
    with pytest.raises(UploadTimeoutError, match=r"too slow: .* under the minimum of 10000 bytes/s.*MIN_RATE"):
        anyio.run(collect, paced_body(chunks([10] * 10_000, 0.02), pace))
    assert time.monotonic() - started < 3


def test_a_fast_start_earns_time_for_a_slow_patch() -> None:
    # 50 kB at once buys 0.3 + 50000/100000 = 0.8 s: a pause of 0.25 s (under the idle timeout) passes.
    async def body() -> AsyncIterator[bytes]:
        yield b"x" * 50_000
        await anyio.sleep(0.25)
        yield b"y"

    assert len(anyio.run(collect, paced_body(body(), BodyPace(min_rate=100_000, idle_timeout=0.3)))) == 50_001


def test_pace_refuses_values_that_cannot_work() -> None:
    for rate, idle in ((0, 1.0), (1, 0.0), (-1, 1.0)):
        with pytest.raises(ValueError, match="must be positive"):
            BodyPace(min_rate=rate, idle_timeout=idle)


def test_a_client_holds_at_most_its_uploads_and_bytes() -> None:
    ledger = ClientLedger(max_bytes=1000, max_uploads=2)
    with ledger.hold("10.0.0.1", 600), ledger.hold("10.0.0.2", 1000):  # another client has its own caps
        with pytest.raises(ClientLimitError, match="1100 bytes .* LANGFLIX_UPLOAD_CLIENT_MAX_BYTES"):
            with ledger.hold("10.0.0.1", 500):
                pass
        with ledger.hold("10.0.0.1", 400):
            assert ledger.held("10.0.0.1") == (2, 1000)
            with pytest.raises(ClientLimitError, match="2 uploads in flight.*CLIENT_MAX_UPLOADS"):
                with ledger.hold("10.0.0.1", 0):
                    pass
        assert ledger.held("10.0.0.1") == (1, 600)
    assert ledger.held("10.0.0.1") == ledger.held("10.0.0.2") == (0, 0)


def test_a_body_of_unknown_length_is_charged_as_it_arrives() -> None:
    ledger = ClientLedger(max_bytes=1000, max_uploads=4)

    async def run() -> None:
        with ledger.hold("peer", 0) as hold:
            with pytest.raises(ClientLimitError):
                await collect(charged_body(chunks([400] * 5), hold, ceiling=10_000))
            assert ledger.held("peer") == (1, 800)  # the chunk over the cap was never charged
        assert ledger.held("peer") == (0, 0)
        with ledger.hold("peer", 0) as hold:
            # Past its own ceiling an upload fails by its own limit: never charged beyond it.
            await collect(charged_body(chunks([400] * 5), hold, ceiling=900))
            assert ledger.held("peer") == (1, 900)

    anyio.run(run)


def test_releasing_twice_gives_back_once() -> None:
    ledger = ClientLedger(max_bytes=100, max_uploads=1)
    with ledger.hold("peer", 50) as hold:
        hold.release()
        hold.release()
        assert ledger.held("peer") == (0, 0)
        hold.grow_to(90)  # after release: charges nothing
    assert ledger.held("peer") == (0, 0)
