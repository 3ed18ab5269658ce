"""``GET /jobs`` under 50 concurrent readers against ``/health`` in the same run.

A real ``langflix serve`` process over a job store holding ``--jobs`` jobs (40:
most completed with four outputs each, as real episodes are, some failed or
cancelled), written through the store's own API before the server starts.
``--readers`` threads (one HTTP client each) then read ``/jobs`` (every job on
one page), then ``/health``, then ``/jobs?limit=1``, ``--requests`` times each.
Printed: the median and 95th percentile of each, the ratio of the list to the
health check, and what one row of the list costs ((40 rows - 1 row) / 39).
Run::

    .venv/bin/python benchmarks/bench_list_jobs.py [--jobs 40] [--readers 50] [--requests 20]
"""

from __future__ import annotations

import argparse
import shutil
import signal
import statistics
import tempfile
import threading
import time
from pathlib import Path

import httpx
from bench_upload import start_server

from langflix.api.store import JobStore, OutputFile


def populate(data_dir: Path, count: int) -> None:
    """``count`` jobs as a busy server leaves them: 3 of 4 completed with four outputs."""
    with JobStore(data_dir) as store:
        for n in range(count):
            job_id = f"{n:04d}" + "ab" * 14
            store.create(job_id, {"max_expressions": 3, "repeat": 2, "tts": "espeak",
                                  "language_level": "intermediate", "episode_name": f"Show_S01E{n:02d}"})  # fmt: skip
            store.mark_running(job_id)
            store.update_progress(job_id, 96.0, "publish", f"publishing episode {n}")
            if n % 4 == 3:
                store.finish(job_id, "failed" if n % 8 == 3 else "cancelled", error="ffmpeg failed: exit code 1")
                continue
            outputs = [OutputFile(f"0{i}-break-the-ice.mp4", 1_234_567 + i) for i in (1, 2)]
            outputs += [OutputFile("compilation.mp4", 3_456_789), OutputFile("manifest.json", 4_321)]
            store.finish(job_id, "completed", outputs=outputs, output_dir=str(data_dir / "out" / job_id))


def hammer(url: str, readers: int, requests: int) -> list[float]:
    """Latencies (s) of ``readers`` threads each reading ``url`` ``requests`` times, all started at once."""
    latencies: list[float] = []
    lock = threading.Lock()
    gate = threading.Barrier(readers)

    def reader() -> None:
        with httpx.Client(timeout=120) as client:
            client.get(url).raise_for_status()  # connect outside the timing
            gate.wait()
            mine = []
            for _ in range(requests):
                start = time.perf_counter()
                response = client.get(url)
                mine.append(time.perf_counter() - start)
                assert response.status_code == 200, response.text
            with lock:
                latencies.extend(mine)

    threads = [threading.Thread(target=reader) for _ in range(readers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies


def describe(name: str, latencies: list[float]) -> float:
    median = statistics.median(latencies)
    p95 = statistics.quantiles(latencies, n=20)[18]
    print(f"{name:<28} median {median * 1000:8.1f} ms   p95 {p95 * 1000:8.1f} ms   ({len(latencies)} requests)")
    return median


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=40)
    parser.add_argument("--readers", type=int, default=50)
    parser.add_argument("--requests", type=int, default=20)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-list-jobs-"))
    try:
        populate(work / "data", args.jobs)
        proc, base = start_server(work)
        try:
            api = f"{base}/api/v1"
            listed = httpx.get(f"{api}/jobs", timeout=60).json()["jobs"]
            assert len(listed) == args.jobs, len(listed)
            print(f"{args.jobs} jobs, {args.readers} concurrent readers, {args.requests} requests each")
            jobs = describe(f"GET /jobs ({args.jobs} rows)", hammer(f"{api}/jobs", args.readers, args.requests))
            health = describe("GET /health", hammer(f"{api}/health", args.readers, args.requests))
            one = describe("GET /jobs?limit=1", hammer(f"{api}/jobs?limit=1", args.readers, args.requests))
            print(f"ratio /jobs to /health (medians): {jobs / health:.2f}")
            print(f"one row, under this load: {(jobs - one) / (args.jobs - 1) * 1000:.2f} ms")
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(60)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
