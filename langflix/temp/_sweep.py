"""Reclaiming what provably has no owner, and reporting on every session under a base dir.

Every tree under ``base_dir`` named like an area of the prefix has an owner;
the sweep reclaims it only when that owner is provably gone. A session's owner
is a process, and the proof is its lock: "can I take ``LOCK_EX`` without waiting?"
answers "is it abandoned?" (the kernel drops a dead owner's ``flock``, and keeps
it while any child the owner handed it to still runs). A free lock is proof when
the owner ran under this very kernel (the same boot id: any container of this
machine, whatever its hostname) or when the filesystem is local (only this
kernel can lock it; another boot's owner is gone). Where it cannot vouch
(another machine over a network filesystem, no flock at all) only a heartbeat
silent for longer than ``min_age`` makes a tree reclaimable. The other owners
(an upload's expiry, see ``_owners``) give their own proof, asked the same way.

Reclaiming renames a dead tree to a ``garbage-`` name first (pytest's
``_pytest/pathlib.py`` trick) so two sweepers never delete one tree together,
and checks ``(st_dev, st_ino)`` so a newer tree that took the name is never deleted.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import re
import secrets
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal

from langflix.temp._fds import LockFd
from langflix.temp._names import DEFAULT_PREFIX, safe_prefix
from langflix.temp._owners import AREA_OWNERS, AreaOwner
from langflix.temp._persist import remove_recorded_staging
from langflix.temp._sessions import (
    BUILDING_INFIX,
    GARBAGE_INFIX,
    OWNER_FILE,
    SESSION_INFIX,
    OwnerInfo,
    check_base_dir,
)
from langflix.temp._settings import default_base_dir
from langflix.temp._trees import remove_tree, tree_bytes

__all__ = [
    "NETWORK_FILESYSTEMS",
    "SessionInfo",
    "SessionState",
    "SweepReport",
    "filesystem_type",
    "is_network_filesystem",
    "list_sessions",
    "sweep_orphans",
]

logger = logging.getLogger("langflix.temp")

# A building dir exists unlocked for the instant between mkdir and flock; a sweep
# must not take it from under its creator, so it waits this long before trusting the lock.
BUILDING_GRACE: Final = 60.0

# Filesystems where another machine may hold (or have held) a session's lock, so
# a free lock of another boot proves nothing. FUSE counts: sshfs, rclone, ...
NETWORK_FILESYSTEMS: Final = frozenset(
    {"nfs", "nfs4", "cifs", "smb3", "smbfs", "ceph", "9p", "afs", "coda", "glusterfs", "lustre", "gfs2",
     "ocfs2", "gpfs", "beegfs", "orangefs", "pvfs2", "virtiofs", "davfs", "ncpfs"}
)  # fmt: skip

# mountinfo writes a space, a tab, a newline or a backslash in a path as \040, \011, \012, \134.
_MOUNTINFO_ESCAPE: Final = re.compile(r"\\([0-7]{3})")

SessionState = Literal["live", "busy", "dead", "stale", "unknown", "building", "garbage", "expired"]
_Kind = Literal["session", "garbage", "building"] | AreaOwner


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
    expired_removed: int = 0
    """Areas of other owners reclaimed (uploads past their expiry or deleted); counted in bytes_freed."""
    dry_run: bool = False
    errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        verb = "would reclaim" if self.dry_run else "reclaimed"
        text = (
            f"{verb} {self.removed} dead session(s), {self.bytes_freed:,} bytes "
            f"under {self.base_dir}; {self.skipped_live} live session(s) left alone"
        )
        if self.stale_removed:
            text += f"; {self.stale_removed} of them stale by heartbeat (their lock proves nothing here)"
        if self.expired_removed:
            text += f"; {verb} {self.expired_removed} expired upload(s)"
        if self.garbage_finished:
            text += f"; finished {self.garbage_finished} interrupted deletion(s)"
        if self.skipped_unverifiable:
            text += (
                f"; {self.skipped_unverifiable} kept: made on another machine over a network filesystem "
                "(or where flock fails), so a free lock proves nothing, and not silent for --min-age"
            )
        if self.skipped_foreign:
            text += f"; {self.skipped_foreign} of other users left to them (no permission)"
        if self.errors:
            text += f"; {len(self.errors)} error(s)"
        return text


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """One entry of :func:`list_sessions`: what ``langflix temp status`` shows."""

    path: Path
    state: SessionState
    owner: OwnerInfo | None
    age: float
    bytes: int
    area: str = "session"
    """What the tree is: "session", "building", "garbage", or another owner's kind ("upload")."""


@dataclass(frozen=True, slots=True)
class _Outcome:
    kind: Literal["removed", "stale", "garbage", "expired", "live", "unverifiable", "gone", "young", "foreign"]
    nbytes: int = 0
    error: str | None = None


