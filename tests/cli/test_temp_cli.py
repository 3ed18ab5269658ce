"""Tests for ``langflix temp status|sweep``, run as real subprocesses.

The commands are what an operator types after a crash, so they are exercised the
same way: ``python -m langflix`` (and the installed ``langflix`` script) against
a base dir under ``tmp_path``, with a real live child and real dead sessions.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.temp import dead_session

from langflix.temp import OWNER_FILE, OwnerInfo

_LIVE_CHILD = """
import os, sys, time
from langflix.utils.temp_file_manager import TempFileManager
m = TempFileManager(base_dir=sys.argv[1])
with m.scope("job-7") as job:
    job.new_file(suffix=".bin").write_bytes(b"L" * 300000)
    print(os.getpid(), m.session_dir, flush=True)
    time.sleep(120)
"""


@pytest.fixture
def base(tmp_path: Path) -> Path:
    return tmp_path / "tmp"


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, str]]:
    # A wide, colourless console so the table is not wrapped; and a default temp
    # dir inside tmp_path in case a command ever falls back to it.
    default = tmp_path / "default-temp"
    environ = dict(os.environ, COLUMNS="200", NO_COLOR="1", TERM="dumb", LANGFLIX_TEMP_DIR=str(default))
    yield environ
    assert not default.exists() or not any(default.iterdir()), "a command wrote to the default temp dir"


@pytest.fixture
def live_child(base: Path) -> Iterator[tuple[int, Path]]:
    proc = subprocess.Popen([sys.executable, "-c", _LIVE_CHILD, str(base)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        pid, session = proc.stdout.readline().split()
        yield int(pid), Path(session)
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()  # type: ignore[union-attr]


def langflix(env: dict[str, str], *args: str, expect: int = 0) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "langflix", *args], capture_output=True, text=True, env=env, timeout=60
    )
    assert result.returncode == expect, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def _dead_session(base: Path, size: int) -> Path:
    return dead_session(base, files={"clip.mkv": size})


def _rows(output: str) -> dict[str, list[str]]:
    """Table rows keyed by session name: [state, pid, host, age, bytes]."""
    rows = {}
    for line in output.splitlines():
        cells = [c.strip() for c in re.split(r"[│┃|]", line) if c.strip()]
        if len(cells) == 6 and "langflix_" in cells[1]:
            rows[cells[1]] = [cells[0], *cells[2:]]
    return rows


def test_status_and_sweep_when_nothing_exists_yet(base: Path, env: dict[str, str]) -> None:
    out = langflix(env, "temp", "status", "--base-dir", str(base))
    assert f"Temp base dir: {base}" in out
    assert "does not exist yet" in out
    assert "No sessions" in out

    out = langflix(env, "temp", "sweep", "--dry-run", "--base-dir", str(base))
    assert "would reclaim 0 dead session(s), 0 bytes" in out
    out = langflix(env, "temp", "sweep", "--base-dir", str(base))
    assert "reclaimed 0 dead session(s), 0 bytes" in out
    assert not base.exists(), "looking must not create the base dir"


def test_status_of_an_existing_empty_base_dir_shows_free_disk(base: Path, env: dict[str, str]) -> None:
    base.mkdir()
    out = langflix(env, "temp", "status", "--base-dir", str(base))
    assert re.search(r"Free disk: [\d.]+ [KMGT]?i?B of [\d.]+ [KMGT]?i?B", out), out
    assert "No sessions" in out


def test_status_and_sweep_with_live_dead_and_garbage(
    base: Path, env: dict[str, str], live_child: tuple[int, Path]
) -> None:
    live_pid, live_session = live_child
    dead = [_dead_session(base, 100_000), _dead_session(base, 200_000)]
    garbage = base / f"langflix_garbage-{secrets.token_hex(8)}"
    garbage.mkdir()
    (garbage / "half.bin").write_bytes(b"G" * 5000)

    out = langflix(env, "temp", "status", "--base-dir", str(base))
    rows = _rows(out)
    assert set(rows) == {live_session.name, *(d.name for d in dead), garbage.name}, out
    assert rows[live_session.name][:3] == ["live", str(live_pid), socket.gethostname()]
    assert "KiB" in rows[live_session.name][4]  # ~293 KiB of job data
    for session in dead:
        owner = OwnerInfo.read(session)
        assert owner is not None and owner.pid != os.getpid()  # made by a process that died
        assert rows[session.name][:3] == ["dead", str(owner.pid), socket.gethostname()]
    assert rows[garbage.name][:2] == ["garbage", "?"]
    assert "3 tree(s) can be reclaimed" in out and "langflix temp sweep" in out

    expected = sum(p.stat().st_size for d in [*dead, garbage] for p in d.rglob("*") if p.is_file())
    before = sorted(p.name for p in base.iterdir())
    out = langflix(env, "temp", "sweep", "--dry-run", "--base-dir", str(base))
    assert f"would reclaim 2 dead session(s), {expected:,} bytes" in out, out
    assert "1 live session(s) left alone" in out and "finished 1 interrupted deletion(s)" in out
    assert sorted(p.name for p in base.iterdir()) == before

    out = langflix(env, "temp", "sweep", "--base-dir", str(base))
    assert f"reclaimed 2 dead session(s), {expected:,} bytes" in out, out
    assert "1 live session(s) left alone" in out
    assert [p.name for p in base.iterdir()] == [live_session.name]
    assert any(live_session.rglob("*.bin")), "the live session lost files"

    out = langflix(env, "temp", "status", "--base-dir", str(base))
    assert list(_rows(out)) == [live_session.name]
    assert "can be reclaimed" not in out


def test_a_containers_dead_session_is_reclaimed_whatever_its_hostname(base: Path, env: dict[str, str]) -> None:
    # Another hostname (a container of this machine) with the same boot id: the
    # lock vouches, so the sweep reclaims it at once, with or without --min-age.
    session = _dead_session(base, 10)
    owner = session / OWNER_FILE
    record = json.loads(owner.read_text())
    record["host"] = "render-02.example"
    owner.write_text(json.dumps(record))
    rows = _rows(langflix(env, "temp", "status", "--base-dir", str(base)))
    assert rows[session.name][:3] == ["dead", str(record["pid"]), "render-02.example"]
    out = langflix(env, "temp", "sweep", "--min-age", "3600", "--base-dir", str(base))
    assert "reclaimed 1 dead session(s)" in out and "kept" not in out
    assert not session.exists()


def test_installed_langflix_script_runs_the_same_commands(base: Path, env: dict[str, str]) -> None:
    script = Path(sys.executable).parent / "langflix"
    if not script.exists():
        pytest.skip(f"no installed langflix script beside {sys.executable}")
    _dead_session(base, 10)
    result = subprocess.run(
        [str(script), "temp", "sweep", "--base-dir", str(base)], capture_output=True, text=True, env=env, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "reclaimed 1 dead session(s)" in result.stdout
    assert list(base.iterdir()) == []


def test_prefix_option_limits_the_sweep(base: Path, env: dict[str, str]) -> None:
    ours = _dead_session(base, 10)
    theirs = dead_session(base, "otherapp_")
    out = langflix(env, "temp", "sweep", "--prefix", "otherapp_", "--base-dir", str(base))
    assert "reclaimed 1 dead session(s)" in out
    assert ours.exists() and not theirs.exists()


@pytest.mark.parametrize("command", ["status", "sweep"])
def test_an_invalid_temp_setting_is_reported_by_name_without_a_traceback(env: dict[str, str], command: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "langflix", "temp", command],
        capture_output=True,
        text=True,
        env=dict(env, LANGFLIX_TEMP_MAX_BYTES="abc"),
        timeout=60,
    )
    assert result.returncode == 1
    assert "error: LANGFLIX_TEMP_MAX_BYTES: must be an integer, got 'abc'" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_sweep_of_a_base_dir_others_may_rewrite_is_refused_in_one_line(tmp_path: Path, env: dict[str, str]) -> None:
    base = tmp_path / "open-to-all"
    base.mkdir()
    base.chmod(0o777)
    (base / "langflix_session-1-0123456789ab").mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "langflix", "temp", "sweep", "--base-dir", str(base)],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 1
    assert "error: the temp base dir" in result.stderr and "chmod o-w" in result.stderr
    assert "Traceback" not in result.stderr
    assert (base / "langflix_session-1-0123456789ab").is_dir()


def test_status_scaled_out_lists_the_shared_staging_with_owner_and_age(tmp_path: Path, env: dict[str, str]) -> None:
    from support.redis_server import redis_server

    from langflix.api.scale.connection import connect
    from langflix.api.scale.leases import Lease
    from langflix.temp import LeasedArea, ResumableUploads, TempFileManager, write_stream

    staging = tmp_path / "shared" / "staging"
    areas = {}
    for job in ("heldjob", "gonejob"):
        area = LeasedArea(staging, job)
        write_stream(area, [b"v" * 2048], suffix=".mp4")
        area.handover()
        areas[job] = area.path
    with TempFileManager(base_dir=tmp_path / "api-temp") as manager:
        upload = ResumableUploads(manager, base_dir=staging).create(1000, "filename ZXAubXA0")
    with redis_server(tmp_path / "redis") as redis:
        client = connect(redis.url, patient=False)
        Lease(client, redis.url, "heldjob", 60, "worker@elsewhere:1").take()  # a worker holds it; gonejob's is gone
        scaled = env | {"LANGFLIX_REDIS_URL": redis.url, "LANGFLIX_SHARED_DIR": str(tmp_path / "shared")}
        done = subprocess.run(
            [sys.executable, "-m", "langflix", "temp", "status"], env=scaled, capture_output=True, text=True, timeout=60
        )
        client.close()
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert f"Shared staging: {staging}" in out
    rows = {}
    for line in out.splitlines():
        cells = [c.strip() for c in re.split(r"[│┃|]", line) if c.strip()]
        if len(cells) == 6 and cells[2].startswith("langflix_"):
            rows[cells[2]] = cells
    held, gone = rows[areas["heldjob"].name], rows[areas["gonejob"].name]
    maker = f"made by pid {os.getpid()} on {socket.gethostname()}"
    assert held[:2] == ["live", "lease"] and held[3] == f"lease heldjob, {maker}"
    assert gone[:2] == ["expired", "lease"] and gone[3] == f"lease gonejob, {maker}"
    assert re.fullmatch(r"[\d.]+[smhd]", held[4]) and held[5].endswith("KiB")  # 2 KiB of video and its .owner
    up = rows[f"langflix_upload-{upload.id}"]
    assert up[:2] == ["live", "upload"] and up[3].startswith("expiry ")
    assert "1 area(s) can be reclaimed: run langflix temp sweep --shared" in out
