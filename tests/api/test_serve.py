"""``langflix serve`` as a real subprocess: SIGKILL mid-job then restart, SIGTERM/Ctrl-C mid-job.

Each server runs in its own session (process group) with its own LANGFLIX
temp/data/output dirs under ``tmp_path``; killing the group is how a crash of
the whole service (server and its ffmpeg children) is staged.
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
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from langflix.api.runner import SHUTDOWN_REASON
from langflix.api.store import INTERRUPTED_REASON, JobStore

from .helpers import Episode, processes_in_group, upload_files

pytestmark = pytest.mark.slow

_LAUNCH = "import langflix.cli.serve; from langflix.cli import app; app()"


@dataclass
class ServerProcess:
    proc: subprocess.Popen[str]
    base_url: str
    root: Path
    log: list[str] = field(default_factory=list)

    @property
    def api(self) -> str:
        return f"{self.base_url}/api/v1"

    @property
    def temp_dir(self) -> Path:
        return self.root / "temp"


def spawn_server(root: Path, *extra: str) -> ServerProcess:
    """``langflix serve`` on a free port with its dirs under ``root``; ``extra``: more CLI options."""
    env = dict(os.environ)
    env.update(
        LANGFLIX_TEMP_DIR=str(root / "temp"),
        LANGFLIX_DATA_DIR=str(root / "data"),
        LANGFLIX_OUTPUT_DIR=str(root / "out"),
        LANGFLIX_MIN_FREE_BYTES="0",
        LANGFLIX_WORKERS="3",  # overridden by --workers below
        PYTHONUNBUFFERED="1",
    )
    (root / "temp").mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [sys.executable, "-c", _LAUNCH, "serve", "--port", "0", "--workers", "1", "--log-level", "info", *extra],
        env=env,
        cwd=root,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: killpg reaches its ffmpeg too
    )
    lines: queue.Queue[str] = queue.Queue()
    log: list[str] = []

    def pump() -> None:  # keep draining stderr so the server never blocks on a full pipe
        assert proc.stderr is not None
        for line in proc.stderr:
            log.append(line)
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + 60
    while True:
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            proc.kill()
            raise AssertionError("server did not start:\n" + "".join(log)) from None
        match = re.search(r"(?:Uvicorn running|LangFlix serving) on (http://127\.0\.0\.1:\d+)", line)
        if match:
            return ServerProcess(proc, match.group(1), root, log)


@pytest.fixture
def spawned() -> Iterator[list[ServerProcess]]:
    servers: list[ServerProcess] = []
    yield servers
    for server in servers:  # whatever a failed test left: kill the whole group
        if server.proc.poll() is None:
            os.killpg(server.proc.pid, signal.SIGKILL)
            server.proc.wait(10)
        deadline = time.monotonic() + 5
        while processes_in_group(server.proc.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert processes_in_group(server.proc.pid) == [], "processes left in the server's group"


def submit_and_wait_running(server: ServerProcess, episode: Episode) -> str:
    """Submit a job and return once it is encoding (an ffmpeg child in the group)."""
    with httpx.Client(timeout=60) as client:
        response = client.post(f"{server.api}/jobs", files=upload_files(episode), data={"max_expressions": "2"})
        assert response.status_code == 202, response.text
        job_id = response.json()["job_id"]
        deadline = time.monotonic() + 60
        while not any(comm == "ffmpeg" for _, comm in processes_in_group(server.proc.pid)):
            job = client.get(f"{server.api}/jobs/{job_id}").json()
            assert job["status"] in ("queued", "running"), job
            assert time.monotonic() < deadline, "the job never started encoding"
            time.sleep(0.02)
    return job_id


def session_dirs(temp_dir: Path) -> list[Path]:
    return sorted(p for p in temp_dir.iterdir() if p.name.startswith("langflix_session-"))


def tree_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def test_sigkill_mid_job_then_restart(tmp_path: Path, episode: Episode, spawned: list[ServerProcess]) -> None:
    first = spawn_server(tmp_path)
    spawned.append(first)
    job_id = submit_and_wait_running(first, episode)
    [dead_session] = session_dirs(first.temp_dir)
    assert tree_bytes(dead_session) > 0  # the upload, at least

    os.killpg(first.proc.pid, signal.SIGKILL)  # the server and its ffmpeg, no cleanup at all
    assert first.proc.wait(10) == -signal.SIGKILL
    assert dead_session.is_dir() and tree_bytes(dead_session) > 0  # the debris is really there

    second = spawn_server(tmp_path)
    spawned.append(second)
    with httpx.Client(timeout=30) as client:
        job = client.get(f"{second.api}/jobs/{job_id}").json()
        assert (job["status"], job["error"]) == ("failed", INTERRUPTED_REASON)
        health = client.get(f"{second.api}/health").json()
    assert health["queue"]["workers"] == 1  # --workers won over LANGFLIX_WORKERS
    assert health["temp"]["reclaimed_at_start"]["sessions"] == 1
    assert health["temp"]["reclaimed_at_start"]["bytes"] > 0
    assert not dead_session.exists()
    [live] = session_dirs(second.temp_dir)
    assert [p.name for p in live.iterdir()] == [".owner"]
    assert sorted(p.name for p in second.temp_dir.iterdir()) == [live.name]  # no garbage- left

    second.proc.send_signal(signal.SIGTERM)
    assert second.proc.wait(30) == 0, "".join(second.log)
    assert list(second.temp_dir.iterdir()) == []


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP], ids=["SIGTERM", "SIGINT", "SIGHUP"])
def test_signal_mid_job_exits_cleanly(
    tmp_path: Path, episode: Episode, spawned: list[ServerProcess], signum: int
) -> None:
    server = spawn_server(tmp_path)
    spawned.append(server)
    job_id = submit_and_wait_running(server, episode)

    server.proc.send_signal(signum)  # to the server only, as systemd or Ctrl-C would
    assert server.proc.wait(30) == 0, "".join(server.log)
    assert processes_in_group(server.proc.pid) == []  # its ffmpeg was stopped, not orphaned
    assert list(server.temp_dir.iterdir()) == []
    assert "Traceback" not in "".join(server.log), "".join(server.log)
    with JobStore(tmp_path / "data") as store:  # the lock was released at exit
        job = store.get(job_id)
    assert (job.status, job.error) == ("failed", SHUTDOWN_REASON)
    assert not (tmp_path / "out" / job_id).exists()
