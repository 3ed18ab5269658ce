"""Independent pieces of one job made at once, on the cores one encode leaves idle.

One lesson at a time keeps fewer than two cores busy (1.3 on average in
``benchmarks/bench_pipeline.py``): x264 has threads, but ffmpeg's decode, filters
and audio run in one, and a lesson has idle stretches (speech, probing, joining).
Two lessons in flight fill them. The
bound is the caller's (``Settings.concurrency()``: one per core); every piece
still writes only into the job's scope, and the job's cancel token stops them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from langflix.cancel import CancelToken

__all__ = ["run_pieces"]

logger = logging.getLogger(__name__)

T = TypeVar("T")


def run_pieces(tasks: Sequence[Callable[[], T]], *, width: int, cancel: CancelToken) -> list[T]:
    """Run ``tasks``, at most ``width`` at once; their results in order.

    The first task to fail cancels ``cancel`` (so its siblings' ffmpeg is killed
    and nothing new starts), every task is waited for, then that first error is
    raised: the cause, not a sibling's "cancelled". Ctrl-C (in the calling
    thread) does the same and is re-raised. ``width`` 1 runs them one by one in
    the calling thread.
    """
    if width <= 1 or len(tasks) <= 1:
        return [task() for task in tasks]
    failures: list[BaseException] = []
    lock = threading.Lock()

    def guarded(task: Callable[[], T]) -> T:
        try:
            cancel.raise_if_cancelled()  # a piece queued behind a failure does not start
            return task()
        except BaseException as exc:
            with lock:
                failures.append(exc)
            # In the failing thread, at once: a sibling must not finish a long encode first.
            cancel.cancel(f"another piece of the job failed ({type(exc).__name__})")
            raise

    executor = ThreadPoolExecutor(max_workers=min(width, len(tasks)), thread_name_prefix="langflix-piece")
    try:
        futures = [executor.submit(guarded, task) for task in tasks]
        for future in futures:
            future.exception()  # waits; the first failure is raised below, after all are done
    except BaseException:
        # Ctrl-C while waiting: stop the pieces, wait for them to clean up, then re-raise.
        cancel.cancel("interrupted")
        executor.shutdown(wait=True, cancel_futures=True)
        raise
    executor.shutdown(wait=True)
    if failures:
        raise failures[0]
    return [future.result() for future in futures]
