"""Tests for ``langflix/temp/_sessions.py``: the session layout on disk, proven on disk.

A session must be named ``<prefix>session-<pid>-<hex>``, be 0700, carry an
``.owner`` record, be locked before anyone can see it under that name, and have
its heartbeat (the ``.owner`` mtime) refreshed while its owner lives.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import re
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support.users import NOBODY, as_nobody

from langflix.errors import InsufficientDiskSpaceError, TempFileError
from langflix.temp import OWNER_FILE, OwnerInfo, TempFileManager, list_sessions, sweep_orphans
from langflix.temp._sessions import PROCESS_HEARTBEAT, Heartbeat, SessionLock
from langflix.temp._sweep import BUILDING_GRACE

SESSION_RE = re.compile(r"^langflix_session-(?P<pid>\d+)-[0-9a-f]{12}$")


@pytest.fixture
def base(tmp_path: Path) -> Path:
    return tmp_path / "tmp"


@pytest.fixture
def mgr(base: Path) -> Iterator[TempFileManager]:
    manager = TempFileManager(base_dir=base)
    yield manager
    manager.close()


def _locked_exclusively_by_someone(path: Path) -> bool:
    """True when another open file description holds a flock on ``path``."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # also drops our lock when we got it
    return False


def test_session_name_mode_and_owner_record(mgr: TempFileManager, base: Path) -> None:
    before = time.time()
    session = mgr.session_dir
    after = time.time()

    assert session.parent == base
    match = SESSION_RE.match(session.name)
    assert match, f"unexpected session name {session.name!r}"
    assert int(match["pid"]) == os.getpid()
    assert stat.S_IMODE(os.lstat(session).st_mode) == 0o700

    owner_path = session / OWNER_FILE
    assert stat.S_IMODE(os.lstat(owner_path).st_mode) == 0o600
    record = json.loads(owner_path.read_text())
    assert record["pid"] == os.getpid()
    assert record["host"] == socket.gethostname()
    assert record["boot_id"] == Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    assert before - 1 <= record["started"] <= after + 1
    info = OwnerInfo.read(session)
    assert info is not None and info.is_this_machine and info.pid == os.getpid()
    # Nothing else is left in base_dir: the building dir was renamed, not copied.
    assert [p.name for p in base.iterdir()] == [session.name]


def test_two_managers_get_distinct_sessions(base: Path) -> None:
    with TempFileManager(base_dir=base) as a, TempFileManager(base_dir=base) as b:
        assert a.session_dir != b.session_dir
        assert {p.name for p in base.iterdir()} == {a.session_dir.name, b.session_dir.name}
    assert list(base.iterdir()) == []


