"""Tests for ``langflix/temp/_sweep.py``: crash-safe reclamation with real, really killed processes.

Liveness is the kernel's flock, so these tests kill real children with SIGKILL
(no atexit, no signal handler runs) and check that the next sweep reclaims every
byte, that live sessions are never touched however old they look, and that
nothing which is not a session of the prefix is ever deleted.
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support.threads import Race, race

import langflix.temp._sweep as sweep_module
from langflix.temp import (
    OWNER_FILE,
    SweepReport,
    TempFileManager,
    close_temp_manager,
    get_temp_manager,
    list_sessions,
    sweep_orphans,
)
from langflix.temp._sessions import SessionLock

TEN_YEARS = 10 * 365 * 86400

# A child that fills nested scopes, reports what it wrote, then waits to be killed.
_WORKER = """
import json, os, sys, time
from langflix.temp import TempFileManager
m = TempFileManager(base_dir=sys.argv[1])
job = m.scope("job-1")
step = job.scope("clip")
deep = step.scope("deep")
written = 0
for area, n in ((m, 3), (job, 5), (step, 7), (deep, 2)):
    for i in range(n):
        data = os.urandom(1000 + 37 * i)
        area.new_file(suffix=".bin").write_bytes(data)
        written += len(data)
d = job.new_dir()
(d / "inner.bin").write_bytes(b"y" * 4096)
written += 4096
empty = step.new_file(suffix=".empty")
print(json.dumps({"pid": os.getpid(), "session": str(m.session_dir), "written": written}), flush=True)
time.sleep(120)
"""


class Children:
    """Starts worker children and guarantees none outlives the test."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[str]] = []

    def start(self, base: Path) -> tuple[subprocess.Popen[str], dict[str, object]]:
        proc = subprocess.Popen([sys.executable, "-c", _WORKER, str(base)], stdout=subprocess.PIPE, text=True)
        self.procs.append(proc)
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line, f"worker died early with {proc.wait()}"
        return proc, json.loads(line)

    def kill_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            if proc.stdout:
                proc.stdout.close()


@pytest.fixture
def children() -> Iterator[Children]:
    kids = Children()
    yield kids
    kids.kill_all()


@pytest.fixture
def base(tmp_path: Path) -> Path:
    path = tmp_path / "tmp"
    path.mkdir()
    return path


def _sigkill(proc: subprocess.Popen[str]) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(timeout=10) == -signal.SIGKILL


def _dead_session(base: Path, prefix: str = "langflix_", payload: int = 100) -> tuple[Path, int]:
    """A session exactly as a SIGKILLed owner leaves it; returns (path, bytes on disk)."""
    lock = SessionLock(base, prefix)
    sub = lock.path / "job-1-abc"
    sub.mkdir()
    (lock.path / "a.bin").write_bytes(b"a" * payload)
    (sub / "b.bin").write_bytes(b"b" * (payload + 1))
    lock.release(remove=False)
    return lock.path, 2 * payload + 1 + (lock.path / OWNER_FILE).stat().st_size


def _snapshot(root: Path) -> dict[str, tuple[int, float]]:
    return {str(p.relative_to(root)): (os.lstat(p).st_size, os.lstat(p).st_mtime) for p in root.rglob("*")}


def _rewrite_owner(session: Path, **changes: object) -> None:
    owner = session / OWNER_FILE
    record = json.loads(owner.read_text())
    record.update(changes)
    owner.write_text(json.dumps(record))


def _age(path: Path, seconds: float) -> None:
    old = time.time() - seconds
    os.utime(path, (old, old), follow_symlinks=False)


# -- SIGKILL -----------------------------------------------------------------


def test_sigkilled_child_is_reclaimed_to_the_last_byte(base: Path, children: Children) -> None:
    proc, info = children.start(base)
    session = Path(str(info["session"]))
    owner_bytes = (session / OWNER_FILE).stat().st_size

    # While it lives the sweep leaves it alone.
    live = sweep_orphans(base)
    assert (live.removed, live.skipped_live) == (0, 1)
    assert session.exists()

    _sigkill(proc)
    assert session.exists(), "SIGKILL ran cleanup? then this test proves nothing"
    report = sweep_orphans(base)
    assert report.removed == 1
    assert report.bytes_freed == int(info["written"]) + owner_bytes  # type: ignore[call-overload]
    assert report.errors == [] and report.skipped_live == 0
    assert list(base.iterdir()) == []


