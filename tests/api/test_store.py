"""The SQLite job store: transitions, restarts, the owner lock, concurrent writers."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from langflix.api.store import (
    INTERRUPTED_REASON,
    MAX_OFFSET,
    InvalidCursorError,
    JobNotFoundError,
    JobStateError,
    JobStore,
    OutputFile,
    StoreLockedError,
)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[JobStore]:
    with JobStore(tmp_path / "data") as s:
        yield s


def test_life_cycle_of_a_job(store: JobStore) -> None:
    created = store.create("j1", {"repeat": 2})
    assert (created.status, created.progress, created.options) == ("queued", 0.0, {"repeat": 2})
    assert store.mark_running("j1")
    assert store.update_progress("j1", 42.5, "cut", "cutting")
    running = store.get("j1")
    assert (running.status, running.progress, running.step, running.message) == ("running", 42.5, "cut", "cutting")
    assert store.finish("j1", "completed", outputs=[OutputFile("a.mp4", 10)], output_dir="/x")
    done = store.get("j1")
    assert done.status == "completed" and done.progress == 100.0 and done.finished
    assert done.outputs == (OutputFile("a.mp4", 10),) and done.output_dir == "/x"


def test_a_final_state_is_never_overwritten(store: JobStore) -> None:
    # The race between DELETE (cancel) and a worker finishing: first commit wins.
    store.create("j1", {})
    assert store.finish("j1", "cancelled", error="cancelled on request")
    assert not store.mark_running("j1")
    assert not store.update_progress("j1", 50, "cut")
    assert not store.finish("j1", "completed")
    assert store.get("j1").status == "cancelled"


def test_errors_name_the_problem(store: JobStore) -> None:
    with pytest.raises(JobNotFoundError, match="nope"):
        store.get("nope")
    store.create("j1", {})
    with pytest.raises(JobStateError, match="already exists"):
        store.create("j1", {})
    with pytest.raises(JobStateError, match="cancel it before"):
        store.delete("j1")
    with pytest.raises(JobStateError, match="not a final status"):
        store.finish("j1", "running")  # type: ignore[arg-type]
    with pytest.raises(JobStateError, match="unknown status"):
        store.list_jobs(status="bogus")


def test_list_and_counts(store: JobStore) -> None:
    for n in range(5):
        store.create(f"j{n}", {})
    store.finish("j0", "failed", error="boom")
    assert [r.id for r in store.list_jobs(status="failed")] == ["j0"]
    assert len(store.list_jobs(limit=3)) == 3
    assert store.counts() == {"queued": 4, "running": 0, "completed": 0, "failed": 1, "cancelled": 0}
    store.delete("j0")
    with pytest.raises(JobNotFoundError):
        store.get("j0")


def test_pages_follow_a_cursor_that_jobs_created_or_deleted_meanwhile_never_shift(tmp_path: Path) -> None:
    clock = iter(float(t) for t in range(1, 1000))
    with JobStore(tmp_path / "data", clock=lambda: next(clock)) as store:
        for n in range(7):
            store.create(f"j{n}", {})
        first, cursor = store.list_page(limit=3)
        assert [r.id for r in first] == ["j6", "j5", "j4"] and cursor is not None
        store.create("newer", {})  # would push every offset-based page by one
        store.finish("j5", "failed")
        store.delete("j5")  # would pull every offset-based page back by one
        second, cursor = store.list_page(limit=3, cursor=cursor)
        assert [r.id for r in second] == ["j3", "j2", "j1"] and cursor is not None
        last, cursor = store.list_page(limit=3, cursor=cursor)
        assert ([r.id for r in last], cursor) == (["j0"], None)
        exact, cursor = store.list_page(limit=7)  # a page that ends with the last job has no next page
        assert len(exact) == 7 and cursor is None


def test_jobs_created_at_the_same_instant_are_paged_by_id(tmp_path: Path) -> None:
    with JobStore(tmp_path / "data", clock=lambda: 5.0) as store:
        for job_id in ("c", "a", "b", "d"):
            store.create(job_id, {})
        first, cursor = store.list_page(limit=2)
        second, end = store.list_page(limit=2, cursor=cursor)
        assert [r.id for r in first + second] == ["a", "b", "c", "d"] and end is None


@pytest.mark.parametrize("cursor", ["", "!!!", "bm90IGpzb24", "WzEsMiwzXQ", "WyJ4IiwieSJd", "W3RydWUsIngiXQ"])
def test_a_cursor_the_store_did_not_give_is_refused(store: JobStore, cursor: str) -> None:
    with pytest.raises(InvalidCursorError, match="next_cursor"):
        store.list_page(cursor=cursor)


def test_offsets_are_bounded_below_sqlites_integers(store: JobStore) -> None:
    store.create("j", {})
    assert store.list_page(offset=MAX_OFFSET)[0] == []
    for offset in (-1, MAX_OFFSET + 1, 2**63):
        with pytest.raises(JobStateError, match="offset between 0 and"):
            store.list_page(offset=offset)


def test_restart_marks_interrupted_jobs_failed(tmp_path: Path) -> None:
    with JobStore(tmp_path) as first:
        first.create("queued", {})
        first.create("running", {})
        first.mark_running("running")
        first.create("done", {})
        first.finish("done", "completed")
    with JobStore(tmp_path) as second:
        assert sorted(second.fail_interrupted()) == ["queued", "running"]
        for job_id in ("queued", "running"):
            job = second.get(job_id)
            assert (job.status, job.error) == ("failed", INTERRUPTED_REASON)
        assert second.get("done").status == "completed"
        assert second.fail_interrupted() == []


def test_a_second_owner_is_refused_while_the_first_lives(tmp_path: Path) -> None:
    with JobStore(tmp_path):
        with pytest.raises(StoreLockedError, match="LANGFLIX_DATA_DIR"):
            JobStore(tmp_path)
        # Another process, too (flock is per open file, and dies with its holder).
        code = f"from langflix.api.store import JobStore; JobStore({str(tmp_path)!r})"
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
        assert result.returncode != 0 and "StoreLockedError" in result.stderr
    JobStore(tmp_path).close()  # released at close


def test_the_database_is_a_real_wal_file(tmp_path: Path) -> None:
    with JobStore(tmp_path) as store:
        store.create("j1", {"a": 1})
        # Another connection (another process would do the same) reads it while open.
        with sqlite3.connect(store.path) as other:
            assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert other.execute("SELECT id, status FROM jobs").fetchall() == [("j1", "queued")]


def test_concurrent_workers_do_not_lose_updates(store: JobStore) -> None:
    ids = [f"j{n}" for n in range(40)]
    for job_id in ids:
        store.create(job_id, {})
    errors: list[BaseException] = []

    def work(chunk: list[str]) -> None:
        try:
            for job_id in chunk:
                assert store.mark_running(job_id)
                for pct in range(0, 100, 10):
                    store.update_progress(job_id, pct, "step")
                    store.get(job_id)
                assert store.finish(job_id, "completed", outputs=[OutputFile(f"{job_id}.mp4", 1)])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(ids[i::4],)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert store.counts()["completed"] == 40
    assert {r.outputs[0].name for r in store.list_jobs(limit=100)} == {f"{i}.mp4" for i in ids}
