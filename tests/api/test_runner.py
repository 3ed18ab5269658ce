"""The worker pool on its own: queue bounds, cancellation, shutdown, scope ownership.

The pipeline is replaced by a small stand-in that writes a file into its scope
and then waits on its cancel token, so each state can be held as long as the
test needs; the real pipeline runs in tests/api/routes/test_jobs.py.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from langflix.api.runner import SHUTDOWN_REASON, JobRunner, QueuedJob, QueueSlot
from langflix.api.store import JobStore
from langflix.cancel import CancelToken
from langflix.errors import CancelledError, FFmpegError, QueueFullError
from langflix.temp import TempFileManager


@dataclass
class _Result:
    episode_dir: Path


class StandIn:
    """Writes into the job's scope, then blocks until released or cancelled."""

    def __init__(self, registry: dict[str, Any], video: Path, subtitles: Path, output_dir: Path, options: Any, *,
                 manager: TempFileManager, settings: Any, progress: Callable[[Any], None], cancel: CancelToken,
                 source_names: tuple[str, str] | None) -> None:
        self.registry, self.output_dir, self.options = registry, output_dir, options
        self.manager, self.progress, self.cancel = manager, progress, cancel

    def run(self) -> _Result:
        behaviour = self.options["behaviour"]
        work = self.manager.new_file(suffix=".wip")
        work.write_bytes(b"x" * 1000)
        self.registry.setdefault("started", []).append(self.options["id"])
        gate: threading.Event = self.registry.setdefault("gate", threading.Event())
        while not gate.wait(0.01):
            self.cancel.raise_if_cancelled()
        if behaviour == "fail":
            raise FFmpegError("ffmpeg exploded on purpose")
        if behaviour == "bug":
            raise ZeroDivisionError("a bug")
        episode = self.output_dir / "ep"
        episode.mkdir(parents=True)
        (episode / "out.mp4").write_bytes(b"video")
        return _Result(episode)


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, Any]]:
    manager = TempFileManager(base_dir=tmp_path / "tmp")
    store = JobStore(tmp_path / "data")
    registry: dict[str, Any] = {}
    runners: list[JobRunner] = []

    def make_runner(**kwargs: Any) -> JobRunner:
        def factory(*args: Any, **options: Any) -> StandIn:
            return StandIn(registry, *args, **options)

        runner = JobRunner(store, tmp_path / "out", pipeline_factory=factory, **kwargs)
        runner.start()
        runners.append(runner)
        return runner

    def submit(runner: JobRunner, job_id: str, behaviour: str = "ok", slot: QueueSlot | None = None) -> QueuedJob:
        resources = contextlib.ExitStack()
        scope = resources.enter_context(manager.scope(f"job-{job_id}"))
        upload = scope.new_file(suffix=".mp4")
        upload.write_bytes(b"upload")
        store.create(job_id, {})
        options = {"behaviour": behaviour, "id": job_id}
        job = QueuedJob(job_id, upload, upload, options, scope=scope, resources=resources)
        try:
            runner.submit(job, slot)
        except BaseException:
            resources.close()  # refused: the scope is still ours to close
            raise
        return job

    yield {
        "manager": manager, "store": store, "registry": registry,
        "make_runner": make_runner, "submit": submit, "out": tmp_path / "out",
    }  # fmt: skip
    registry.setdefault("gate", threading.Event()).set()
    for runner in runners:
        runner.shutdown(10)
    store.close()
    manager.close()
    assert list((tmp_path / "tmp").iterdir()) == []


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)


def test_completed_job_records_outputs_and_closes_its_scope(env: dict[str, Any]) -> None:
    runner = env["make_runner"](workers=1)
    job = env["submit"](runner, "a")
    wait_until(lambda: env["registry"].get("started") == ["a"])
    assert env["store"].get("a").status == "running"
    env["registry"]["gate"].set()
    wait_until(lambda: env["store"].get("a").finished)
    record = env["store"].get("a")
    assert record.status == "completed" and [o.name for o in record.outputs] == ["out.mp4"]
    assert record.output_dir == str(env["out"] / "a" / "ep")
    assert not job.scope.path.exists()


def test_queue_is_bounded(env: dict[str, Any]) -> None:
    runner = env["make_runner"](workers=1, max_queue=2)
    env["submit"](runner, "running")
    wait_until(lambda: env["registry"].get("started") == ["running"])
    env["submit"](runner, "q1")
    env["submit"](runner, "q2")
    assert not runner.has_room()
    with pytest.raises(QueueFullError, match="LANGFLIX_MAX_QUEUE"):
        env["submit"](runner, "q3")
    assert runner.stats().queued == 2 and runner.stats().running == 1


