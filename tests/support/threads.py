"""Races: one function called from several threads released at the same moment."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

__all__ = ["Race", "race"]

T = TypeVar("T")


@dataclass
class Race(Generic[T]):
    """What the threads of a race returned and raised (each in the order they finished)."""

    results: list[T] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)


def race(fn: Callable[[], T], threads: int, *, timeout: float | None = None) -> Race[T]:
    """Call ``fn`` in ``threads`` threads released together by a barrier; join them all.

    ``timeout`` bounds each join (``None``: wait as long as it takes); a thread's
    exception, ``BaseException`` included, is caught and kept in ``errors``.
    """
    barrier = threading.Barrier(threads)
    lock = threading.Lock()
    outcome: Race[T] = Race()

    def one() -> None:
        try:
            barrier.wait()  # all threads start fn at once
            value = fn()
        except BaseException as exc:  # kept for the test to check
            with lock:
                outcome.errors.append(exc)
        else:
            with lock:
                outcome.results.append(value)

    workers = [threading.Thread(target=one) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout)
    return outcome