def test_session_is_locked_for_the_managers_whole_life(mgr: TempFileManager, base: Path) -> None:
    session = mgr.session_dir
    assert _locked_exclusively_by_someone(session)
    # The owner holds LOCK_SH: other shared holders (systemd-tmpfiles) may join.
    fd = os.open(session, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    finally:
        os.close(fd)
    [info] = list_sessions(base, "langflix_")
    assert info.state == "live" and info.owner is not None and info.owner.pid == os.getpid()
    mgr.close()
    assert not session.exists()
    assert list(base.iterdir()) == []


def test_session_is_locked_and_complete_before_it_gets_its_name(
    base: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The building->rename dance: at the rename, the dir is already locked and has .owner."""
    real_rename = os.rename
    seen: list[tuple[str, bool, dict[str, object], list[str]]] = []

    def checking_rename(src: os.PathLike[str] | str, dst: os.PathLike[str] | str) -> None:
        src, dst = Path(src), Path(dst)
        if "session-" in dst.name:
            visible = [p.name for p in base.iterdir() if "session-" in p.name]
            seen.append(
                (src.name, _locked_exclusively_by_someone(src), json.loads((src / OWNER_FILE).read_text()), visible)
            )
        real_rename(src, dst)

    monkeypatch.setattr(os, "rename", checking_rename)
    session = SessionLock(base, "langflix_")
    try:
        [(building, locked, owner, visible)] = seen
        assert building.startswith(".langflix_building-")  # hidden, and not a session name
        assert locked, "the session dir was not locked before it became visible"
        assert owner["pid"] == os.getpid()
        assert visible == [], "a session-named entry existed before the rename"
        assert _locked_exclusively_by_someone(session.path)
    finally:
        session.release()
    assert list(base.iterdir()) == []


# A child that opens and closes sessions as fast as it can for a while.
_CHURN = """
import sys, time
from langflix.temp import TempFileManager
end = time.monotonic() + float(sys.argv[2])
n = 0
while time.monotonic() < end:
    m = TempFileManager(base_dir=sys.argv[1])
    m.new_file(suffix=".bin").write_bytes(b"x" * 100)
    m.close()
    n += 1
print(n)
"""


def test_no_session_is_ever_visible_unlocked_under_churn(base: Path) -> None:
    """A sweeper racing a process that opens/closes sessions never finds one it could take."""
    base.mkdir()
    child = subprocess.Popen(
        [sys.executable, "-c", _CHURN, str(base), "1.5"], stdout=subprocess.PIPE, text=True
    )
    observed = violations = 0
    try:
        while child.poll() is None:
            with os.scandir(base) as it:
                names = [e.name for e in it if e.name.startswith("langflix_session-")]
            for name in names:
                path = base / name
                try:
                    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
                except FileNotFoundError:
                    continue
                try:
                    observed += 1
                    try:
                        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    except BlockingIOError:
                        continue
                    # We got the lock: fine only if the owner already removed the dir.
                    try:
                        same = os.lstat(path).st_ino == os.fstat(fd).st_ino
                    except FileNotFoundError:
                        same = False
                    if same and os.fstat(fd).st_nlink > 0:
                        violations += 1
                finally:
                    os.close(fd)
        out, _ = child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 0
    assert int(out) > 10, "the child made too few sessions for the race to mean anything"
    assert observed > 0, "the test never saw a session; it proves nothing"
    assert violations == 0
    assert list(base.iterdir()) == []


def test_young_building_dir_is_left_to_its_creator(base: Path) -> None:
    """Between mkdir and flock a building dir is unlocked: a sweep must wait out the grace."""
    base.mkdir()
    building = base / f".langflix_building-{os.getpid()}-0123456789ab"
    building.mkdir(mode=0o700)
    (building / "partial").write_bytes(b"x" * 10)

    report = sweep_orphans(base)
    assert building.exists() and report.removed == 0

    old = time.time() - BUILDING_GRACE - 5
    os.utime(building, (old, old))
    report = sweep_orphans(base)
    assert not building.exists()
    assert report.removed == 1 and report.bytes_freed == 10 and not report.errors


def test_heartbeat_refreshes_owner_mtime_while_the_owner_lives(base: Path) -> None:
    """A real heartbeat thread (at 20 Hz rather than once a minute) refreshes a live session's record."""
    heartbeat = Heartbeat(interval=0.05)
    session = SessionLock(base, "langflix_", heartbeat=heartbeat)
    owner = session.path / OWNER_FILE
    old = time.time() - 10 * 365 * 86400
    os.utime(owner, (old, old))
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and time.time() - owner.stat().st_mtime > 60:
            time.sleep(0.02)
        assert time.time() - owner.stat().st_mtime < 60, "the heartbeat never refreshed .owner"
        assert heartbeat.paths() == [session.path]
    finally:
        session.release()
    assert heartbeat.paths() == [] and list(base.iterdir()) == []


def test_every_managers_session_beats_with_the_process_heartbeat(mgr: TempFileManager) -> None:
    assert PROCESS_HEARTBEAT.interval == 60.0
    session = mgr.session_dir
    assert session in PROCESS_HEARTBEAT.paths()
    mgr.close()
    assert session not in PROCESS_HEARTBEAT.paths()


def _new_heartbeat_threads(before: set[threading.Thread]) -> list[threading.Thread]:
    # By object, not ident: an ident is reused as soon as its thread ends.
    return [t for t in threading.enumerate() if t not in before and t.name == "langflix-temp-heartbeat"]


def test_the_heartbeat_thread_ends_with_its_last_session(base: Path) -> None:
    heartbeat = Heartbeat(interval=0.01)
    before = set(threading.enumerate())
    session = SessionLock(base, "langflix_", heartbeat=heartbeat)
    [thread] = _new_heartbeat_threads(before)
    assert thread.daemon
    session.release()
    thread.join(timeout=10)
    assert not thread.is_alive(), "the heartbeat thread outlived its last session"
    before = set(threading.enumerate())
    again = SessionLock(base, "langflix_", heartbeat=heartbeat)
    try:
        assert len(_new_heartbeat_threads(before)) == 1, "a new session after the last one must beat again"
    finally:
        again.release()


def test_heartbeat_interval_must_be_positive() -> None:
    with pytest.raises(ValueError, match="interval"):
        Heartbeat(interval=0)


def test_beat_is_silent_once_the_session_is_gone(base: Path) -> None:
    session = SessionLock(base, "langflix_")
    owner = session.path / OWNER_FILE
    old = time.time() - 1000
    os.utime(owner, (old, old))
    session.beat()
    assert time.time() - owner.stat().st_mtime < 60
    session.release()
    session.beat()  # no error: nothing to refresh
    assert not session.path.exists()


def test_release_without_remove_leaves_a_dead_unlocked_session(base: Path) -> None:
    """What SIGKILL leaves behind: the tree stays, the lock goes."""
    session = SessionLock(base, "langflix_")
    (session.path / "data").write_bytes(b"y" * 123)
    assert session.release(remove=False) == (0, 0)
    assert (session.path / "data").exists()
    assert not _locked_exclusively_by_someone(session.path)
    [info] = list_sessions(base, "langflix_")
    assert info.state == "dead" and info.bytes == 123 + (session.path / OWNER_FILE).stat().st_size
    # list_sessions must not keep the lock it probed with.
    assert not _locked_exclusively_by_someone(session.path)
    report = sweep_orphans(base)
    assert report.removed == 1 and list(base.iterdir()) == []


def test_session_lock_survives_an_unwritable_owner_record(base: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A failure while building removes the half-made dir and leaves nothing named."""
    real_open = os.open

    def failing_open(path: object, flags: int, *args: object, **kwargs: object) -> int:
        if str(path).endswith(OWNER_FILE):
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real_open(path, flags, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", failing_open)
    with pytest.raises(InsufficientDiskSpaceError, match="no space or no free inodes"):
        SessionLock(base, "langflix_")
    monkeypatch.undo()
    assert list(base.iterdir()) == []


# -- base dirs another user controls ---------------------------------------------------


def test_a_base_dir_another_user_made_is_refused(tmp_path: Path) -> None:
    # The attack: nobody pre-creates the configured LANGFLIX_TEMP_DIR mode 0777,
    # so that it may later swap root's job directories for links.
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o777)
    shared.chmod(0o777)
    as_nobody(shared, "import os; os.mkdir('/mnt/langflix', 0o777); os.chmod('/mnt/langflix', 0o777)")
    base = shared / "langflix"
    assert base.stat().st_uid == NOBODY
    manager = TempFileManager(base_dir=base)
    try:
        with pytest.raises(TempFileError, match=r"owned by nobody \(uid 65534\), not by you") as info:
            manager.new_file()
        assert "LANGFLIX_TEMP_DIR" in str(info.value) and "chown" in str(info.value)
        assert list(base.iterdir()) == [], "nothing of root's went into it"
        # Nor does a sweep act on what such a dir holds.
        as_nobody(shared, "import os; os.mkdir('/mnt/langflix/langflix_session-1-0123456789ab')")
        with pytest.raises(TempFileError, match="owned by nobody"):
            sweep_orphans(base)
        assert [p.name for p in base.iterdir()] == ["langflix_session-1-0123456789ab"]
    finally:
        manager.close()


@pytest.mark.parametrize(
    ("mode", "refused"),
    [(0o777, True), (0o773, True), (0o1777, False), (0o755, False), (0o775, False)],
)
def test_a_base_dir_others_may_write_needs_the_sticky_bit(tmp_path: Path, mode: int, refused: bool) -> None:
    base = tmp_path / "base"
    base.mkdir()
    base.chmod(mode)
    manager = TempFileManager(base_dir=base)
    try:
        if refused:
            with pytest.raises(TempFileError, match=rf"writable by every user \(mode {mode:04o}\).*chmod o-w"):
                manager.new_file()
        else:
            assert manager.session_dir.parent == base
    finally:
        manager.close()


def test_a_base_dir_made_here_is_private_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        with TempFileManager(base_dir=tmp_path / "new" / "base") as manager:
            assert manager.session_dir.exists()
            assert stat.S_IMODE((tmp_path / "new" / "base").stat().st_mode) == 0o700
    finally:
        os.umask(old)


# -- creation failures stay in the error family ---------------------------------------------


def test_a_full_disk_while_writing_the_owner_record_is_a_clear_error(tmpfs: Callable[..., Path]) -> None:
    full = tmpfs(64 * 1024)
    (full / "base").mkdir()  # a directory costs no data blocks: only the record will not fit
    fd = os.open(full / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, b"f" * 4096)  # fill the filesystem to its last byte
    except OSError as exc:
        assert exc.errno == errno.ENOSPC
    finally:
        os.close(fd)
    manager = TempFileManager(base_dir=full / "base")
    try:
        with pytest.raises(InsufficientDiskSpaceError, match=r"cannot create a temp session in .*no space or no free"):
            manager.new_file()
    finally:
        manager.close()
    assert list((full / "base").iterdir()) == [], "the half-made session was removed"


def test_out_of_inodes_creating_a_session_is_a_clear_error(tmpfs: Callable[..., Path]) -> None:
    full = tmpfs(1024 * 1024, inodes=4)  # the root dir and three more
    (full / "base").mkdir()
    used = 2
    while True:
        try:
            (full / f"f{used}").write_bytes(b"")
            used += 1
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
            break
    with pytest.raises(InsufficientDiskSpaceError, match="no free inodes"):
        SessionLock(full / "base", "langflix_")


# A child whose start-up stalls between mkdir and flock for longer than the
# building grace (SIGSTOP, a frozen VM): here a real sweep of another process
# runs at that very moment on its building dir, aged past the grace.
_STALLED_START = """
import fcntl, os, subprocess, sys, time
from pathlib import Path
from langflix.temp import TempFileManager

base = Path(sys.argv[1])
real_flock = fcntl.flock
stalls = [int(sys.argv[2])]

def stalled_flock(fd, operation):
    if stalls[0] and operation == fcntl.LOCK_SH:
        stalls[0] -= 1
        for building in base.glob(".langflix_building-*"):
            os.utime(building, (time.time() - 3600, time.time() - 3600))
        sweep = "import sys; from langflix.temp import sweep_orphans; print(sweep_orphans(sys.argv[1]).removed)"
        subprocess.run([sys.executable, "-c", sweep, str(base)], check=True)
    real_flock(fd, operation)

fcntl.flock = stalled_flock
manager = TempFileManager(base_dir=base)
try:
    print("session", manager.session_dir, flush=True)
except Exception as exc:
    print(type(exc).__name__, exc, flush=True)
manager.close()
"""


@pytest.mark.parametrize("stalls", [1, 3])
def test_a_start_up_stalled_past_the_building_grace_starts_over_or_says_why(base: Path, stalls: int) -> None:
    base.mkdir()
    done = subprocess.run(
        [sys.executable, "-c", _STALLED_START, str(base), str(stalls)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    outcome = done.stdout.splitlines()[-1]
    if stalls == 1:
        assert outcome.startswith("session "), outcome  # a sweep took the first try: a second one worked
    else:
        assert outcome.startswith("TempFileError cannot create a temp session in"), outcome
        assert "vanished while being set up" in outcome
    assert list(base.iterdir()) == []