def test_a_held_place_counts_against_the_queue_until_submitted_or_released(env: dict[str, Any]) -> None:
    runner = env["make_runner"](workers=1, max_queue=2)
    env["submit"](runner, "running")
    wait_until(lambda: env["registry"].get("started") == ["running"])
    first, second = runner.reserve(), runner.reserve()
    assert not runner.has_room() and runner.stats().reserved == 2
    with pytest.raises(QueueFullError, match="waiting or uploading"):
        runner.reserve()
    with pytest.raises(QueueFullError):
        env["submit"](runner, "no-place")  # a submission without a place finds none
    first.release()
    first.release()  # twice: nothing more given back
    assert runner.stats().reserved == 1 and runner.has_room()
    third = runner.reserve()
    assert runner.stats().reserved == 2
    # Submitting in a held place turns it into the job's: the count stays the same.
    resources = contextlib.ExitStack()
    scope = resources.enter_context(env["manager"].scope("job-placed"))
    env["store"].create("placed", {})
    runner.submit(QueuedJob("placed", scope.path, scope.path, {"behaviour": "ok", "id": "placed"},
                            scope=scope, resources=resources), second)  # fmt: skip
    assert (runner.stats().queued, runner.stats().reserved) == (1, 1)
    second.release()  # already the job's: no effect
    assert runner.stats().reserved == 1
    third.release()
    assert runner.stats().reserved == 0


def test_a_place_held_at_shutdown_cannot_be_submitted(env: dict[str, Any]) -> None:
    runner = env["make_runner"](workers=1)
    slot = runner.reserve()
    runner.shutdown(10)
    with pytest.raises(QueueFullError, match="shutting down"):
        env["submit"](runner, "late", slot=slot)
    slot.release()
    assert runner.stats().reserved == 0


def test_cancel_a_queued_job_closes_its_scope_at_once(env: dict[str, Any]) -> None:
    runner = env["make_runner"](workers=1)
    env["submit"](runner, "first")
    wait_until(lambda: env["registry"].get("started") == ["first"])
    queued = env["submit"](runner, "second")
    assert runner.cancel("second") == "dequeued"
    assert not queued.scope.path.exists()
    assert env["store"].get("second").status == "cancelled"
    assert runner.cancel("second") == "not-active"


def test_cancel_a_running_job(env: dict[str, Any]) -> None:
    runner = env["make_runner"](workers=1)
    job = env["submit"](runner, "a")
    wait_until(lambda: env["registry"].get("started") == ["a"])
    assert runner.cancel("a") == "cancelling"
    wait_until(lambda: env["store"].get("a").finished)
    record = env["store"].get("a")
    assert (record.status, record.error) == ("cancelled", "cancelled on request")
    assert not job.scope.path.exists() and not (env["out"] / "a").exists()


@pytest.mark.parametrize(
    ("behaviour", "error"), [("fail", "ffmpeg exploded on purpose"), ("bug", "internal error: ZeroDivisionError")]
)
def test_failures_are_recorded_and_leave_nothing(env: dict[str, Any], behaviour: str, error: str) -> None:
    runner = env["make_runner"](workers=1)
    env["registry"]["gate"] = threading.Event()
    env["registry"]["gate"].set()
    job = env["submit"](runner, "a", behaviour)
    wait_until(lambda: env["store"].get("a").finished)
    record = env["store"].get("a")
    assert record.status == "failed" and error in (record.error or "")
    assert not job.scope.path.exists()
    assert runner.stats().running == 0  # the worker survived the bug
    env["submit"](runner, "b")
    wait_until(lambda: env["store"].get("b").finished)
    assert env["store"].get("b").status == "completed"


def test_final_state_is_written_only_after_the_scope_is_gone(env: dict[str, Any]) -> None:
    # A client that polls until "completed" and then lists the temp dir must find it empty.
    runner = env["make_runner"](workers=2)
    env["registry"]["gate"] = threading.Event()
    env["registry"]["gate"].set()
    jobs = [env["submit"](runner, f"j{n}") for n in range(6)]
    seen_leftovers = []
    for job in jobs:
        wait_until(lambda job=job: env["store"].get(job.job_id).finished)
        if job.scope.path.exists():
            seen_leftovers.append(job.job_id)
    assert seen_leftovers == []


def test_shutdown_fails_queued_and_cancels_running_jobs(env: dict[str, Any]) -> None:
    runner = env["make_runner"](workers=1)
    running = env["submit"](runner, "running")
    wait_until(lambda: env["registry"].get("started") == ["running"])
    queued = env["submit"](runner, "queued")
    runner.shutdown(10)
    for job in (running, queued):
        record = env["store"].get(job.job_id)
        assert (record.status, record.error) == ("failed", SHUTDOWN_REASON)
        assert not job.scope.path.exists()
    with pytest.raises(QueueFullError, match="shutting down"):
        env["submit"](runner, "late")


def test_a_cancelled_token_before_start_never_runs(env: dict[str, Any]) -> None:
    runner = env["make_runner"](workers=1)
    env["submit"](runner, "first")
    wait_until(lambda: env["registry"].get("started") == ["first"])
    second = env["submit"](runner, "second")
    second.cancel.cancel("stop")
    env["registry"]["gate"].set()
    wait_until(lambda: env["store"].get("second").finished)
    assert env["store"].get("second").status == "cancelled"
    assert env["registry"]["started"] == ["first"]
    with pytest.raises(CancelledError):
        second.cancel.raise_if_cancelled()
