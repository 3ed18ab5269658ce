"""Independent pieces of one job made at once, on the cores one encode leaves idle.

One lesson at a time keeps fewer than two cores busy (1.3 on average in
``benchmarks/bench_pipeline.py``): x264 has threads, but ffmpeg's decode, filters
and audio run in one, and a lesson has idle stretches (speech, probing, joining).
A second lesson in flight fills them. A job always has one piece going; every
further one first takes a *spare core* of the process (``width - 1`` of them,
shared by every job of the process), so two jobs of the service never run more
pieces than the cores take: the extra pieces use cores that are idle, not cores
another job is using. Every piece still writes only into the job's scope, and
the job's cancel token stops them all.
"""

from __future__ import annotations

import collections
import functools
import logging
import threading
from collections.abc import Callable, Sequence
from typing import Final, TypeVar

from langflix.cancel import CancelToken

__all__ = ["run_pieces", "spare_cores"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

_POLL: Final[float] = 0.05
"""How often a piece waiting for a spare core checks for cancellation."""


def _signalling(work: Callable[[], None], done: threading.Event) -> Callable[[], None]:
    """``work``, setting ``done`` however it ends."""

    def run() -> None:
        try:
            work()
        finally:
            done.set()

    return run


@functools.cache
def spare_cores(width: int) -> threading.BoundedSemaphore:
    """The process's spare cores for jobs of ``width`` pieces: ``width - 1`` slots, shared."""
    return threading.BoundedSemaphore(max(1, width - 1))


def run_pieces(
    tasks: Sequence[Callable[[], T]],
    *,
    width: int,
    cancel: CancelToken,
    spare: threading.BoundedSemaphore | None = None,
) -> list[T]:
    """Run ``tasks``, at most ``width`` at once; their results in order.

    One task always runs; each further one at the same time holds a slot of
    ``spare`` (default: :func:`spare_cores` of ``width``) while it runs. The
    first task to fail cancels ``cancel`` (so its siblings' ffmpeg is killed and
    nothing new starts), every thread is waited for, then that first error is
    raised: the cause, not a sibling's "cancelled". Ctrl-C (in the calling
    thread) does the same and is re-raised. ``width`` 1 runs them one by one in
    the calling thread.
    """
    if width <= 1 or len(tasks) <= 1:
        return [task() for task in tasks]
    slots = spare if spare is not None else spare_cores(width)
    queue = collections.deque(enumerate(tasks))
    results: dict[int, T] = {}
    failures: list[BaseException] = []
    lock = threading.Lock()

    def next_task() -> tuple[int, Callable[[], T]] | None:
        with lock:
            return queue.popleft() if queue and not failures else None

    def run(item: tuple[int, Callable[[], T]]) -> None:
        index, task = item
        try:
            cancel.raise_if_cancelled()  # a piece queued behind a failure does not start
            results[index] = task()
        except BaseException as exc:
            with lock:
                failures.append(exc)
            # In the failing thread, at once: a sibling must not finish a long encode first.
            cancel.cancel(f"another piece of the job failed ({type(exc).__name__})")

    def first_worker() -> None:
        while (item := next_task()) is not None:
            run(item)

    def extra_worker() -> None:
        while queue and not cancel.cancelled:
            if not slots.acquire(timeout=_POLL):
                continue  # every spare core is busy: the first worker carries on meanwhile
            try:
                item = next_task()
                if item is None:
                    return
                run(item)
            finally:
                slots.release()

    workers = [first_worker] + [extra_worker] * (min(width, len(tasks)) - 1)
    finished = [threading.Event() for _ in workers]
    threads = [
        threading.Thread(target=_signalling(work, done), name=f"langflix-piece-{n}")
        for n, (work, done) in enumerate(zip(workers, finished, strict=True))
    ]
    started: list[threading.Event] = []
    try:
        for thread, done in zip(threads, finished, strict=True):
            thread.start()
            started.append(done)
        # Waited on with events, not Thread.join(): a join that Ctrl-C interrupts can
        # mark a running thread as stopped (CPython 3.11, bpo-45274's fix), and the
        # second join below would then return while the piece still runs.
        for done in started:
            done.wait()
    except BaseException:
        # Ctrl-C while starting or waiting: stop the pieces, wait for those started to
        # clean up (their ffmpeg killed, their files released), then re-raise.
        cancel.cancel("interrupted")
        for done in started:
            done.wait()
        raise
    if failures:
        raise failures[0]
    return [results[index] for index in range(len(tasks))]
