"""Scaled out: 8 short jobs through one RQ worker vs two, and how fast a SIGKILLed worker's job runs again.

Real processes, as the scale-out tests run them (their harness, ``tests/support/scale.py``):
a ``redis-server`` with its append-only file, one ``langflix serve``, and
``langflix worker`` processes, each with its own temp dir, sharing one
LANGFLIX_SHARED_DIR. Each phase gets a fresh Redis and directories.

1. ``--jobs`` jobs (one expression each, 320x240) submitted at once, then
   waited for: jobs per minute with one worker, then with two, and the ratio
   (the baseline is the one-worker run of the same invocation).
2. ``--kills`` times: a job encoding on one of two workers, the worker and its
   work horse SIGKILLed (the host gone); the time until the job is running again
   on the other worker (its ``started_at`` moves past the kill). What bounds it:
   ``LANGFLIX_LEASE_TTL`` (the heartbeat a running job must renew) plus one
   maintenance pass of the surviving worker.

The load average is printed with the figures (2 cores shared with others). Run::

    .venv/bin/python benchmarks/bench_workers.py [--jobs 8] [--kills 3] [--lease-ttl 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

# The tests' harness: the same real processes the fault tests start.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from api.helpers import Episode, make_episode  # noqa: E402
from support.redis_server import RedisServer  # noqa: E402
from support.scale import Cluster, encoding_under, horse_of  # noqa: E402

FINAL = ("completed", "failed", "cancelled")


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} ({os.cpu_count()} cores)"


def throughput(root: Path, episode: Episode, workers: int, jobs: int, ttl: str) -> float:
    """Jobs per minute: ``jobs`` submitted at once to ``workers`` workers, first POST to last completion."""
    redis = RedisServer(root / "redis").start()
    cluster = Cluster(root, redis, LANGFLIX_LEASE_TTL=ttl, LANGFLIX_MAX_QUEUE="64")
    try:
        cluster.start_api()
        for n in range(workers):
            cluster.start_worker(f"w{n}")
        with cluster.client() as client:
            started = time.perf_counter()
            ids = [cluster.submit(client, episode, episode_name=f"ep{n}") for n in range(jobs)]
            statuses = [cluster.wait(client, job_id, FINAL, timeout=900)["status"] for job_id in ids]
            elapsed = time.perf_counter() - started
        assert statuses == ["completed"] * jobs, statuses
        return jobs * 60 / elapsed
    finally:
        cluster.stop_all()
        redis.stop()


def recovery(root: Path, episode: Episode, ttl: str) -> float:
    """Seconds from SIGKILL of the worker encoding a job to that job running again on the other one."""
    redis = RedisServer(root / "redis").start()
    cluster = Cluster(root, redis, LANGFLIX_LEASE_TTL=ttl)
    try:
        cluster.start_api()
        workers = [cluster.start_worker("w0"), cluster.start_worker("w1")]
        with cluster.client() as client:
            job_id = cluster.submit(client, episode, max_expressions="2")
            deadline = time.monotonic() + 120
            while True:
                busy = [(w, h) for w in workers if (h := horse_of(w)) is not None and encoding_under(h)]
                if busy:
                    break
                assert time.monotonic() < deadline, "no worker started encoding"
                time.sleep(0.01)
            worker, horse = busy[0]
            killed_at = time.time()
            os.killpg(worker.pid, signal.SIGKILL)
            os.killpg(horse, signal.SIGKILL)
            while True:
                job = client.get(f"/jobs/{job_id}").json()
                if job["status"] == "running" and (job["started_at"] or 0) > killed_at:
                    again = time.time() - killed_at
                    break
                assert job["status"] not in FINAL, job
                assert time.time() - killed_at < 300, "the job never ran again"
                time.sleep(0.02)
            assert cluster.wait(client, job_id, FINAL, timeout=300)["status"] == "completed"
        return again
    finally:
        cluster.stop_all()
        redis.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=8)
    parser.add_argument("--kills", type=int, default=3)
    parser.add_argument("--lease-ttl", default="3", help="LANGFLIX_LEASE_TTL of the run (seconds)")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="bench-workers-"))
    try:
        episode = make_episode(scratch / "episode")
        print(f"before: {load()}")
        one = throughput(scratch / "one", episode, 1, args.jobs, args.lease_ttl)
        print(f"1 worker : {one:6.1f} jobs/min ({args.jobs} jobs)   {load()}")
        two = throughput(scratch / "two", episode, 2, args.jobs, args.lease_ttl)
        print(f"2 workers: {two:6.1f} jobs/min ({args.jobs} jobs)   {load()}")
        print(f"ratio 2 workers / 1 worker: {two / one:.2f}x")
        times = [recovery(scratch / f"kill{n}", episode, args.lease_ttl) for n in range(args.kills)]
        listed = ", ".join(f"{t:.1f}" for t in times)
        print(
            f"SIGKILL of a worker mid-encode -> its job running again elsewhere: median "
            f"{statistics.median(times):.1f} s ({listed}) with LANGFLIX_LEASE_TTL={args.lease_ttl}   {load()}"
        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
