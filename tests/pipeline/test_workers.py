"""run_pieces: a job's independent pieces at once, bounded, and the first failure is the one raised."""

from __future__ import annotations

import threading
import time

import pytest

from langflix.cancel import CancelToken
from langflix.errors import CancelledError, FFmpegError
from langflix.pipeline.workers import run_pieces


def test_results_come_back_in_order_whatever_finishes_first() -> None:
    def piece(index: int, delay: float) -> int:
        time.sleep(delay)
        return index

    tasks = [lambda i=i, d=d: piece(i, d) for i, d in enumerate([0.05, 0.0, 0.02])]
    assert run_pieces(tasks, width=3, cancel=CancelToken()) == [0, 1, 2]


def test_at_most_width_pieces_run_at_once() -> None:
    running = peak = 0
    lock = threading.Lock()

    def piece() -> None:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.02)
        with lock:
            running -= 1

    run_pieces([piece] * 8, width=2, cancel=CancelToken())
    assert peak == 2


def test_width_one_runs_in_the_calling_thread() -> None:
    threads: list[threading.Thread] = []
    run_pieces([lambda: threads.append(threading.current_thread())] * 2, width=1, cancel=CancelToken())
    assert threads == [threading.main_thread()] * 2


def test_the_first_failure_stops_the_siblings_and_is_the_one_raised() -> None:
    token = CancelToken()
    stopped: list[str] = []

    def long_encode() -> None:
        # Stands for an ffmpeg run: it polls the job's token as run_process does.
        if token.wait(10):
            stopped.append(token.reason)
            token.raise_if_cancelled()

    def broken() -> None:
        time.sleep(0.05)
        raise FFmpegError("ffmpeg failed on purpose")

    started = time.monotonic()
    with pytest.raises(FFmpegError, match="on purpose"):
        run_pieces([long_encode, broken, long_encode], width=2, cancel=token)
    assert time.monotonic() - started < 5, "the siblings were stopped, not waited out"
    assert stopped and "another piece of the job failed (FFmpegError)" in stopped[0]
    # The third piece was queued behind the failure: it never started its work.
    assert len(stopped) == 1


def test_the_callers_cancel_reaches_every_piece() -> None:
    parent = CancelToken()
    token = parent.child()

    def piece() -> None:
        token.wait(10)
        token.raise_if_cancelled()

    timer = threading.Timer(0.05, parent.cancel, args=("stopped by the user",))
    timer.start()
    with pytest.raises(CancelledError, match="stopped by the user"):
        run_pieces([piece, piece], width=2, cancel=token)
    timer.join()
