"""Which jobs changed, told to every listening stream as it happens (no polling of the store).

The store calls :meth:`JobEvents.notify` after each write, from whatever
thread wrote (a worker, the event loop). Each :class:`Subscription` (one per
open event stream) collects the ids of changed jobs in a set, so a burst of
progress updates to one job is one wake-up and one message, and a slow reader
never makes a queue grow. :meth:`JobEvents.close` ends every stream at once:
the server calls it when it starts shutting down, before it waits for open
connections (an event stream would otherwise hold the shutdown until its own
end). Holds no HTTP types.
"""

from __future__ import annotations

import asyncio
import threading

__all__ = ["JobEvents", "Subscription"]


class Subscription:
    """The changes one stream has not read yet; read them with :meth:`next` on the loop that made it."""

    def __init__(self, events: JobEvents, loop: asyncio.AbstractEventLoop) -> None:
        self._events = events
        self._loop = loop
        self._pending: set[str] = set()
        self._lock = threading.Lock()
        self._wake = asyncio.Event()
        self.closed = False

    def _add(self, job_id: str) -> None:
        with self._lock:
            self._pending.add(job_id)
        self._poke()

    def _poke(self) -> None:
        try:
            self._loop.call_soon_threadsafe(self._wake.set)
        except RuntimeError:  # the loop is closed: nobody is reading any more
            pass

    async def next(self, timeout: float) -> set[str]:
        """The ids changed since the last call; empty after ``timeout`` seconds without a change or when closed."""
        if not self._pending and not self.closed:
            try:
                await asyncio.wait_for(self._wake.wait(), timeout)
            except TimeoutError:
                pass
        self._wake.clear()
        with self._lock:
            changed, self._pending = self._pending, set()
        return changed

    def close(self) -> None:
        """Stop listening (safe to call twice)."""
        self.closed = True
        self._events._drop(self)
        self._poke()


class JobEvents:
    """Tells each :class:`Subscription` which jobs changed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscriptions: set[Subscription] = set()
        self.closed = False

    def subscribe(self) -> Subscription:
        """A new subscription, read on the running event loop; closed at once if the events are."""
        subscription = Subscription(self, asyncio.get_running_loop())
        with self._lock:
            if not self.closed:
                self._subscriptions.add(subscription)
                return subscription
        subscription.closed = True
        return subscription

    def notify(self, job_id: str) -> None:
        """Job ``job_id`` changed (created, progressed, finished or deleted); callable from any thread."""
        with self._lock:
            subscriptions = list(self._subscriptions)
        for subscription in subscriptions:
            subscription._add(job_id)

    def close(self) -> None:
        """End every subscription now and refuse new ones (safe to call twice)."""
        with self._lock:
            self.closed = True
            subscriptions, self._subscriptions = list(self._subscriptions), set()
        for subscription in subscriptions:
            subscription.closed = True
            subscription._poke()

    def _drop(self, subscription: Subscription) -> None:
        with self._lock:
            self._subscriptions.discard(subscription)

    @property
    def listeners(self) -> int:
        """Open subscriptions (for tests and metrics)."""
        with self._lock:
            return len(self._subscriptions)
