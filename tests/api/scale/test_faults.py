"""Scaled out, with real processes and real signals: what survives, what is reclaimed, and when.

A real redis-server (append-only on) per test, ``langflix serve`` and
``langflix worker`` as subprocesses, each worker with its own temp dir as on
its own host, all sharing one LANGFLIX_SHARED_DIR. Leases live 4 s, so a
lost holder is found in seconds.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.redis_server import RedisServer, free_port
from support.scale import Cluster, Proc, encoding_under, horse_of, staging_areas, temp_entries

from langflix.api.scale.connection import connect
from langflix.api.scale.leases import RedisLeaseChecker
from langflix.temp import sweep_leased

from ..helpers import BOUNDARY, MULTIPART_TAIL, Episode, multipart_head

pytestmark = pytest.mark.slow


def _open_upload(cluster: Cluster, episode: Episode, *, total_videos: int) -> tuple[socket.socket, bytes]:
    """``POST /jobs`` on a raw socket: headers, then the body up to one copy of the video (the rest: the caller)."""
    host, port = cluster.api_url.removeprefix("http://").split("/")[0].split(":")
    video = episode.video.read_bytes()
    head = multipart_head(episode.subtitles.read_bytes())
    sock = socket.create_connection((host, int(port)), timeout=30)
    sock.sendall(
        (
            f"POST /api/v1/jobs HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
            f"Content-Length: {len(head) + total_videos * len(video) + len(MULTIPART_TAIL)}\r\n\r\n"
        ).encode()
        + head
        + video
    )
    _until(lambda: sum(f.stat().st_size for a in staging_areas(cluster.shared) for f in a.iterdir()) > 0,
           30, "the upload to reach the staging area")  # fmt: skip
    return sock, video


def _until(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def _horse_encoding(worker: Proc) -> int:
    """The pid of ``worker``'s work horse, once ffmpeg encodes under it."""
    _until(lambda: (h := horse_of(worker)) is not None and encoding_under(h), 60, f"{worker.name} to encode")
    horse = horse_of(worker)
    assert horse is not None
    return horse


def _kill_host(worker: Proc, horse: int) -> None:
    """The whole host goes at once: the worker, its horse and the horse's ffmpeg."""
    os.killpg(worker.pid, signal.SIGKILL)
    os.killpg(horse, signal.SIGKILL)


def test_eight_jobs_on_two_workers_all_complete_and_leave_nothing(cluster: Cluster, episode: Episode) -> None:
    api = cluster.start_api()
    one, two = cluster.start_worker("w1"), cluster.start_worker("w2")
    with cluster.client() as client:
        ids = [cluster.submit(client, episode, episode_name=f"ep{n}") for n in range(8)]
        jobs = [cluster.wait(client, job_id, ("completed", "failed", "cancelled")) for job_id in ids]
        assert [j["status"] for j in jobs] == ["completed"] * 8, [j["error"] for j in jobs]
        assert client.get("/health").json()["jobs"]["completed"] == 8

    # RQ logs "Job OK" just after the job's final state is written: give the last line its moment.
    _until(lambda: sum(w.count(r"Job OK \(") for w in (one, two)) >= 8, 30, "RQ to log every job")
    ran = {w.name: sum(w.count(rf"Job OK \({job_id}\)") for job_id in ids) for w in (one, two)}
    assert sum(ran.values()) == 8 and min(ran.values()) >= 1, ran  # both workers ran jobs
    outputs = [Path(j["outputs"][0]["url"]).parts for j in jobs]
    assert len(set(outputs)) == 8  # distinct outputs
    published = sorted((cluster.shared / "outputs").glob("*/*/compilation.mp4"))
    assert len(published) == 8 and all(p.stat().st_size > 0 for p in published)

    # Every staging byte is gone with its job; every scratch byte with its work horse.
    assert staging_areas(cluster.shared) == []
    assert temp_entries(api.temp_dir, live=[api.pid]) == []  # the API staged nothing locally
    for worker in (one, two):
        assert temp_entries(worker.temp_dir, live=[worker.pid]) == []
        assert worker.stop() == 0
        assert list(worker.temp_dir.iterdir()) == []


