"""The Redis job store keeps the SQLite store's promises: records, pages, guarded and fenced transitions."""

from __future__ import annotations

import threading
import time

import pytest
import redis
from support.redis_server import RedisServer, free_port

from langflix.api.scale.connection import connect
from langflix.api.scale.keys import CREATED_INDEX, job_key
from langflix.api.scale.leases import Lease, RedisLeaseChecker
from langflix.api.scale.store import RedisJobStore
from langflix.api.store import JobNotFoundError, JobStateError, OutputFile
from langflix.errors import BackendUnavailableError


@pytest.fixture
def store(redis_server: RedisServer) -> RedisJobStore:
    return RedisJobStore(connect(redis_server.url, patient=False), redis_server.url)


def test_a_job_goes_queued_running_completed_with_its_outputs(store: RedisJobStore) -> None:
    record = store.create("a1", {"repeat": 2})
    assert (record.status, record.step, dict(record.options)) == ("queued", "queued", {"repeat": 2})
    with pytest.raises(JobStateError, match="already exists"):
        store.create("a1", {})
    assert store.mark_running("a1") and not store.mark_running("a1")
    assert store.update_progress("a1", 140, "cut", "cutting")
    running = store.get("a1")
    assert (running.status, running.progress, running.step, running.message) == ("running", 100.0, "cut", "cutting")
    assert store.finish("a1", "completed", outputs=[OutputFile("x.mp4", 3)], output_dir="/o/a1")
    assert not store.finish("a1", "failed", error="late")  # already final: the first writer won
    done = store.get("a1")
    assert (done.status, done.progress, done.outputs, done.output_dir) == (
        "completed",
        100.0,
        (OutputFile("x.mp4", 3),),
        "/o/a1",
    )
    assert done.started_at is not None and done.finished_at is not None and done.finished
    assert store.counts() == {"queued": 0, "running": 0, "completed": 1, "failed": 0, "cancelled": 0}
    store.delete("a1")
    with pytest.raises(JobNotFoundError):
        store.get("a1")


def test_pages_are_newest_first_and_a_cursor_never_skips_or_repeats(
    redis_server: RedisServer, store: RedisJobStore
) -> None:
    for n in range(7):
        store.create(f"j{n}", {})
    # Two jobs created at the very same instant: ordered by id, like the SQLite store.
    client = redis.Redis.from_url(redis_server.url)
    client.zadd(CREATED_INDEX, {"j5": 5.0, "j6": 5.0, "j4": 6.0})
    for job_id, score in (("j5", 5.0), ("j6", 5.0), ("j4", 6.0)):
        client.hset(job_key(job_id), "created_at", str(score))
    seen: list[str] = []
    cursor = None
    while True:
        page, cursor = store.list_page(limit=2, cursor=cursor)
        seen += [r.id for r in page]
        if cursor is None:
            break
    assert seen[-3:] == ["j4", "j5", "j6"]
    assert sorted(seen) == [f"j{n}" for n in range(7)] and len(seen) == 7
    assert [r.id for r in store.list_jobs(limit=2, offset=1)] == seen[1:3]
    store.mark_running("j0")
    assert [r.id for r in store.list_jobs(status="running")] == ["j0"]
    with pytest.raises(JobStateError, match="unknown status"):
        store.list_page(status="lost")


def test_a_given_up_attempt_can_never_overwrite_the_retry(redis_server: RedisServer, store: RedisJobStore) -> None:
    client = connect(redis_server.url, patient=False)
    old = RedisJobStore(client, redis_server.url, attempt="first")
    retry = RedisJobStore(client, redis_server.url, attempt="second")
    store.create("f1", {})
    assert old.mark_running("f1") and old.holds("f1")
    assert store.requeue("f1", "its worker was lost")  # the cluster gave up on the first attempt
    assert store.get("f1").message == "its worker was lost"
    assert retry.mark_running("f1")
    assert not old.update_progress("f1", 50, "cut") and not old.holds("f1")
    assert not old.finish("f1", "failed", error="stale")
    assert retry.finish("f1", "completed")
    assert store.get("f1").status == "completed"


def test_cancel_dequeues_a_queued_job_and_asks_a_running_one_to_stop(redis_server: RedisServer) -> None:
    client = connect(redis_server.url, patient=False)
    asked: list[str] = []
    api = RedisJobStore(client, redis_server.url)
    horse = RedisJobStore(client, redis_server.url, attempt="h", on_cancel=asked.append)
    api.create("q1", {})
    api.create("r1", {})
    horse.mark_running("r1")
    assert api.request_cancel("q1", "cancelled on request") == "dequeued"
    assert (api.get("q1").status, api.get("q1").error) == ("cancelled", "cancelled on request")
    assert api.request_cancel("r1", "cancelled on request") == "cancelling"
    assert api.get("r1").status == "running"
    horse.update_progress("r1", 10, "cut")
    assert asked == ["r1"]  # the horse hears it at its next step
    assert api.request_cancel("q1", "again") == "not-active"


def test_every_change_is_heard_by_listeners_and_changed_since_catches_up(store: RedisJobStore) -> None:
    heard: list[str] = []
    event = threading.Event()

    def listener(job_id: str) -> None:
        heard.append(job_id)
        event.set()

    store.add_listener(listener)
    time.sleep(0.3)  # the subscriber thread subscribes
    since = store.now()
    store.create("e1", {})
    assert event.wait(10) and heard[0] == "e1"
    assert [r.id for r in store.changed_since(since)] == ["e1"]
    assert store.changed_since(store.now() + 1) == []
    store.close()


def test_the_lease_check_keeps_held_and_runnable_jobs_and_frees_the_rest(redis_server: RedisServer) -> None:
    client = connect(redis_server.url, patient=False)
    store = RedisJobStore(client, redis_server.url)
    checker = RedisLeaseChecker(client, redis_server.url)
    lease = Lease(client, redis_server.url, "l1", 5.0, "test")
    assert lease.take_new() and not lease.take_new()
    assert not checker.abandoned("l1")  # held (no job yet: an upload in progress)
    lease.release()
    assert checker.abandoned("l1")  # no lease, no job: a half upload of a dead server
    store.create("l1", {})
    client.hset("rq:job:l1", "status", "queued")
    assert not checker.abandoned("l1")  # queued on RQ: a worker will need its inputs
    store.mark_running("l1")
    assert not checker.abandoned("l1")  # running (its worker may be lost: RQ decides, not the sweep)
    store.finish("l1", "failed", error="x")
    assert checker.abandoned("l1")
    assert not lease.renew()  # an expired lease cannot be renewed


def test_an_unreachable_redis_is_one_clear_error() -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    store = RedisJobStore(connect(url, patient=False), url)
    with pytest.raises(BackendUnavailableError, match=r"cannot reach Redis at .* \(LANGFLIX_REDIS_URL\)"):
        store.get("x")
