"""Session directories: created locked, marked with their owner, kept alive by a heartbeat.

A session is one live manager's directory under ``base_dir``. Liveness is an OS
lock, not a PID guess (Dask's ``diskutils`` idea): the owner holds
``flock(LOCK_SH)`` on the directory for its whole life and the kernel drops it
when the owner dies, however it dies. On disk::

    <base_dir>/
      .<prefix>building-<pid>-<rand>/   being set up; invisible to sweeps for a grace period
      <prefix>session-<pid>-<rand>/     a session (locked while its owner lives)
        .owner                          pid, host, boot id, start time; mtime = heartbeat
      <prefix>garbage-<rand>/           being deleted by a sweeper (which holds its lock)
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import socket
import threading
import time
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from langflix.temp._trees import DIR_FLAGS, remove_tree

__all__ = [
    "BOOT_ID",
    "BUILDING_INFIX",
    "GARBAGE_INFIX",
    "HOST",
    "OWNER_FILE",
    "PROCESS_HEARTBEAT",
    "SESSION_INFIX",
    "Heartbeat",
    "OwnerInfo",
    "SessionLock",
]

OWNER_FILE: Final = ".owner"
SESSION_INFIX: Final = "session-"
GARBAGE_INFIX: Final = "garbage-"
BUILDING_INFIX: Final = "building-"
HEARTBEAT_INTERVAL: Final = 60.0


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return "unknown"


BOOT_ID: Final = _boot_id()
HOST: Final = socket.gethostname()


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
        return self.host == HOST and self.boot_id == BOOT_ID


class Heartbeat:
    """One daemon thread refreshing the ``.owner`` mtime of its live sessions every ``interval`` s.

    The mtime only matters where ``flock`` cannot be trusted (NFS from another
    host, ENOLCK): there a sweep needs ``min_age`` of silence before reclaiming.
    The thread runs while it has sessions and ends with the last one.
    """

    def __init__(self, interval: float = HEARTBEAT_INTERVAL) -> None:
        if interval <= 0:
            raise ValueError(f"the heartbeat interval must be > 0 seconds, not {interval}")
        self.interval = interval
        self._sessions: weakref.WeakSet[SessionLock] = weakref.WeakSet()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def add(self, session: SessionLock) -> None:
        with self._lock:
            self._sessions.add(session)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="langflix-temp-heartbeat", daemon=True)
                self._thread.start()

    def discard(self, session: SessionLock) -> None:
        with self._lock:
            self._sessions.discard(session)

    def paths(self) -> list[Path]:
        """The directories of the sessions it keeps beating."""
        with self._lock:
            return [session.path for session in self._sessions]

    def _run(self) -> None:
        while True:
            time.sleep(self.interval)
            with self._lock:
                sessions = list(self._sessions)
                if not sessions:
                    # Under the lock: add() either saw this thread (and its
                    # session is in the set we just read) or sees None and starts one.
                    self._thread = None
                    return
            for session in sessions:
                session.beat()

    def _reset_after_fork(self) -> None:
        # Threads do not survive fork; the child owns none of its parent's sessions.
        self._lock = threading.Lock()
        self._sessions = weakref.WeakSet()
        self._thread = None


PROCESS_HEARTBEAT: Final = Heartbeat()


class SessionLock:
    """A session directory that is locked before it becomes visible under its name."""

    def __init__(self, base_dir: Path, prefix: str, *, heartbeat: Heartbeat = PROCESS_HEARTBEAT) -> None:
        base_dir.mkdir(parents=True, exist_ok=True)
        pid = os.getpid()
        token = secrets.token_hex(6)
        building = base_dir / f".{prefix}{BUILDING_INFIX}{pid}-{token}"
        os.mkdir(building, 0o700)
        self._fd: int | None = None
        try:
            self._fd = os.open(building, DIR_FLAGS)
            fcntl.flock(self._fd, fcntl.LOCK_SH)
            owner = {"pid": pid, "host": HOST, "boot_id": BOOT_ID, "started": time.time()}
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
        self._heartbeat = heartbeat
        heartbeat.add(self)

    def beat(self) -> None:
        """Refresh the heartbeat mtime; silent when the session is gone."""
        try:
            os.utime(self.path / OWNER_FILE)
        except OSError:
            pass

    def _close_fd(self) -> None:
        fd, self._fd = self._fd, None
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
            self._heartbeat.discard(self)
        return removed

    def disown(self) -> None:
        """In a forked child: forget the inherited fd without touching the parent's lock.

        The lock belongs to the open file description the parent shares; once the
        child's copy of the fd is closed, the parent's death frees the session.
        """
        self._close_fd()


def _after_fork_in_child() -> None:
    PROCESS_HEARTBEAT._reset_after_fork()


os.register_at_fork(after_in_child=_after_fork_in_child)