def _name_pattern(prefix: str, owners: Sequence[AreaOwner]) -> re.Pattern[str]:
    # The exact names SessionLock and _reclaim make, not just their start: a
    # user's "langflix_session-notes" directory is not a session and is never deleted.
    p = re.escape(prefix)
    alternatives = "".join(
        rf"|(?P<owner{n}>{p}{re.escape(owner.infix)}{owner.id_pattern})" for n, owner in enumerate(owners)
    )
    return re.compile(
        rf"(?P<session>{p}{SESSION_INFIX}\d+-[0-9a-f]{{12}})"
        rf"|(?P<garbage>{p}{GARBAGE_INFIX}[0-9a-f]{{16}})"
        rf"|(?P<building>\.{p}{BUILDING_INFIX}\d+-[0-9a-f]{{12}})" + alternatives
    )


def _kind_of(match: re.Match[str], owners: Sequence[AreaOwner]) -> _Kind:
    if match["session"]:
        return "session"
    if match["garbage"]:
        return "garbage"
    if match["building"]:
        return "building"
    return owners[int(str(match.lastgroup).removeprefix("owner"))]


def _candidates(base_dir: Path, prefix: str, owners: Sequence[AreaOwner]) -> Iterator[tuple[Path, _Kind]]:
    pattern = _name_pattern(prefix, owners)
    try:
        it = os.scandir(base_dir)
    except FileNotFoundError:
        return
    with it:
        for entry in it:
            match = pattern.fullmatch(entry.name)
            # Only real directories: a symlink named like a session is never ours.
            if match and entry.is_dir(follow_symlinks=False):
                yield Path(entry.path), _kind_of(match, owners)


def filesystem_type(path: str | os.PathLike[str], mountinfo: str | None = None) -> str | None:
    """The type of the filesystem holding ``path`` ("ext4", "nfs4", "fuse.sshfs"); None if unknown.

    Found by the device id of ``path``; where no mount shows that id (a btrfs
    subvolume that is not mounted by itself has its own), by the deepest mount
    point above ``path``. ``mountinfo``: the text of ``/proc/self/mountinfo``
    (read when None).
    """
    try:
        st = os.stat(path)
        real = os.path.realpath(path)
        text = Path("/proc/self/mountinfo").read_text() if mountinfo is None else mountinfo
    except OSError:
        return None
    device = f"{os.major(st.st_dev)}:{os.minor(st.st_dev)}"
    deepest: tuple[int, str] | None = None
    for line in text.splitlines():
        # "36 35 98:0 /root /mnt rw,noatime master:1 - ext3 /dev/root rw": the type follows " - ".
        fields, _, tail = line.partition(" - ")
        parts = fields.split()
        if len(parts) < 5 or not tail:
            continue
        kind = tail.split()[0]
        if parts[2] == device:
            return kind
        mount_point = _MOUNTINFO_ESCAPE.sub(lambda m: chr(int(m[1], 8)), parts[4])
        above = mount_point == "/" or real == mount_point or real.startswith(mount_point + "/")
        # ">=": a later mount on the same point hides the earlier one.
        if above and (deepest is None or len(mount_point) >= deepest[0]):
            deepest = (len(mount_point), kind)
    return deepest[1] if deepest is not None else None


def is_network_filesystem(path: str | os.PathLike[str]) -> bool:
    """Whether another machine could lock files under ``path`` (or nobody knows: unknown is not local)."""
    kind = filesystem_type(path)
    return kind is None or kind in NETWORK_FILESYSTEMS or kind.startswith("fuse")


def _lock_vouches(owner: OwnerInfo | None, network: bool) -> bool:
    """Whether a free lock proves the owner dead: it could only have locked it through this kernel."""
    # No record: the owner died before writing it, on this machine (a building
    # dir is only ever made and then locked by its creator).
    return owner is None or owner.is_this_machine or not network


def _owner_state(fd: int, path: Path, kind: _Kind, min_age: float, now: float, network: bool) -> SessionState:
    """Whether the owner of the tree open at ``fd`` is provably gone (see :func:`_process_owner_state`)."""
    if isinstance(kind, AreaOwner):
        return kind.state(fd, path, now)
    return _process_owner_state(fd, path, kind, min_age, now, network)


def _process_owner_state(
    fd: int, path: Path, kind: Literal["session", "garbage", "building"], min_age: float, now: float, network: bool
) -> SessionState:
    """Whether the process owning the tree open at ``fd`` is provably gone.

    On "dead", "stale" and "garbage" the caller holds ``LOCK_EX`` through ``fd``.
    ``network``: the base dir is on a filesystem other machines may lock.
    """
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        lock_usable = True
    except BlockingIOError:
        # Owners hold LOCK_SH, sweepers (and status probes) LOCK_EX. If a shared
        # lock is still grantable the holder is an owner (or a helper process it
        # handed the lock to); otherwise another sweeper is deleting the tree and
        # must not be counted as a live session.
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
    # Not the hostname: a container of this machine has its own, yet the same
    # kernel, the same boot id and locks that work.
    if lock_usable and _lock_vouches(OwnerInfo.read(path), network):
        return "dead"
    # The lock cannot vouch here (another machine on NFS, or no flock at all):
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


