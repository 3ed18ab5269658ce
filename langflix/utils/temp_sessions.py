"""Session directories on disk: created locked, reclaimed only when provably dead.

A session is one live manager's directory under ``base_dir``. Liveness is an OS
lock, not a PID guess (Dask's ``diskutils`` idea): the owner holds
``flock(LOCK_SH)`` on the directory for its whole life and the kernel drops it
when the owner dies, however it dies. So "can I take ``LOCK_EX`` without
waiting?" answers "is it abandoned?". On disk::

    <base_dir>/
      .<prefix>building-<pid>-<rand>/   being set up; invisible to sweeps for a grace period
      <prefix>session-<pid>-<rand>/     a session (locked while its owner lives)
        .owner                          pid, host, boot id, start time; mtime = heartbeat
      <prefix>garbage-<rand>/           being deleted by a sweeper (which holds its lock)

Reclaiming renames a dead tree to a ``garbage-`` name first (pytest's
``_pytest/pathlib.py`` trick) so two sweepers never delete one tree together.
This module depends on nothing else of ours; creating temp files is left to
``temp_file_manager`` alone.
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import re
import secrets
import socket
import stat
import threading
import time
import weakref
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal

__all__ = [
    "OWNER_FILE",
    "OwnerInfo",
    "SessionInfo",
    "SessionLock",
    "SweepReport",
    "list_sessions",
    "remove_tree",
    "sweep_sessions",
    "tree_bytes",
]

logger = logging.getLogger("langflix.temp")

OWNER_FILE: Final = ".owner"
SESSION_INFIX: Final = "session-"
GARBAGE_INFIX: Final = "garbage-"
BUILDING_INFIX: Final = "building-"
HEARTBEAT_INTERVAL: Final = 60.0
# A building dir exists unlocked for the instant between mkdir and flock; a sweep
# must not take it from under its creator, so it waits this long before trusting the lock.
BUILDING_GRACE: Final = 60.0
_DIR_FLAGS: Final = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC

SessionState = Literal["live", "busy", "dead", "stale", "unknown", "building", "garbage"]


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return "unknown"


_BOOT_ID: Final = _boot_id()
_HOST: Final = socket.gethostname()


@dataclass(frozen=True, slots=True)
class OwnerInfo:
    """What ``.owner`` records about a session's creator (for people and diagnostics)."""

    pid: int
    host: str
    boot_id: str
    started: float

    @classmethod
    def read(cls, session_dir: Path) -> OwnerInfo | None:
        """The owner record, or None when missing or unreadable."""
        try:
            data = json.loads((session_dir / OWNER_FILE).read_text())
            return cls(int(data["pid"]), str(data["host"]), str(data["boot_id"]), float(data["started"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    @property
    def is_this_machine(self) -> bool:
        return self.host == _HOST and self.boot_id == _BOOT_ID


class _Heartbeat:
    """One daemon thread refreshing the ``.owner`` mtime of every live session.

    The mtime only matters where ``flock`` cannot be trusted (NFS from another
    host, ENOLCK): there a sweep needs ``min_age`` of silence before reclaiming.
    """

    def __init__(self) -> None:
        self._sessions: weakref.WeakSet[SessionLock] = weakref.WeakSet()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def add(self, session: SessionLock) -> None:
        with self._lock:
            self._sessions.add(session)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="langflix-temp-heartbeat", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            time.sleep(HEARTBEAT_INTERVAL)
            with self._lock:
                sessions = list(self._sessions)
            for session in sessions:
                session.beat()

    def reset_after_fork(self) -> None:
        # Threads do not survive fork; the child owns none of its parent's sessions.
        self._lock = threading.Lock()
        self._sessions = weakref.WeakSet()
        self._thread = None


_heartbeat = _Heartbeat()


class SessionLock:
    """A session directory that is locked before it becomes visible under its name."""

    def __init__(self, base_dir: Path, prefix: str) -> None:
        base_dir.mkdir(parents=True, exist_ok=True)
        pid = os.getpid()
        token = secrets.token_hex(6)
        building = base_dir / f".{prefix}{BUILDING_INFIX}{pid}-{token}"
        os.mkdir(building, 0o700)
        try:
            self._fd: int | None = os.open(building, _DIR_FLAGS)
            fcntl.flock(self._fd, fcntl.LOCK_SH)
            owner = {"pid": pid, "host": _HOST, "boot_id": _BOOT_ID, "started": time.time()}
            fd = os.open(building / OWNER_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
            with os.fdopen(fd, "w") as fh:
                json.dump(owner, fh)
            self.path = base_dir / f"{prefix}{SESSION_INFIX}{pid}-{token}"
            # The rename is what makes the session visible: it is already locked here.
            os.rename(building, self.path)
        except BaseException:
            self._close_fd()
            remove_tree(building)
            raise
        self.owner_pid = pid
        _heartbeat.add(self)

    def beat(self) -> None:
        """Refresh the heartbeat mtime; silent when the session is gone."""
        try:
            os.utime(self.path / OWNER_FILE)
        except OSError:
            pass

    def _close_fd(self) -> None:
        fd, self._fd = getattr(self, "_fd", None), None
        if fd is not None:
            os.close(fd)  # closing the last fd drops the flock

    def release(self, *, remove: bool = True) -> tuple[int, int]:
        """Delete the directory (when asked) and drop the lock; returns (files, bytes) removed."""
        removed = (0, 0)
        try:
            if remove and self._fd is not None:
                removed = remove_tree(self.path)
        finally:
            self._close_fd()
        return removed

    def disown(self) -> None:
        """In a forked child: forget the inherited fd without touching the parent's lock."""
        self._close_fd()


def remove_tree(path: Path) -> tuple[int, int]:
    """Delete ``path`` without following symlinks; return (entries, bytes) removed.

    Like ``shutil.rmtree``'s fd-based walk, but it also counts the bytes freed.
    Every directory is opened with ``O_NOFOLLOW`` relative to its parent's fd,
    so a symlink planted inside (or swapped in mid-walk) is unlinked, never
    followed. A missing tree is not an error.
    """
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return (0, 0)
    if not stat.S_ISDIR(st.st_mode):
        os.unlink(path)
        return (1, st.st_size)
    parent_fd = os.open(path.parent, _DIR_FLAGS)
    try:
        counts = _remove_dir_at(parent_fd, path.name)
    finally:
        os.close(parent_fd)
    return counts


def _remove_dir_at(parent_fd: int, name: str) -> tuple[int, int]:
    try:
        fd = os.open(name, _DIR_FLAGS, dir_fd=parent_fd)
    except FileNotFoundError:
        return (0, 0)
    except OSError as exc:
        if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
            raise
        # Swapped for a symlink or a file since we looked: remove the link itself.
        os.unlink(name, dir_fd=parent_fd)
        return (1, 0)
    entries = nbytes = 0
    try:
        with os.scandir(fd) as it:
            children = list(it)
        for entry in children:
            if entry.is_dir(follow_symlinks=False):
                sub_entries, sub_bytes = _remove_dir_at(fd, entry.name)
                entries += sub_entries
                nbytes += sub_bytes
                continue
            try:
                nbytes += entry.stat(follow_symlinks=False).st_size
                os.unlink(entry.name, dir_fd=fd)
                entries += 1
            except FileNotFoundError:
                pass
    finally:
        os.close(fd)
    try:
        os.rmdir(name, dir_fd=parent_fd)
        entries += 1
    except FileNotFoundError:
        pass
    return (entries, nbytes)


def tree_bytes(path: Path, exclude: frozenset[str] = frozenset()) -> int:
    """Bytes of regular files under ``path`` (not following symlinks); 0 when missing."""
    total = 0
    stack = [str(path)]
    while stack:
        try:
            with os.scandir(stack.pop()) as it:
                for entry in it:
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
                    elif entry.path not in exclude:
                        try:
                            total += entry.stat(follow_symlinks=False).st_size
                        except FileNotFoundError:
                            pass
        except (FileNotFoundError, NotADirectoryError):
            continue
    return total


@dataclass(slots=True)
class SweepReport:
    """What one sweep did; counts are exact even with concurrent sweepers."""

    base_dir: Path
    removed: int = 0
    bytes_freed: int = 0
    skipped_live: int = 0
    stale_removed: int = 0
    garbage_finished: int = 0
    skipped_unverifiable: int = 0
    skipped_foreign: int = 0
    dry_run: bool = False
    errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        verb = "would reclaim" if self.dry_run else "reclaimed"
        text = (
            f"{verb} {self.removed} dead session(s), {self.bytes_freed:,} bytes "
            f"under {self.base_dir}; {self.skipped_live} live session(s) left alone"
        )
        if self.stale_removed:
            text += f"; {self.stale_removed} of them stale by heartbeat (lock unusable)"
        if self.garbage_finished:
            text += f"; finished {self.garbage_finished} interrupted deletion(s)"
        if self.skipped_unverifiable:
            text += f"; {self.skipped_unverifiable} kept: lock unusable and not stale by --min-age"
        if self.skipped_foreign:
            text += f"; {self.skipped_foreign} of other users left to them (no permission)"
        if self.errors:
            text += f"; {len(self.errors)} error(s)"
        return text


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """One entry of ``list_sessions``: what ``langflix temp status`` shows."""

    path: Path
    state: SessionState
    owner: OwnerInfo | None
    age: float
    bytes: int


@dataclass(frozen=True, slots=True)
class _Outcome:
    kind: Literal["removed", "stale", "garbage", "live", "unverifiable", "gone", "young", "foreign"]
    nbytes: int = 0
    error: str | None = None


def _name_pattern(prefix: str) -> re.Pattern[str]:
    # The exact names SessionLock and _reclaim make, not just their start: a
    # user's "langflix_session-notes" directory is not a session and is never deleted.
    p = re.escape(prefix)
    return re.compile(
        rf"(?P<session>{p}{SESSION_INFIX}\d+-[0-9a-f]{{12}})"
        rf"|(?P<garbage>{p}{GARBAGE_INFIX}[0-9a-f]{{16}})"
        rf"|(?P<building>\.{p}{BUILDING_INFIX}\d+-[0-9a-f]{{12}})"
    )


def _candidates(base_dir: Path, prefix: str) -> Iterator[tuple[Path, str]]:
    pattern = _name_pattern(prefix)
    try:
        it = os.scandir(base_dir)
    except FileNotFoundError:
        return
    with it:
        for entry in it:
            match = pattern.fullmatch(entry.name)
            # Only real directories: a symlink named like a session is never ours.
            if match and entry.is_dir(follow_symlinks=False):
                yield Path(entry.path), str(match.lastgroup)


def _probe(fd: int, path: Path, kind: str, min_age: float, now: float) -> SessionState:
    """Decide whether the locked-or-not tree at ``fd`` is provably abandoned."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        lock_usable = True
    except BlockingIOError:
        # Owners hold LOCK_SH, sweepers (and status probes) LOCK_EX. If a shared
        # lock is still grantable the holder is an owner; otherwise another
        # sweeper is deleting the tree and must not be counted as a live session.
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return "busy"
        return "live"
    except OSError as exc:
        if exc.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.EINVAL):
            raise
        lock_usable = False
    if kind == "garbage":
        return "garbage"
    heartbeat = _heartbeat_age(path, now)
    if kind == "building" and heartbeat < BUILDING_GRACE:
        return "building"
    owner = OwnerInfo.read(path)
    # Same host, any boot: an unheld lock proves the owner dead. A different
    # boot id only means the owner ran before a reboot or power cut -- even
    # more dead -- and must not wait for min_age like another host's session.
    if lock_usable and (owner is None or owner.host == _HOST):
        return "dead"
    # The lock cannot vouch here (another host on NFS, or no flock at all):
    # only silence longer than min_age makes a session reclaimable.
    if min_age > 0 and heartbeat >= min_age:
        return "stale"
    return "unknown"


def _heartbeat_age(path: Path, now: float) -> float:
    for candidate in (path / OWNER_FILE, path):
        try:
            return now - candidate.stat().st_mtime
        except OSError:
            continue
    return float("inf")


def _reclaim(path: Path, kind: str, prefix: str, min_age: float, dry_run: bool) -> _Outcome:
    try:
        fd = os.open(path, _DIR_FLAGS)
    except FileNotFoundError:
        return _Outcome("gone")  # another sweeper took it first
    except PermissionError:
        # Another user's session (0700) on a shared base dir such as /tmp: theirs
        # to sweep. Reporting it as an error made every start warn and
        # `langflix temp sweep` exit 1 on any multi-user machine.
        return _Outcome("foreign")
    except OSError as exc:
        return _Outcome("gone", error=f"cannot open {path}: {exc}")
    try:
        state = _probe(fd, path, kind, min_age, time.time())
        if state == "busy":
            return _Outcome("gone")  # another sweeper holds it and counts it
        if state == "live":
            # Renamed away meanwhile: a sweeper that finished between our two flocks.
            return _Outcome("gone" if kind == "garbage" or not path.exists() else "live")
        if state in ("unknown", "building"):
            return _Outcome("unverifiable" if state == "unknown" else "young")
        # Never delete a newer tree that replaced the one we locked (filelock's
        # (st_dev, st_ino) check before unlinking).
        held, named = os.fstat(fd), os.lstat(path)
        if (held.st_dev, held.st_ino) != (named.st_dev, named.st_ino):
            return _Outcome("gone")
        if dry_run:
            return _Outcome("removed" if state == "dead" else state, tree_bytes(path))
        target = path
        if kind != "garbage":
            target = path.with_name(f"{prefix}{GARBAGE_INFIX}{secrets.token_hex(8)}")
            os.rename(path, target)
        _entries, nbytes = remove_tree(target)
        outcome_kind = {"dead": "removed", "stale": "stale", "garbage": "garbage"}[state]
        return _Outcome(outcome_kind, nbytes)  # type: ignore[arg-type]
    except FileNotFoundError:
        return _Outcome("gone")
    except OSError as exc:
        return _Outcome("gone", error=f"cannot reclaim {path}: {exc}")
    finally:
        os.close(fd)


def sweep_sessions(
    base_dir: Path, prefix: str, *, min_age: float = 0.0, dry_run: bool = False, workers: int = 4
) -> SweepReport:
    """Reclaim every abandoned session, building dir and garbage tree of ``prefix``.

    Unlinking releases the GIL, so a few threads keep the disk busy; results are
    merged here, so the report counts each tree once.
    """
    report = SweepReport(base_dir=base_dir, dry_run=dry_run)
    candidates = list(_candidates(base_dir, prefix))
    if not candidates:
        return report
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(candidates)))) as pool:
        outcomes = list(pool.map(lambda c: _reclaim(c[0], c[1], prefix, min_age, dry_run), candidates))
    for outcome in outcomes:
        if outcome.error:
            report.errors.append(outcome.error)
        if outcome.kind in ("removed", "stale"):
            report.removed += 1
            report.bytes_freed += outcome.nbytes
            report.stale_removed += outcome.kind == "stale"
        elif outcome.kind == "garbage":
            report.garbage_finished += 1
            report.bytes_freed += outcome.nbytes
        elif outcome.kind == "live":
            report.skipped_live += 1
        elif outcome.kind == "unverifiable":
            report.skipped_unverifiable += 1
        elif outcome.kind == "foreign":
            report.skipped_foreign += 1
    for error in report.errors:
        logger.warning("temp sweep: %s", error)
    return report


def list_sessions(base_dir: Path, prefix: str) -> list[SessionInfo]:
    """Every session-like tree of ``prefix`` with its state; touches nothing."""
    now = time.time()
    infos = []
    for path, kind in _candidates(base_dir, prefix):
        try:
            fd = os.open(path, _DIR_FLAGS)
        except OSError:
            continue
        try:
            state = _probe(fd, path, kind, 0.0, now)
            fcntl.flock(fd, fcntl.LOCK_UN)
        except OSError:
            state = "unknown"
        finally:
            os.close(fd)
        infos.append(SessionInfo(path, state, OwnerInfo.read(path), _heartbeat_age(path, now), tree_bytes(path)))
    return infos


def _after_fork_in_child() -> None:
    _heartbeat.reset_after_fork()


os.register_at_fork(after_in_child=_after_fork_in_child)
