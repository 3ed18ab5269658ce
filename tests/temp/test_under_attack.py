"""The temp life cycle as an attacker tries it: SIGKILLs at random points, forks mid-build, containers.

Each test is bounded (a fixed number of kills or forks) and uses real processes
killed with real signals; afterwards the disk must say that nothing was lost
(every published file complete, no user file touched) and nothing was left
(no session, no staging dir beside a destination, no lock held by a stranger).
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from support.zygote import Zygote

from langflix.temp import OwnerInfo, list_sessions, sweep_orphans

# A worker that never stops making, persisting and closing: a job's temp files,
# a video published across filesystems (or not), a published tree with its count.
_WORKER = """
import os, random
from pathlib import Path
from langflix.temp import TempFileManager

def work(base, outs, seed):
    rng = random.Random(seed)
    manager = TempFileManager(base_dir=base)
    n = 0
    while True:
        n += 1
        with manager.scope("job") as scope:
            for _ in range(rng.randint(1, 4)):
                scope.new_file(suffix=".bin").write_bytes(os.urandom(rng.randint(0, 4096)))
            size = rng.choice([64 * 1024, 4 * 1024 * 1024])
            video = scope.new_file(suffix=".mp4")
            video.write_bytes(bytes([seed % 251]) * size)
            out = Path(rng.choice(outs))
            scope.persist(video, out / f"{seed}-{n}-{size}.mp4")
            tree = scope.new_dir()
            count = rng.randint(1, 30)
            for i in range(count):
                (tree / f"{i}.bin").write_bytes(b"t" * 2000)
            (tree / "count").write_text(str(count))
            scope.persist(tree, out / f"{seed}-{n}-tree")
"""

KILLS = 50


def _until(condition: Callable[[], bool], within: float) -> None:
    """Wait (polling) until ``condition()`` holds or ``within`` seconds pass."""
    deadline = time.monotonic() + within
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.0002)


def _published_by(seed: int, *outs: Path) -> int:
    """How many files and trees worker ``seed`` has published so far (its staging dirs are hidden)."""
    return sum(name.startswith(f"{seed}-") for out in outs for name in os.listdir(out))


def _check_published(out: Path) -> int:
    """Assert every published file and tree under ``out`` is complete; remove them; how many."""
    seen = 0
    for entry in out.iterdir():
        if entry.name == "user-file":
            continue
        assert not entry.name.endswith(".partial"), f"a staging dir survived the sweep: {entry}"
        seed, _n, rest = entry.name.split("-", 2)
        if rest == "tree":
            count = int((entry / "count").read_text())
            assert len(os.listdir(entry)) == count + 1, f"{entry} was published with part of its files"
            shutil.rmtree(entry)
        else:
            size = int(rest.removesuffix(".mp4"))
            data = entry.read_bytes()
            assert data == bytes([int(seed) % 251]) * size, f"{entry} was published half-written"
            entry.unlink()
        seen += 1
    return seen


def test_fifty_sigkills_at_random_points_lose_nothing_and_leave_nothing(
    tmp_path: Path, tmpfs: Callable[..., Path]
) -> None:
    base = tmp_path / "tmp"
    same_fs = tmp_path / "out"
    cross_fs = tmpfs(256 * 1024 * 1024)
    same_fs.mkdir()
    for where in (same_fs, cross_fs):
        (where / "user-file").write_text("the user's")
    rng = random.Random(1616)
    staged_at_kill = published = promised = 0
    with Zygote(_WORKER, tmp_path) as zygote:
        for seed in range(KILLS):
            pid = zygote.fork(base=str(base), outs=[str(same_fs), str(cross_fs), str(cross_fs)], seed=seed)
            # Kill points by the worker's progress, not by the clock, so a loaded
            # machine moves them no more than an idle one: half as a staging dir
            # appears beside a destination (mid-copy), half after 0 to 3
            # publications (0: in the session's set-up) plus up to 50 ms.
            if seed % 2:
                _until(lambda: any(name.endswith(".partial") for name in os.listdir(cross_fs)), 5.0)
            else:
                wanted = rng.randint(0, 3)
                _until(lambda seed=seed, wanted=wanted: _published_by(seed, same_fs, cross_fs) >= wanted, 30.0)
                promised += wanted
                time.sleep(rng.uniform(0.0, 0.05))
            os.kill(pid, signal.SIGKILL)
            assert zygote.wait(pid) == -signal.SIGKILL, "the worker died before it was killed"
            staged_at_kill += sum(p.name.endswith(".partial") for p in cross_fs.iterdir())
            report = sweep_orphans(base)  # what the next start does
            assert report.errors == [] and report.skipped_live == 0, report
            # Only a set-up the kill interrupted may stay, unlocked, for its grace period.
            left = list_sessions(base)
            assert all(info.state == "building" for info in left), f"the sweep left {left}"
            published += _check_published(same_fs) + _check_published(cross_fs)
    an_hour_ago = time.time() - 3600
    for building in base.iterdir():  # past the grace (its heartbeat too), the next sweep takes them
        for path in (building, *building.iterdir()):
            os.utime(path, (an_hour_ago, an_hour_ago))
    sweep_orphans(base)
    assert list(base.iterdir()) == []
    for where in (same_fs, cross_fs):
        assert (where / "user-file").read_text() == "the user's"
    assert published >= promised > 0, "the workers published too little for the kills to mean anything"
    assert staged_at_kill > 0, "no kill landed mid-copy: the staging cleanup was never exercised"


# Threads build sessions without pause (and keep them, as long-lived jobs do)
# while the main thread forks children that hold on to whatever they
# inherited; then the parent is SIGKILLed with every session still its own.
_FORKS_DURING_BUILDS = """
import os, signal, sys, threading, time
from langflix.temp import TempFileManager

