"""``langflix worker`` as a real subprocess: what it refuses, and what it reclaims before its first job."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from support.redis_server import free_port, redis_server
from support.temp import dead_session

from langflix.temp import LeasedArea, write_stream


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("LANGFLIX_")}
    return subprocess.run(
        [sys.executable, "-m", "langflix", "-v", *args], env=base | env, capture_output=True, text=True, timeout=120
    )


def test_without_redis_it_says_what_to_set(tmp_path: Path) -> None:
    done = _run(["worker"], {"LANGFLIX_TEMP_DIR": str(tmp_path)})
    assert done.returncode == 3 and "LANGFLIX_REDIS_URL is not set" in done.stderr
    nobody = f"redis://127.0.0.1:{free_port()}/0"
    done = _run(["worker"], {"LANGFLIX_TEMP_DIR": str(tmp_path), "LANGFLIX_REDIS_URL": nobody,
                             "LANGFLIX_SHARED_DIR": str(tmp_path / "s")})  # fmt: skip
    assert done.returncode == 3 and f"cannot reach Redis at {nobody}" in done.stderr
    assert "Traceback" not in done.stderr


def test_at_start_it_reclaims_this_hosts_dead_sessions_and_abandoned_staging(tmp_path: Path) -> None:
    temp, shared = tmp_path / "temp", tmp_path / "shared"
    temp.mkdir()
    dead = dead_session(temp, files={"clip.mp4": 4096})
    area = LeasedArea(shared / "staging", "gonejob")  # a half upload whose server died: no lease, no job
    write_stream(area, [b"v" * 2048], suffix=".mp4")
    area.handover()
    with redis_server(tmp_path / "redis") as redis:
        done = _run(
            ["worker", "--burst", "--queues", "langflix,other"],
            {"LANGFLIX_TEMP_DIR": str(temp), "LANGFLIX_REDIS_URL": redis.url, "LANGFLIX_SHARED_DIR": str(shared)},
        )
    assert done.returncode == 0, done.stderr
    assert not dead.exists() and not area.path.exists()
    assert "worker start: reclaimed 1 dead session(s)" in done.stderr
    assert "worker start: reclaimed 1 abandoned staging area(s)" in done.stderr
    assert list(temp.iterdir()) == []  # and its own session is gone with it
