"""JobEvents: a change told from any thread reaches every open subscription, coalesced; close ends them."""

from __future__ import annotations

import threading

import anyio

from langflix.api.events import JobEvents


def test_changes_from_other_threads_are_coalesced_per_subscription() -> None:
    events = JobEvents()

    async def main() -> None:
        first, second = events.subscribe(), events.subscribe()
        assert events.listeners == 2
        workers = [threading.Thread(target=lambda: [events.notify("a") for _ in range(200)]) for _ in range(4)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        events.notify("b")
        assert await first.next(5) == {"a", "b"}, "800 changes of one job are one id"
        assert await second.next(5) == {"a", "b"}
        assert await first.next(0.05) == set(), "nothing new: an empty set after the timeout"
        first.close()
        assert events.listeners == 1
        events.close()
        assert second.closed and await second.next(5) == set()
        assert events.subscribe().closed, "after close, a new subscription is closed at once"

    anyio.run(main)