kept = []
forking = threading.Event()
forking.set()

def build():
    while forking.is_set() and len(kept) < 600:
        manager = TempFileManager(base_dir=sys.argv[1])
        manager.session_dir
        kept.append(manager)

for _ in range(2):
    threading.Thread(target=build, daemon=True).start()
kids = []
for _ in range(int(sys.argv[2])):
    pid = os.fork()
    if pid == 0:
        time.sleep(60)
        os._exit(0)
    kids.append(pid)
forking.clear()
print(" ".join(map(str, kids)), flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_children_forked_while_sessions_are_built_never_keep_them_alive(tmp_path: Path) -> None:
    base = tmp_path / "tmp"
    base.mkdir()
    parent = subprocess.Popen(
        [sys.executable, "-c", _FORKS_DURING_BUILDS, str(base), "150"], stdout=subprocess.PIPE, text=True
    )
    kids: list[int] = []
    try:
        assert parent.stdout is not None
        kids = [int(pid) for pid in parent.stdout.readline().split()]
        assert parent.wait(30) == -signal.SIGKILL
        assert len(kids) == 150
        # The parent is dead; its 300 children still run. A session any of them
        # holds the lock of would count as live and never be reclaimed.
        held = [info.path.name for info in list_sessions(base) if info.state == "live"]
        report = sweep_orphans(base)
        assert held == [] and report.skipped_live == 0, f"forked children keep {held} locked"
        # What may stay: a set-up the SIGKILL interrupted, left to its grace period (unlocked).
        left = [info for info in list_sessions(base)]
        assert all(info.state == "building" for info in left), left
    finally:
        for pid in kids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if parent.stdout is not None:
            parent.stdout.close()


# A session made inside another UTS namespace: same kernel, same filesystem, other hostname.
_IN_A_CONTAINER = """
import os, sys, time
from langflix.temp import TempFileManager
manager = TempFileManager(base_dir=sys.argv[1])
(manager.session_dir / "clip.bin").write_bytes(b"c" * 1000)
print(manager.session_dir, flush=True)
if sys.argv[2] == "die":
    os._exit(0)
time.sleep(60)
"""


def _in_a_container(base: Path, how: str) -> subprocess.Popen[str]:
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("another UTS namespace needs root and unshare(1); CI runs as root")
    return subprocess.Popen(
        ["unshare", "--uts", "--", "sh", "-c", 'hostname langflix-container && exec "$@"', "sh",
         sys.executable, "-c", _IN_A_CONTAINER, str(base), how],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip


def test_a_containers_session_is_judged_by_its_lock_not_its_hostname(tmp_path: Path) -> None:
    base = tmp_path / "tmp"
    living = _in_a_container(base, "live")
    try:
        assert living.stdout is not None
        live_session = Path(living.stdout.readline().strip())
        dying = _in_a_container(base, "die")
        out, _ = dying.communicate(timeout=30)
        dead_session = Path(out.strip())
        owner = OwnerInfo.read(dead_session)
        assert owner is not None and owner.host == "langflix-container" != socket.gethostname()
        states = {info.path: info.state for info in list_sessions(base)}
        assert states == {live_session: "live", dead_session: "dead"}
        report = sweep_orphans(base)
        assert (report.removed, report.skipped_live, report.skipped_unverifiable) == (1, 1, 0), report.summary()
        assert not dead_session.exists() and live_session.exists()
    finally:
        living.kill()
        living.wait(10)
        if living.stdout is not None:
            living.stdout.close()
    assert sweep_orphans(base).removed == 1 and list(base.iterdir()) == []
