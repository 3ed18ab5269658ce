"""run_pieces: a job's independent pieces at once, bounded, and the first failure is the one raised."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from langflix.cancel import CancelToken
from langflix.errors import CancelledError, FFmpegError
from langflix.pipeline.workers import run_pieces, spare_cores


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


def test_two_jobs_share_the_spare_cores_of_the_process() -> None:
    """Each job has one piece going; extra pieces only take cores no other job's extra piece holds."""
    spare = threading.BoundedSemaphore(1)  # a 2-core machine: one spare core
    running = peak = 0
    lock = threading.Lock()

    def piece() -> None:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.03)
        with lock:
            running -= 1

    options = {"width": 2, "spare": spare}
    jobs = [
        threading.Thread(target=run_pieces, args=([piece] * 6,), kwargs={**options, "cancel": CancelToken()})
        for _ in range(2)
    ]
    for job in jobs:
        job.start()
    for job in jobs:
        job.join()
    assert peak == 3, "two jobs and one spare core: three pieces at most, and the spare one is used"


def test_the_spare_cores_are_one_pool_per_width() -> None:
    assert spare_cores(2) is spare_cores(2) and spare_cores(3) is not spare_cores(2)


def test_ctrl_c_stops_every_piece_before_it_is_reraised() -> None:
    """The pieces are waited for after Ctrl-C: none still runs when the caller cleans up."""
    token = CancelToken()
    finished: list[str] = []

    def piece() -> None:
        token.wait(10)
        time.sleep(0.1)  # cleaning up takes a moment (killing and reaping an ffmpeg)
        finished.append(threading.current_thread().name)

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(0.1, os.kill, args=(os.getpid(), signal.SIGINT))
    try:
        timer.start()
        with pytest.raises(KeyboardInterrupt):
            run_pieces([piece, piece], width=2, cancel=token, spare=threading.BoundedSemaphore(1))
        assert len(finished) == 2, "run_pieces returned while a piece still ran"
        assert token.reason == "interrupted"
    finally:
        timer.join()
        signal.signal(signal.SIGINT, previous)