def test_sigkill_of_a_worker_mid_encode_retries_its_job_elsewhere(cluster: Cluster, episode: Episode) -> None:
    cluster.start_api()
    first = cluster.start_worker("w1")
    with cluster.client() as client:
        job_id = cluster.submit(client, episode, max_expressions="2")
        horse = _horse_encoding(first)
        [staged] = staging_areas(cluster.shared)
        _kill_host(first, horse)
        first.proc.wait(10)
        dead_scratch = [p for p in first.temp_dir.iterdir() if p.name.startswith("langflix_session-")]
        assert any(p.name.startswith(f"langflix_session-{horse}-") for p in dead_scratch)

        second = cluster.start_worker("w2")  # its start-up sweep must leave the staged inputs alone
        second.wait_for_line(r"worker start: .*abandoned staging")
        job = client.get(f"/jobs/{job_id}").json()
        assert job["status"] in ("running", "queued") and staged.is_dir(), job  # the job can still run
        done = cluster.wait(client, job_id, ("completed", "failed", "cancelled"))
        assert done["status"] == "completed", done
    second.wait_for_line(rf"Job OK \({job_id}\)", timeout=30)
    assert second.count(r"its worker was lost; running it again") == 1
    assert not staged.exists() and staging_areas(cluster.shared) == []  # finished: its inputs are reclaimed

    # The killed horse's scratch (and its worker's session) are reclaimed when the worker restarts.
    assert [p for p in dead_scratch if p.exists()] == dead_scratch
    restarted = cluster.start_worker("w1-again", temp_dir=first.temp_dir)
    restarted.wait_for_line(r"worker start: reclaimed [1-9]\d* dead session")
    assert [p for p in dead_scratch if p.exists()] == []
    assert temp_entries(first.temp_dir, live=[restarted.pid]) == []


def test_a_lost_worker_with_no_retry_left_fails_its_job_with_worker_lost(
    tmp_path: Path, redis_server: RedisServer, episode: Episode
) -> None:
    cluster = Cluster(tmp_path, redis_server, LANGFLIX_JOB_RETRIES="0")
    try:
        cluster.start_api()
        first = cluster.start_worker("w1")
        with cluster.client() as client:
            job_id = cluster.submit(client, episode, max_expressions="2")
            _kill_host(first, _horse_encoding(first))
            cluster.start_worker("w2")  # the one that finds the lost job
            job = cluster.wait(client, job_id, ("completed", "failed", "cancelled"), timeout=60)
        assert job["status"] == "failed" and job["error"].startswith("worker lost"), job
        _until(lambda: staging_areas(cluster.shared) == [], 10, "the finished job's inputs to go")
    finally:
        cluster.stop_all()


def test_a_half_upload_of_a_killed_api_is_reclaimed_once_its_lease_expires(cluster: Cluster, episode: Episode) -> None:
    api = cluster.start_api()
    sock, _video = _open_upload(cluster, episode, total_videos=10)
    with sock:
        os.killpg(api.pid, signal.SIGKILL)
        api.proc.wait(10)
    [half] = staging_areas(cluster.shared)
    # At once (the lease was renewed a moment ago): never a live owner's bytes.
    checker = RedisLeaseChecker(connect(cluster.redis.url, patient=False), cluster.redis.url)
    early = sweep_leased(cluster.shared / "staging", checker)
    assert (early.removed, early.skipped_live) == (0, 1) and half.exists()

    time.sleep(float(cluster.settings["LANGFLIX_LEASE_TTL"]) + 0.5)  # the lease expires: nobody renews it
    sweep = [sys.executable, "-m", "langflix", "temp", "sweep", "--shared"]
    late = subprocess.run(
        sweep, env=cluster.env(cluster.root / "sweep-temp"), capture_output=True, text=True, timeout=60
    )
    assert late.returncode == 0, late.stderr
    assert "reclaimed 1 abandoned staging area(s)" in late.stdout, late.stdout
    assert not half.exists() and staging_areas(cluster.shared) == []


