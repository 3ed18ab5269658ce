"""A scaled-out LangFlix on this machine: a real Redis, ``langflix serve`` and ``langflix worker`` subprocesses.

Each worker gets its own local temp dir (as on its own host); all of them and
the API share one ``LANGFLIX_SHARED_DIR``. Leases are short
(``LANGFLIX_LEASE_TTL``) so a lost holder is found in seconds. Every process
runs in its own session (process group) and is stopped by its pid; a work
horse runs in a group of its own (RQ's ``setpgrp``), found through
:func:`horse_of`.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from support.procs import processes
from support.redis_server import RedisServer

__all__ = ["Cluster", "Proc", "horse_of", "staging_areas", "temp_entries"]

LEASE_TTL = "4"
SMALL_VIDEO = {
    "LANGFLIX_VIDEO_WIDTH": "320",
    "LANGFLIX_VIDEO_HEIGHT": "240",
    "LANGFLIX_VIDEO_FPS": "15",
    "LANGFLIX_VIDEO_PRESET": "ultrafast",
}


@dataclass
class Proc:
    """A LangFlix subprocess and every line of its stderr so far."""

    name: str
    proc: subprocess.Popen[str]
    temp_dir: Path
    log: list[str] = field(default_factory=list)
    lines: queue.Queue[str] = field(default_factory=queue.Queue)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def text(self) -> str:
        return "".join(self.log)

    def wait_for_line(self, pattern: str, timeout: float = 60.0) -> re.Match[str]:
        compiled = re.compile(pattern)
        for line in self.log:
            if (match := compiled.search(line)) is not None:
                return match
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                tail = self.text()[-4000:]
                raise AssertionError(f"{self.name}: no line like {pattern!r} in {timeout} s:\n{tail}") from None
            if (match := compiled.search(line)) is not None:
                return match

    def count(self, pattern: str) -> int:
        compiled = re.compile(pattern)
        return sum(1 for line in self.log if compiled.search(line))

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int | None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            try:
                return self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                return self.proc.wait(10)
        return self.proc.returncode


def horse_of(worker: Proc) -> int | None:
    """The pid of ``worker``'s work horse, if it has one right now."""
    for p in processes():
        if p.ppid == worker.pid and p.state != "Z":
            return p.pid
    return None


def encoding_under(pid: int) -> bool:
    """Whether an ffmpeg encoding with libx264 runs as a child of ``pid``."""
    for p in processes():
        if p.ppid == pid and p.comm == "ffmpeg":
            try:
                if b"libx264" in Path(f"/proc/{p.pid}/cmdline").read_bytes():
                    return True
            except OSError:
                continue
    return False


def temp_entries(temp_dir: Path, live: Iterable[int] = ()) -> list[Path]:
    """Everything under a temp dir but the sessions of the pids in ``live`` (and their .owner)."""
    keep = tuple(f"langflix_session-{pid}-" for pid in live)
    found = []
    for path in temp_dir.rglob("*"):
        top = path.relative_to(temp_dir).parts[0]
        if keep and top.startswith(keep) and (path.parent == temp_dir or path.name == ".owner"):
            continue
        found.append(path)
    return found


def staging_areas(shared: Path) -> list[Path]:
    staging = shared / "staging"
    return sorted(staging.iterdir()) if staging.is_dir() else []


class Cluster:
    """One Redis, API servers and workers around one shared dir under ``root``."""

    def __init__(self, root: Path, redis: RedisServer, **settings: str) -> None:
        self.root, self.redis = root, redis
        self.shared = root / "shared"
        self.settings = {"LANGFLIX_LEASE_TTL": LEASE_TTL, **SMALL_VIDEO, **settings}
        self.procs: list[Proc] = []
        self.api_url = ""

    def env(self, temp_dir: Path, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LANGFLIX_")}
        env.update(
            {
                "LANGFLIX_REDIS_URL": self.redis.url,
                "LANGFLIX_SHARED_DIR": str(self.shared),
                "LANGFLIX_TEMP_DIR": str(temp_dir),
                "LANGFLIX_DATA_DIR": str(self.root / "data"),
                "LANGFLIX_MIN_FREE_BYTES": "0",
                "PYTHONUNBUFFERED": "1",
                **self.settings,
            }
            | extra
        )
        temp_dir.mkdir(parents=True, exist_ok=True)
        return env

    def spawn(self, name: str, args: list[str], temp_dir: Path, **extra: str) -> Proc:
        proc = subprocess.Popen(
            [sys.executable, "-m", "langflix", "-v", *args],
            env=self.env(temp_dir, **extra),
            cwd=self.root,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        started = Proc(name, proc, temp_dir)

        def pump() -> None:
            assert proc.stderr is not None
            for line in proc.stderr:
                started.log.append(line)
                started.lines.put(line)

        threading.Thread(target=pump, daemon=True).start()
        self.procs.append(started)
        return started

    def start_api(self, name: str = "api") -> Proc:
        api = self.spawn(name, ["serve", "--port", "0"], self.root / f"{name}-temp")
        self.api_url = api.wait_for_line(r"Uvicorn running on (http://127\.0\.0\.1:\d+)").group(1) + "/api/v1"
        return api

    def start_worker(self, name: str, temp_dir: Path | None = None) -> Proc:
        worker = self.spawn(name, ["worker"], temp_dir or self.root / f"{name}-temp")
        worker.wait_for_line(r"subscribing to channel")
        return worker

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.api_url, timeout=60)

    def submit(self, client: httpx.Client, episode: Any, **fields: str) -> str:
        files = {
            "video": ("episode.mp4", episode.video.read_bytes(), "video/mp4"),
            "subtitle": ("episode.srt", episode.subtitles.read_bytes(), "application/x-subrip"),
        }
        response = client.post("/jobs", files=files, data={"max_expressions": "1", "repeat": "1", **fields})
        assert response.status_code == 202, response.text + self.logs()
        return str(response.json()["job_id"])

    def logs(self) -> str:
        return "".join(f"\n--- {p.name}\n{p.text()[-3000:]}" for p in self.procs)

    def wait(self, client: httpx.Client, job_id: str, statuses: tuple[str, ...], timeout: float = 120.0) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            job = client.get(f"/jobs/{job_id}").json()
            if job["status"] in statuses:
                return job
            if time.monotonic() > deadline:
                raise AssertionError(f"job {job_id} still {job['status']} after {timeout} s: {job}{self.logs()}")
            time.sleep(0.1)

    def stop_all(self) -> None:
        for proc in self.procs:
            proc.stop()