def test_new_manager_with_sweep_on_start_reclaims_killed_children(base: Path, children: Children) -> None:
    started = [children.start(base) for _ in range(3)]
    for proc, _info in started:
        _sigkill(proc)
    manager = TempFileManager(base_dir=base, sweep_on_start=True)
    try:
        assert manager.stats().orphans_reclaimed == 3
        assert list(base.iterdir()) == []  # the new manager's own session is made lazily
        manager.new_file().write_bytes(b"z")
        assert [p.name for p in base.iterdir()] == [manager.session_dir.name]
    finally:
        manager.close()
    assert list(base.iterdir()) == []


def test_live_session_is_never_touched_however_old(base: Path, children: Children) -> None:
    proc, info = children.start(base)
    session = Path(str(info["session"]))
    for path in [session, *session.rglob("*")]:
        _age(path, TEN_YEARS)
    before = _snapshot(session)

    for min_age in (0.0, 1.0, 3600.0):
        report = sweep_orphans(base, min_age=min_age)
        assert (report.removed, report.skipped_live, report.errors) == (0, 1, [])
    assert sweep_orphans(base, dry_run=True).removed == 0
    assert _snapshot(session) == before
    [status] = list_sessions(base, "langflix_")
    assert status.state == "live" and status.owner is not None and status.owner.pid == proc.pid

    _sigkill(proc)
    assert sweep_orphans(base).removed == 1
    assert list(base.iterdir()) == []


# -- racing sweepers ------------------------------------------------------------

_RACER = """
import json, os, sys, time
from dataclasses import asdict
from langflix.temp import sweep_orphans
go = sys.argv[2]
while not os.path.exists(go):
    time.sleep(0.0005)
report = sweep_orphans(sys.argv[1])
print(json.dumps({k: v for k, v in asdict(report).items() if k != "base_dir"}))
"""