def test_a_redis_restart_mid_run_loses_no_job_and_workers_reconnect(cluster: Cluster, episode: Episode) -> None:
    cluster.start_api()
    workers = [cluster.start_worker("w1"), cluster.start_worker("w2")]
    with cluster.client() as client:
        ids = [cluster.submit(client, episode, episode_name=f"ep{n}") for n in range(3)]
        _until(lambda: any(encoding_under(h) for w in workers if (h := horse_of(w)) is not None), 60, "an encode")
        cluster.redis.restart(down_for=1.0)  # SIGTERM: Redis writes its append-only file, then starts from it
        jobs = [cluster.wait(client, job_id, ("completed", "failed", "cancelled")) for job_id in ids]
        assert [j["status"] for j in jobs] == ["completed"] * 3, [j["error"] for j in jobs]
        listed = {j["id"] for j in client.get("/jobs").json()["jobs"]}
        assert listed == set(ids)  # no record lost
        # The workers are still there and take new work.
        late = cluster.submit(client, episode, episode_name="after")
        assert cluster.wait(client, late, ("completed", "failed"))["status"] == "completed"
    assert all(w.proc.poll() is None for w in workers)
    assert staging_areas(cluster.shared) == []


def test_redis_unreachable_fails_serve_at_start_and_posts_get_503_with_nothing_staged(
    cluster: Cluster, episode: Episode, tmp_path: Path
) -> None:
    nobody = f"redis://127.0.0.1:{free_port()}/0"
    env = cluster.env(tmp_path / "t0", LANGFLIX_REDIS_URL=nobody)
    refused = subprocess.run(
        [sys.executable, "-m", "langflix", "serve", "--port", "0"], env=env, capture_output=True, text=True, timeout=60
    )
    assert refused.returncode == 3
    assert f"cannot reach Redis at {nobody} (LANGFLIX_REDIS_URL)" in refused.stderr
    assert "Traceback" not in refused.stderr

    cluster.start_api()
    # Redis goes while an upload arrives: the answer is 503 and the half-staged upload is gone at once.
    sock, video = _open_upload(cluster, episode, total_videos=2)
    with sock:
        cluster.redis.stop()
        sock.sendall(video + MULTIPART_TAIL)
        answer_head = sock.recv(65536).decode("latin-1")
    assert answer_head.startswith("HTTP/1.1 503") and "retry-after:" in answer_head.lower(), answer_head
    assert staging_areas(cluster.shared) == []
    with cluster.client() as client:
        files = {"video": ("e.mp4", episode.video.read_bytes()), "subtitle": ("e.srt", episode.subtitles.read_bytes())}
        answer = client.post("/jobs", files=files)
        assert answer.status_code == 503 and answer.headers["retry-after"], answer.text
        assert "LANGFLIX_REDIS_URL" in answer.json()["detail"]
        assert staging_areas(cluster.shared) == []
        assert client.get("/jobs").status_code == 503
        cluster.redis.start()
        assert client.post("/jobs", files=files).status_code == 202  # the same server, once Redis is back


def test_cancel_a_queued_and_a_running_job_across_processes(cluster: Cluster, episode: Episode) -> None:
    cluster.start_api()
    worker = cluster.start_worker("w1")
    with cluster.client() as client:
        running = cluster.submit(client, episode, max_expressions="2")
        _until(lambda: (h := horse_of(worker)) is not None and encoding_under(h), 60, "the first job to encode")
        queued = cluster.submit(client, episode)
        assert client.get(f"/jobs/{queued}").json()["status"] == "queued"

        answer = client.delete(f"/jobs/{queued}")
        assert answer.status_code == 200 and answer.json()["status"] == "cancelled"
        answer = client.delete(f"/jobs/{running}")
        assert answer.status_code == 202 and answer.json()["cancelling"] is True
        job = cluster.wait(client, running, ("completed", "failed", "cancelled"), timeout=60)
        assert (job["status"], job["error"]) == ("cancelled", "cancelled on request")
        assert client.get(f"/jobs/{queued}").json()["status"] == "cancelled"  # never ran
    _until(lambda: horse_of(worker) is None, 30, "the horse to go")
    assert worker.count(rf"Job OK \({queued}\)") == 0
    assert staging_areas(cluster.shared) == []
    _until(lambda: temp_entries(worker.temp_dir, live=[worker.pid]) == [], 10, "the horse's scratch to go")
    assert list((cluster.shared / "outputs").glob("*/*")) == []