def _reclaim(path: Path, kind: _Kind, prefix: str, min_age: float, dry_run: bool, network: bool) -> _Outcome:
    try:
        lock = LockFd(path)  # closed in a forked child: a fork mid-sweep never keeps our LOCK_EX
    except FileNotFoundError:
        return _Outcome("gone")  # another sweeper took it first
    except PermissionError:
        # Another user's session (0700) on a shared base dir such as /tmp: theirs
        # to sweep, neither an error nor ours to count.
        return _Outcome("foreign")
    except OSError as exc:
        return _Outcome("gone", error=f"cannot open {path}: {exc}")
    fd = lock.fd
    try:
        state = _owner_state(fd, path, kind, min_age, time.time(), network)
        if state == "busy":
            return _Outcome("gone")  # another sweeper holds it and counts it
        if state == "live":
            # Renamed away meanwhile: a sweeper that finished between our two flocks.
            return _Outcome("gone" if kind == "garbage" or not path.exists() else "live")
        if state == "unknown":
            return _Outcome("unverifiable")
        if state == "building":
            return _Outcome("young")
        # Never delete a newer tree that replaced the one we locked (filelock's
        # (st_dev, st_ino) check before unlinking).
        held, named = os.fstat(fd), os.lstat(path)
        if (held.st_dev, held.st_ino) != (named.st_dev, named.st_ino):
            return _Outcome("gone")
        outcome: Literal["removed", "stale", "garbage", "expired"] = "removed" if state == "dead" else state
        if dry_run:
            return _Outcome(outcome, tree_bytes(path))
        target = path
        if kind != "garbage":
            target = path.with_name(f"{prefix}{GARBAGE_INFIX}{secrets.token_hex(8)}")
            os.rename(path, target)
        # A persist that crashed mid-copy left its staging dir beside its
        # destination, outside base_dir; the session's record of it says where.
        staged = remove_recorded_staging(target)
        _entries, nbytes = remove_tree(target)
        return _Outcome(outcome, nbytes + staged)
    except FileNotFoundError:
        return _Outcome("gone")
    except OSError as exc:
        return _Outcome("gone", error=f"cannot reclaim {path}: {exc}")
    finally:
        lock.close()


def _sweep(
    base_dir: Path,
    prefix: str,
    *,
    min_age: float,
    dry_run: bool,
    owners: Sequence[AreaOwner] = AREA_OWNERS,
    workers: int = 4,
) -> SweepReport:
    # Unlinking releases the GIL, so a few threads keep the disk busy; results
    # are merged here, so the report counts each tree once.
    report = SweepReport(base_dir=base_dir, dry_run=dry_run)
    candidates = list(_candidates(base_dir, prefix, owners))
    if not candidates:
        return report
    # What lies in a base dir another user controls must not steer our deletions.
    check_base_dir(base_dir)
    network = is_network_filesystem(base_dir)
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(candidates)))) as pool:
        outcomes = list(pool.map(lambda c: _reclaim(c[0], c[1], prefix, min_age, dry_run, network), candidates))
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
        elif outcome.kind == "expired":
            report.expired_removed += 1
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


def sweep_orphans(
    base_dir: str | os.PathLike[str] | None = None,
    prefix: str = DEFAULT_PREFIX,
    *,
    min_age: float = 0.0,
    dry_run: bool = False,
    owners: Sequence[AreaOwner] = AREA_OWNERS,
) -> SweepReport:
    """Reclaim every abandoned session, expired upload, building dir and garbage tree of ``prefix`` under ``base_dir``.

    ``base_dir`` defaults to :func:`default_base_dir`. A session whose lock is
    held is never touched, whatever its age; ``min_age`` only matters where the
    lock cannot vouch (another host, no flock support). ``owners``: the kinds of
    area besides sessions to judge (by default an upload's expiry; a lease owner
    for a shared directory is passed here, beside it).
    """
    base = Path(base_dir) if base_dir is not None else default_base_dir()
    report = _sweep(base, safe_prefix(prefix), min_age=min_age, dry_run=dry_run, owners=owners)
    if report.removed or report.garbage_finished or report.expired_removed:
        logger.info("temp sweep: %s", report.summary())
    return report


def list_sessions(
    base_dir: str | os.PathLike[str], prefix: str = DEFAULT_PREFIX, *, owners: Sequence[AreaOwner] = AREA_OWNERS
) -> list[SessionInfo]:
    """Every session-like tree of ``prefix`` under ``base_dir`` (and every area of ``owners``) with its state.

    Touches nothing.
    """
    now = time.time()
    infos = []
    candidates = list(_candidates(Path(base_dir), prefix, owners))
    network = is_network_filesystem(base_dir) if candidates else False
    for path, kind in candidates:
        try:
            lock = LockFd(path)
        except OSError:
            continue
        try:
            state = _owner_state(lock.fd, path, kind, 0.0, now, network)
            fcntl.flock(lock.fd, fcntl.LOCK_UN)
        except OSError:
            state = "unknown"
        finally:
            lock.close()
        area = kind.infix.rstrip("-") if isinstance(kind, AreaOwner) else kind
        owner = None if isinstance(kind, AreaOwner) else OwnerInfo.read(path)
        infos.append(SessionInfo(path, state, owner, _heartbeat_age(path, now), tree_bytes(path), area))
    return infos