def test_two_sweeper_processes_share_200_dead_sessions_exactly(base: Path, tmp_path: Path) -> None:
    total = sum(_dead_session(base)[1] for _ in range(200))
    go = tmp_path / "go"
    racers = [
        subprocess.Popen([sys.executable, "-c", _RACER, str(base), str(go)], stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    try:
        time.sleep(0.5)  # let both interpreters start and wait at the barrier
        go.touch()
        outs = [r.communicate(timeout=60) for r in racers]
    finally:
        for r in racers:
            if r.poll() is None:
                r.kill()
                r.wait()
    assert [r.returncode for r in racers] == [0, 0]
    reports = [json.loads(out) for out, _ in outs]
    assert sum(r["removed"] for r in reports) == 200
    assert sum(r["bytes_freed"] for r in reports) == total
    assert all(r["errors"] == [] for r in reports)
    # A sweeper mid-deletion holds the lock; the other must not report it as a live session.
    assert sum(r["skipped_live"] for r in reports) == 0
    assert list(base.iterdir()) == []


def test_two_sweeper_threads_released_by_a_barrier(base: Path) -> None:
    total = sum(_dead_session(base)[1] for _ in range(200))
    outcome: Race[SweepReport] = race(lambda: sweep_orphans(base), 2, timeout=60)
    reports = outcome.results
    assert outcome.errors == []
    assert sum(r.removed for r in reports) == 200
    assert sum(r.bytes_freed for r in reports) == total
    assert sum(r.skipped_live for r in reports) == 0
    assert all(r.errors == [] for r in reports)
    assert list(base.iterdir()) == []


# -- garbage left by a sweeper that died -------------------------------------------

# Stands in for a sweeper caught between its rename and the end of the delete:
# it holds LOCK_EX on a garbage- tree until killed.
_HOLDER = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY)
fcntl.flock(fd, fcntl.LOCK_EX)
print("locked", flush=True)
time.sleep(120)
"""


def test_garbage_of_a_dead_sweeper_is_finished_by_the_next_sweep(base: Path) -> None:
    session, nbytes = _dead_session(base)
    garbage = base / f"langflix_garbage-{secrets.token_hex(8)}"
    os.rename(session, garbage)
    (garbage / "a.bin").unlink()  # the dead sweeper got that far
    nbytes -= 100
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER, str(garbage)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        # Another sweeper is still on it: hands off, and it is not a "live session".
        report = sweep_orphans(base)
        assert garbage.exists()
        assert (report.garbage_finished, report.skipped_live, report.removed) == (0, 0, 0)
        [info] = list_sessions(base, "langflix_")
        assert info.path == garbage
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()  # type: ignore[union-attr]
    report = sweep_orphans(base)
    assert report.garbage_finished == 1 and report.removed == 0
    assert report.bytes_freed == nbytes
    assert "interrupted" in report.summary()
    assert list(base.iterdir()) == []


# -- things that are not our sessions --------------------------------------------


def test_entries_that_are_not_sessions_of_the_prefix_are_untouched(base: Path, tmp_path: Path) -> None:
    user = tmp_path / "user-data"
    user.mkdir()
    (user / "thesis.txt").write_text("years of work")
    other_prefix, _ = _dead_session(base, prefix="otherapp_")
    plain_file = base / "langflix_session-1-aaaaaaaaaaaa"
    plain_file.write_text("not a dir")
    link = base / "langflix_session-2-bbbbbbbbbbbb"
    link.symlink_to(user, target_is_directory=True)
    garbage_link = base / "langflix_garbage-cccccccccccccccc"
    garbage_link.symlink_to(user, target_is_directory=True)
    named_like_one = base / "langflix_session-notes"  # a user's dir that merely looks alike
    named_like_one.mkdir()
    (named_like_one / "keep.txt").write_text("mine")
    lookalike = base / "langflix_sessions_backup"
    lookalike.mkdir()
    stray = base / "langflix_abc.mkv"
    stray.write_bytes(b"v")
    for path in base.iterdir():
        _age(path, TEN_YEARS)
    before = _snapshot(base)
    user_before = _snapshot(user)

    report = sweep_orphans(base)
    assert (report.removed, report.garbage_finished, report.errors) == (0, 0, [])
    assert sweep_orphans(base, min_age=1.0).removed == 0
    assert _snapshot(base) == before
    assert _snapshot(user) == user_before
    assert {i.path.name for i in list_sessions(base, "langflix_")} == set()

    # The other prefix's dead session is that prefix's to sweep.
    assert sweep_orphans(base, "otherapp_").removed == 1
    assert not other_prefix.exists()
    assert _snapshot(user) == user_before


def test_symlinks_inside_a_dead_session_are_unlinked_not_followed(base: Path, tmp_path: Path) -> None:
    user = tmp_path / "user-data"
    user.mkdir()
    (user / "video.mkv").write_bytes(b"m" * 1000)
    session, nbytes = _dead_session(base)
    (session / "to-dir").symlink_to(user, target_is_directory=True)
    (session / "job-1-abc" / "to-file").symlink_to(user / "video.mkv")
    report = sweep_orphans(base)
    assert report.removed == 1 and not report.errors
    assert (user / "video.mkv").read_bytes() == b"m" * 1000
    assert list(base.iterdir()) == []


# -- sessions the lock cannot vouch for ----------------------------------------------


@pytest.fixture
def network_filesystem(monkeypatch: pytest.MonkeyPatch) -> None:
    """The base dir counts as a network filesystem (no NFS server here: its classification is patched)."""
    monkeypatch.setattr(sweep_module, "is_network_filesystem", lambda path: True)


def test_foreign_host_session_kept_unless_stale_by_heartbeat(base: Path, network_filesystem: None) -> None:
    session, nbytes = _dead_session(base)
    _rewrite_owner(session, host="render-02.example", boot_id="0000-other-boot")
    nbytes = sum(p.stat().st_size for p in session.rglob("*") if p.is_file())

    report = sweep_orphans(base)  # no min_age: never reclaimed
    assert session.exists()
    assert (report.removed, report.skipped_unverifiable) == (0, 1)
    assert "kept" in report.summary() and "min-age" in report.summary()

    report = sweep_orphans(base, min_age=3600)  # heartbeat is fresh
    assert session.exists() and report.skipped_unverifiable == 1

    _age(session / OWNER_FILE, 7200)
    dry = sweep_orphans(base, min_age=3600, dry_run=True)
    assert session.exists() and (dry.removed, dry.stale_removed) == (1, 1)
    report = sweep_orphans(base, min_age=3600)
    assert not session.exists()
    assert (report.removed, report.stale_removed, report.bytes_freed) == (1, 1, nbytes)
    assert "stale by heartbeat" in report.summary()


def test_locked_foreign_host_session_survives_min_age(
    base: Path, children: Children, network_filesystem: None
) -> None:
    """A held lock settles it: min_age never applies to a session whose owner is alive."""
    proc, info = children.start(base)
    session = Path(str(info["session"]))
    _rewrite_owner(session, host="render-02.example", boot_id="0000-other-boot")
    report = sweep_orphans(base, min_age=3600)
    assert session.exists() and report.skipped_live == 1  # still locked: that settles it


def test_session_from_an_earlier_boot_of_this_host_is_dead(base: Path) -> None:
    """After a power cut the old sessions carry the previous boot id: provably dead."""
    session, nbytes = _dead_session(base)
    _rewrite_owner(session, boot_id="11111111-2222-3333-4444-555555555555")
    nbytes = sum(p.stat().st_size for p in session.rglob("*") if p.is_file())
    report = sweep_orphans(base)
    assert (report.removed, report.stale_removed, report.bytes_freed) == (1, 0, nbytes)
    assert not session.exists()


def test_enolck_makes_the_lock_unusable_and_min_age_decides(base: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """flock on some NFS mounts fails with ENOLCK; that cannot be produced here, so it is simulated."""
    session, _ = _dead_session(base)
    real_flock = fcntl.flock

    def no_locks(fd: int, operation: int) -> None:
        if operation & fcntl.LOCK_EX:
            raise OSError(errno.ENOLCK, "No locks available")
        real_flock(fd, operation)

    monkeypatch.setattr(fcntl, "flock", no_locks)
    report = sweep_orphans(base)
    assert session.exists() and report.skipped_unverifiable == 1 and report.removed == 0
    _age(session / OWNER_FILE, 7200)
    report = sweep_orphans(base, min_age=3600)
    assert not session.exists() and (report.removed, report.stale_removed) == (1, 1)


# -- dry run, empty and missing base dirs -------------------------------------------------


def test_dry_run_deletes_nothing_and_reports_what_it_would(base: Path) -> None:
    sessions = [_dead_session(base) for _ in range(3)]
    garbage = base / f"langflix_garbage-{secrets.token_hex(8)}"
    garbage.mkdir()
    (garbage / "left.bin").write_bytes(b"g" * 50)
    before = _snapshot(base)

    dry = sweep_orphans(base, dry_run=True)
    assert _snapshot(base) == before
    assert (dry.removed, dry.garbage_finished, dry.dry_run) == (3, 1, True)
    assert dry.bytes_freed == sum(n for _, n in sessions) + 50
    assert dry.summary().startswith("would reclaim 3")
    # Nothing is left locked by the dry run either.
    real = sweep_orphans(base)
    assert (real.removed, real.garbage_finished, real.bytes_freed) == (3, 1, dry.bytes_freed)
    assert list(base.iterdir()) == []


def test_missing_or_empty_base_dir_is_not_an_error(tmp_path: Path) -> None:
    missing = tmp_path / "does-not-exist"
    report = sweep_orphans(missing)
    assert (report.removed, report.errors) == (0, [])
    assert not missing.exists(), "a sweep must not create the base dir"
    assert list_sessions(missing, "langflix_") == []


# -- get_temp_manager ------------------------------------------------------------


@pytest.fixture
def default_manager_env(base: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The process-wide manager, made afresh under ``base`` and closed afterwards."""
    monkeypatch.setenv("LANGFLIX_TEMP_DIR", str(base))
    monkeypatch.delenv("LANGFLIX_TEMP_MAX_BYTES", raising=False)
    monkeypatch.delenv("LANGFLIX_MIN_FREE_BYTES", raising=False)
    close_temp_manager()
    yield
    close_temp_manager()


def test_get_temp_manager_sweeps_once_and_logs_at_info(
    base: Path, default_manager_env: None, caplog: pytest.LogCaptureFixture
) -> None:
    total = sum(_dead_session(base)[1] for _ in range(3))
    caplog.set_level(logging.INFO, logger="langflix.temp")

    manager = get_temp_manager()
    assert manager.base_dir == base
    assert manager.stats().orphans_reclaimed == 3
    assert list(base.iterdir()) == []
    infos = [r for r in caplog.records if r.levelno == logging.INFO and r.name == "langflix.temp"]
    assert infos, "the start-up sweep logged nothing at INFO"
    assert all("reclaimed 3 dead session(s)" in r.getMessage() for r in infos)
    assert any(f"{total:,} bytes" in r.getMessage() for r in infos)

    # Later calls return the same manager and do not sweep again.
    later, _ = _dead_session(base)
    caplog.clear()
    assert get_temp_manager() is manager
    assert later.exists()
    assert not [r for r in caplog.records if "sweep" in r.getMessage()]


def test_sweep_on_start_in_a_clean_dir_is_quiet_and_cheap(base: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="langflix.temp")
    with TempFileManager(base_dir=base, sweep_on_start=True) as manager:
        assert manager.stats().orphans_reclaimed == 0
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_other_users_sessions_are_skipped_quietly(base: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """On a shared /tmp another user's 0700 session cannot be opened: not an error, not ours.

    The tests run as root, which can open anything, so the kernel's EACCES is simulated.
    """
    theirs, _ = _dead_session(base)
    ours, _ = _dead_session(base)
    real_open = os.open

    def open_as_someone_else(path: object, flags: int, *args: object, **kwargs: object) -> int:
        if str(path) == str(theirs):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, flags, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", open_as_someone_else)
    report = sweep_orphans(base)
    assert (report.removed, report.skipped_foreign, report.errors) == (1, 1, [])
    assert "other users" in report.summary()
    assert theirs.exists() and not ours.exists()


# -- a helper process still writing in a session keeps it --------------------------------------

# The owner hands its session locks to a helper (as run_process does for ffmpeg),
# then dies without any cleanup while the helper runs on.
_HELPER_OUTLIVES_ITS_OWNER = """
import os, subprocess, sys
from langflix.temp import TempFileManager, session_lock_fds
manager = TempFileManager(base_dir=sys.argv[1])
(manager.session_dir / "clip.mp4").write_bytes(b"v" * 1000)
with session_lock_fds() as locks:
    helper = subprocess.Popen(["sleep", "60"], pass_fds=locks, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(manager.session_dir, helper.pid, flush=True)
os._exit(0)
"""


def test_a_session_stays_live_while_a_helper_holding_its_lock_runs(base: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _HELPER_OUTLIVES_ITS_OWNER, str(base)],
        capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    session_text, pid_text = done.stdout.split()
    session, helper = Path(session_text), int(pid_text)
    try:
        [info] = list_sessions(base)
        assert info.state == "live", "the owner is dead but its helper still writes there"
        report = sweep_orphans(base)
        assert report.skipped_live == 1 and session.exists() and (session / "clip.mp4").exists()
    finally:
        os.kill(helper, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while sweep_orphans(base).removed == 0:  # the kernel drops the lock as the helper dies
        assert time.monotonic() < deadline, "the session stayed locked after its helper died"
        time.sleep(0.02)
    assert not session.exists() and list(base.iterdir()) == []


# -- staging dirs that a killed persist left beside its destination ----------------------------

# A process that persists a 3 MiB file across filesystems and is held after the
# first chunk of the copy (only to be killed there for certain), then SIGKILLed.
_PERSIST_HELD_MID_COPY = """
import os, sys, time
from langflix.temp import TempFileManager

real_sendfile = os.sendfile

def sendfile_then_hold(out_fd, in_fd, offset, count):
    sent = real_sendfile(out_fd, in_fd, offset, count)
    print("mid-copy", flush=True)
    time.sleep(120)
    return sent

manager = TempFileManager(base_dir=sys.argv[1])
video = manager.new_file(suffix=".mp4")
video.write_bytes(b"v" * (3 * 1024 * 1024))
print(manager.session_dir, flush=True)
os.sendfile = sendfile_then_hold
manager.persist(video, sys.argv[2])
"""


def test_a_persist_killed_mid_copy_leaves_a_staging_dir_the_next_sweep_removes(
    base: Path, tmpfs: Callable[..., Path]
) -> None:
    out = tmpfs(16 * 1024 * 1024)
    dest = out / "lesson.mp4"
    dest.write_bytes(b"the previous, complete lesson")
    proc = subprocess.Popen(
        [sys.executable, "-c", _PERSIST_HELD_MID_COPY, str(base), str(dest)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        session = Path(proc.stdout.readline().strip())
        assert proc.stdout.readline().strip() == "mid-copy", f"the persist never copied ({proc.poll()})"
        [staging] = [p for p in out.iterdir() if p.name.endswith(".partial")]
        assert (staging / "lesson.mp4").stat().st_size > 0, "the kill must land with bytes staged"
        _sigkill(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
    assert staging.exists(), "a SIGKILL runs no cleanup: the staging dir is still there"
    report = sweep_orphans(base)
    assert (report.removed, report.errors) == (1, []), report.summary()
    assert report.bytes_freed > 3 * 1024 * 1024, "the staged bytes are counted as freed"
    assert not session.exists() and not staging.exists()
    assert sorted(p.name for p in out.iterdir()) == ["lesson.mp4"]
    assert dest.read_bytes() == b"the previous, complete lesson"


def test_a_staging_record_removes_only_what_a_persist_of_its_session_could_have_made(
    base: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    photos = out / "photos"  # a user's directory: a name no persist stages under
    photos.mkdir()
    (photos / "a.jpg").write_bytes(b"j")
    other_token = out / ".lesson.mp4.00000000000000aa.partial"  # named for another record
    other_token.mkdir()
    linked = out / ".lesson.mp4.00000000000000bb.partial"  # a link to the user's directory
    linked.symlink_to(photos)
    real = out / ".lesson.mp4.00000000000000cc.partial"  # what a killed persist leaves
    real.mkdir()
    (real / "lesson.mp4").write_bytes(b"s" * 100)
    session, _ = _dead_session(base)
    for token, target in (
        ("00000000000000dd", photos),
        ("00000000000000ee", other_token),
        ("00000000000000bb", linked),
        ("00000000000000cc", real),
        ("00000000000000ff", Path("relative") / ".x.00000000000000ff.partial"),
    ):
        (session / f".staging-{token}").write_bytes(os.fsencode(target))
    report = sweep_orphans(base)
    assert (report.removed, report.errors) == (1, []) and not session.exists()
    assert not real.exists(), "the staging dir its record names is removed"
    assert (photos / "a.jpg").read_bytes() == b"j" and other_token.is_dir() and linked.is_symlink()


# -- which filesystems a free lock can vouch for --------------------------------------------


def test_the_filesystem_type_is_the_one_the_kernel_reports(tmp_path: Path, tmpfs: Callable[..., Path]) -> None:
    if shutil.which("findmnt") is None:
        pytest.skip("findmnt (util-linux) tells the expected type")
    for where in (tmp_path, tmpfs(1024 * 1024)):
        expected = subprocess.run(
            ["findmnt", "-n", "-o", "FSTYPE", "--target", str(where)], capture_output=True, text=True, check=True
        ).stdout.strip()
        assert sweep_module.filesystem_type(where) == expected
    assert sweep_module.filesystem_type(where) == "tmpfs" and not sweep_module.is_network_filesystem(where)


def test_a_path_no_mount_shows_the_device_of_takes_the_type_of_the_deepest_mount_above_it(tmp_path: Path) -> None:
    # A btrfs subvolume has a device id of its own that no mountinfo line shows.
    share = tmp_path / "my share" / "deep"
    share.mkdir(parents=True)
    escaped = str(tmp_path / "my share").replace(" ", "\\040")
    mountinfo = "\n".join([
        "21 1 0:900 / / rw,relatime shared:1 - ext4 /dev/sda1 rw",
        f"60 21 0:901 / {escaped} rw,relatime shared:2 - nfs4 server:/export rw",
        f"61 21 0:902 / {tmp_path}/my rw,relatime shared:3 - xfs /dev/sdb1 rw",
    ])  # fmt: skip
    assert sweep_module.filesystem_type(share, mountinfo) == "nfs4"
    assert sweep_module.filesystem_type(tmp_path, mountinfo) == "ext4"
    assert sweep_module.filesystem_type(tmp_path / "missing", mountinfo) is None
