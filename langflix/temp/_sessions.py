"""Session directories: created locked, marked with their owner, kept alive by a heartbeat.

A session is one live manager's directory under ``base_dir``. Liveness is an OS
lock, not a PID guess (Dask's ``diskutils`` idea): the owner holds
``flock(LOCK_SH)`` on the directory for its whole life and the kernel drops it
when the owner dies, however it dies, and when the helpers it handed the lock
to (``_fds``) have ended too. On disk::

    <base_dir>/
      .<prefix>building-<pid>-<rand>/   being set up; invisible to sweeps for a grace period
      <prefix>session-<pid>-<rand>/     a session (locked while its owner lives)
        .owner                          pid, host, boot id, start time; mtime = heartbeat
        .staging-<token>                where a cross-filesystem persist in flight stages its copy
      <prefix>garbage-<rand>/           being deleted by a sweeper (which holds its lock)
"""

from __future__ import annotations

import fcntl
import json
import os
import pwd
import secrets
import socket
import stat
import threading
import time
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from langflix.errors import TempFileError
from langflix.temp._fds import LockFd
from langflix.temp._names import creation_error
from langflix.temp._trees import remove_tree

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
    "check_base_dir",
]

OWNER_FILE: Final = ".owner"
SESSION_INFIX: Final = "session-"
GARBAGE_INFIX: Final = "garbage-"
BUILDING_INFIX: Final = "building-"
HEARTBEAT_INTERVAL: Final = 60.0
# A sweep reclaims a building dir left unlocked past its grace (its creator
# stalled, SIGSTOP or a frozen VM); the creator then starts over this many times.
BUILD_ATTEMPTS: Final = 3


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
        """Whether the owner ran under this very kernel (any container of it: the boot id is the kernel's)."""
        return self.boot_id == BOOT_ID and BOOT_ID != "unknown"


def _user(uid: int) -> str:
    try:
        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except KeyError:
        return f"uid {uid}"


def check_base_dir(base_dir: Path) -> None:
    """Refuse a base dir that another user controls, as pytest refuses such a basetemp.

    Whoever may rename entries of the base dir may swap a session for a link
    and make this process chmod, publish or delete what the link points to. So
    it must belong to the current user or root, and must not be writable by
    others unless the sticky bit (as on ``/tmp``) stops them renaming our entries.
    """
    try:
        st = os.stat(base_dir)
    except OSError as exc:
        raise creation_error(base_dir, exc) from exc
    me = os.geteuid()
    if not stat.S_ISDIR(st.st_mode):
        raise TempFileError(
            f"the temp base dir {base_dir} is not a directory; point LANGFLIX_TEMP_DIR at a directory."
        )
    if st.st_uid not in (me, 0):
        raise TempFileError(
            f"the temp base dir {base_dir} is owned by {_user(st.st_uid)}, not by you ({_user(me)}) or root, "
            "so that user could replace the temp files LangFlix keeps there. Use a directory you own "
            f"(set LANGFLIX_TEMP_DIR), or chown {base_dir} to yourself, and try again."
        )
    if st.st_mode & stat.S_IWOTH and not st.st_mode & stat.S_ISVTX:
        raise TempFileError(
            f"the temp base dir {base_dir} is writable by every user (mode {stat.S_IMODE(st.st_mode):04o}) "
            "without the sticky bit, so anyone could rename or replace the sessions in it. "
            f"Run chmod o-w {base_dir} (or chmod +t, as /tmp has), or set LANGFLIX_TEMP_DIR to a private "
            "directory, and try again."
        )


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
    """A session directory that is locked before it becomes visible under its name.

    ``path`` and ``identity`` (its ``(st_dev, st_ino)``) never change. Failures
    are ``TempFileError`` subclasses naming the base dir and the fix.
    """

    def __init__(self, base_dir: Path, prefix: str, *, heartbeat: Heartbeat = PROCESS_HEARTBEAT) -> None:
        try:
            # 0700 when we make it: nobody else has business in it (sessions are 0700 too).
            base_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise creation_error(base_dir, exc) from exc
        check_base_dir(base_dir)
        pid = os.getpid()
        for _attempt in range(BUILD_ATTEMPTS):
            try:
                self._lock, self.path = self._build(base_dir, prefix, pid)
                break
            except FileNotFoundError:
                # A sweep took the building dir from under us: we stalled past
                # its grace between mkdir and flock. Start over with a new one.
                continue
            except OSError as exc:
                raise creation_error(base_dir, exc) from exc
        else:
            raise TempFileError(
                f"cannot create a temp session in {base_dir}: it vanished while being set up, {BUILD_ATTEMPTS} "
                "times (a sweep reclaims a set-up that stalls for over a minute, or something deletes the "
                "directory). Check what else cleans it, and try again."
            )
        st = os.fstat(self._lock.fd)
        self.identity: tuple[int, int] = (st.st_dev, st.st_ino)
        self.owner_pid = pid
        self._heartbeat = heartbeat
        heartbeat.add(self)

    @staticmethod
    def _build(base_dir: Path, prefix: str, pid: int) -> tuple[LockFd, Path]:
        token = secrets.token_hex(6)
        building = base_dir / f".{prefix}{BUILDING_INFIX}{pid}-{token}"
        os.mkdir(building, 0o700)
        lock: LockFd | None = None
        try:
            lock = LockFd(building, session=True)
            fcntl.flock(lock.fd, fcntl.LOCK_SH)
            owner = {"pid": pid, "host": HOST, "boot_id": BOOT_ID, "started": time.time()}
            fd = os.open(building / OWNER_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
            with os.fdopen(fd, "w") as fh:
                json.dump(owner, fh)
            path = base_dir / f"{prefix}{SESSION_INFIX}{pid}-{token}"
            # The rename is what makes the session visible: it is already locked here.
            os.rename(building, path)
        except BaseException:
            if lock is not None:
                lock.close()
            try:
                remove_tree(building)
            except OSError:
                pass  # the sweep takes what is left once our lock is gone
            raise
        return lock, path

    def beat(self) -> None:
        """Refresh the heartbeat mtime; silent when the session is gone."""
        try:
            os.utime(self.path / OWNER_FILE)
        except OSError:
            pass

    def release(self, *, remove: bool = True) -> tuple[int, int]:
        """Delete the directory (when asked) and drop the lock; returns (files, bytes) removed."""
        removed = (0, 0)
        try:
            if remove and self._lock.fd >= 0:
                removed = remove_tree(self.path)
        finally:
            self._lock.close()  # closing the last fd drops the flock
            self._heartbeat.discard(self)
        return removed

    def disown(self) -> None:
        """In a forked child: forget the inherited fd without touching the parent's lock.

        The lock belongs to the open file description the parent shares; once the
        child's copy of the fd is closed, the parent's death frees the session.
        (The fork hook of ``_fds`` has closed it already; this makes it explicit.)
        """
        self._lock.close()


def _after_fork_in_child() -> None:
    PROCESS_HEARTBEAT._reset_after_fork()


os.register_at_fork(after_in_child=_after_fork_in_child)
