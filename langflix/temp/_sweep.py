"""Reclaiming what provably has no owner, and reporting on every area under a base dir.

Every tree under ``base_dir`` named like an area of the prefix has an owner
(an :class:`~langflix.temp._owners.AreaOwner`); the sweep reclaims it only when
that owner is provably gone, and always by the same step
(:func:`~langflix.temp._owners.reclaim_locked`: rename to ``garbage-``, then
delete). A session's owner is a process (:class:`ProcessOwner`), and the proof
is its lock: "can I take ``LOCK_EX`` without waiting?" answers "is it
abandoned?" (the kernel drops a dead owner's ``flock``, and keeps it while any
child the owner handed it to still runs). A free lock is proof when the owner
ran under this very kernel (the same boot id: any container of this machine,
whatever its hostname) or when the filesystem is local (only this kernel can
lock it; another boot's owner is gone). Where it cannot vouch (another machine
over a network filesystem, no flock at all) only a heartbeat silent for longer
than ``min_age`` makes a tree reclaimable. The other owners (an upload's
expiry, a lease) give their own proof, asked the same way by :func:`sweep_areas`.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal

from langflix.errors import OwnerUnknownError
from langflix.temp._fds import LockFd
from langflix.temp._names import DEFAULT_PREFIX, safe_prefix
from langflix.temp._owners import (
    AREA_OWNERS,
    BUILDING_GRACE,
    AreaOwner,
    OwnerState,
    lock_state,
    reclaim_locked,
)
from langflix.temp._sessions import (
    BUILDING_INFIX,
    GARBAGE_INFIX,
    OWNER_FILE,
    SESSION_INFIX,
    OwnerInfo,
    check_base_dir,
)
from langflix.temp._settings import default_base_dir
from langflix.temp._trees import tree_bytes

__all__ = [
    "BUILDING_GRACE",
    "NETWORK_FILESYSTEMS",
    "ProcessOwner",
    "SessionInfo",
    "SessionState",
    "SweepReport",
    "filesystem_type",
    "is_network_filesystem",
    "list_areas",
    "list_sessions",
    "sweep_areas",
    "sweep_orphans",
]

logger = logging.getLogger("langflix.temp")

# Filesystems where another machine may hold (or have held) a session's lock, so
# a free lock of another boot proves nothing. FUSE counts: sshfs, rclone, ...
NETWORK_FILESYSTEMS: Final = frozenset(
    {"nfs", "nfs4", "cifs", "smb3", "smbfs", "ceph", "9p", "afs", "coda", "glusterfs", "lustre", "gfs2",
     "ocfs2", "gpfs", "beegfs", "orangefs", "pvfs2", "virtiofs", "davfs", "ncpfs"}
)  # fmt: skip

# mountinfo writes a space, a tab, a newline or a backslash in a path as \040, \011, \012, \134.
_MOUNTINFO_ESCAPE: Final = re.compile(r"\\([0-7]{3})")

SessionState = OwnerState
_Kind = tuple[AreaOwner, bool] | Literal["garbage"]
"""An area of an owner (True: half-built), or a deletion someone started."""


_GONE_OWNER_WORDS: Final = {"upload": "expired upload(s)", "lease": "abandoned staging area(s)"}


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
    expired_by_area: dict[str, int] = field(default_factory=dict)
    """``expired_removed`` by the kind of owner that is gone ("upload", "lease")."""

    def _gone_owners(self, verb: str, skip: str = "") -> str:
        return "".join(
            f"; {verb} {n} {_GONE_OWNER_WORDS.get(area, f'{area} area(s) whose owner is gone')}"
            for area, n in sorted(self.expired_by_area.items())
            if area != skip
        )

    def summary(self) -> str:
        verb = "would reclaim" if self.dry_run else "reclaimed"
        text = (
            f"{verb} {self.removed} dead session(s), {self.bytes_freed:,} bytes "
            f"under {self.base_dir}; {self.skipped_live} live session(s) left alone"
        )
        if self.stale_removed:
            text += f"; {self.stale_removed} of them stale by heartbeat (their lock proves nothing here)"
        text += self._gone_owners(verb)
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
    """What the tree is: "session", "building", "garbage", or another owner's kind ("upload", "lease")."""
    holder: str | None = None
    """Who owns an area of an owner other than a process, for people (a lease's name, host and pid)."""


@dataclass(frozen=True, slots=True)
class _Outcome:
    kind: Literal["removed", "stale", "garbage", "expired", "live", "unverifiable", "gone", "young", "foreign"]
    nbytes: int = 0
    error: str | None = None
    area: str = "garbage"


def _name_pattern(prefix: str, owners: Sequence[AreaOwner]) -> re.Pattern[str]:
    # The exact names the owners make, not just their start: a user's
    # "langflix_session-notes" directory is not a session and is never deleted.
    p = re.escape(prefix)
    alternatives = [rf"(?P<garbage>{p}{GARBAGE_INFIX}[0-9a-f]{{16}})"]
    for n, owner in enumerate(owners):
        alternatives.append(rf"(?P<area{n}>{p}{re.escape(owner.infix)}{owner.id_pattern})")
        if owner.building_pattern is not None:
            alternatives.append(rf"(?P<building{n}>\.{p}{BUILDING_INFIX}{owner.building_pattern})")
    return re.compile("|".join(alternatives))


def _kind_of(match: re.Match[str], owners: Sequence[AreaOwner]) -> _Kind:
    group = str(match.lastgroup)
    if group == "garbage":
        return "garbage"
    building = group.startswith("building")
    return owners[int(group.removeprefix("building" if building else "area"))], building


def _candidates(base_dir: Path, prefix: str, owners: Sequence[AreaOwner]) -> Iterator[tuple[Path, _Kind]]:
    pattern = _name_pattern(prefix, owners)
    try:
        it = os.scandir(base_dir)
    except FileNotFoundError:
        return
    with it:
        for entry in it:
            match = pattern.fullmatch(entry.name)
            # Only real directories: a symlink named like an area is never ours.
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


class ProcessOwner(AreaOwner):
    """Sessions: owned by the process holding their ``flock`` (``LOCK_SH``) for its whole life.

    ``base_dir``: where the sessions are (a free lock proves less on a network
    filesystem); ``min_age``: seconds of heartbeat silence that make a session
    whose lock cannot vouch reclaimable anyway (0: never).
    """

    infix = SESSION_INFIX
    id_pattern = r"\d+-[0-9a-f]{12}"
    building_pattern = r"\d+-[0-9a-f]{12}"

    def __init__(self, base_dir: Path, min_age: float = 0.0) -> None:
        self.base_dir = base_dir
        self.min_age = min_age
        self._network: bool | None = None

    @property
    def network(self) -> bool:
        """Whether the base dir is on a filesystem other machines may lock (read once, when first asked)."""
        if self._network is None:  # two threads may both read it: the same answer
            self._network = is_network_filesystem(self.base_dir)
        return self._network

    def state(self, fd: int, path: Path, now: float) -> OwnerState:
        return self._state(fd, path, now, building=False)

    def building_state(self, fd: int, path: Path, now: float) -> OwnerState:
        # Locked by its creator from the instant after mkdir: the lock decides
        # once the grace for that instant has passed.
        return self._state(fd, path, now, building=True)

    def _state(self, fd: int, path: Path, now: float, *, building: bool) -> OwnerState:
        # Owners hold LOCK_SH, sweepers (and status probes) LOCK_EX. If a shared
        # lock is still grantable the holder is an owner (or a helper process it
        # handed the lock to); otherwise another sweeper is deleting the tree and
        # must not be counted as a live session.
        held = lock_state(fd)
        if held in ("live", "busy"):
            return held
        heartbeat = _heartbeat_age(path, now)
        if building and heartbeat < BUILDING_GRACE:
            return "building"
        # Not the hostname: a container of this machine has its own, yet the same
        # kernel, the same boot id and locks that work.
        if held == "held" and _lock_vouches(OwnerInfo.read(path), self.network):
            return "dead"
        # The lock cannot vouch here (another machine on NFS, or no flock at all):
        # only silence longer than min_age makes a session reclaimable.
        if self.min_age > 0 and heartbeat >= self.min_age:
            return "stale"
        return "unknown"


def _garbage_state(fd: int) -> OwnerState:
    """A ``garbage-`` tree is no one's: finish its deletion unless another sweeper holds it."""
    held = lock_state(fd)
    return "busy" if held == "busy" else "live" if held == "live" else "garbage"


def _owner_state(fd: int, path: Path, kind: _Kind, now: float) -> OwnerState:
    """Whether the owner of the tree open at ``fd`` is provably gone (with ``LOCK_EX`` held, where flock works)."""
    if kind == "garbage":
        return _garbage_state(fd)
    owner, building = kind
    return owner.building_state(fd, path, now) if building else owner.state(fd, path, now)


def _heartbeat_age(path: Path, now: float) -> float:
    for candidate in (path / OWNER_FILE, path):
        try:
            return now - candidate.stat().st_mtime
        except OSError:
            continue
    return float("inf")


def _reclaim(path: Path, kind: _Kind, prefix: str, dry_run: bool) -> _Outcome:
    try:
        lock = LockFd(path)  # closed in a forked child: a fork mid-sweep never keeps our LOCK_EX
    except FileNotFoundError:
        return _Outcome("gone")  # another sweeper took it first
    except PermissionError:
        # Another user's area (0700) on a shared base dir such as /tmp: theirs
        # to sweep, neither an error nor ours to count.
        return _Outcome("foreign")
    except OSError as exc:
        return _Outcome("gone", error=f"cannot open {path}: {exc}")
    try:
        try:
            state = _owner_state(lock.fd, path, kind, time.time())
        except OwnerUnknownError as exc:  # its keeper is unreachable: keep, never guess
            return _Outcome("unverifiable", error=str(exc))
        if state == "busy":
            return _Outcome("gone")  # another sweeper holds it and counts it
        if state == "live":
            # Renamed away meanwhile: a sweeper that finished between our two flocks.
            return _Outcome("gone" if kind == "garbage" or not path.exists() else "live")
        if state == "unknown":
            return _Outcome("unverifiable")
        if state == "building":
            return _Outcome("young")
        nbytes = reclaim_locked(path, lock.fd, prefix, dry_run=dry_run, garbage=kind == "garbage")
        if nbytes is None:
            return _Outcome("gone")  # a newer tree took the name: not the one we judged
        area = "garbage" if kind == "garbage" else kind[0].area
        return _Outcome("removed" if state == "dead" else state, nbytes, area=area)
    except FileNotFoundError:
        return _Outcome("gone")
    except OSError as exc:
        return _Outcome("gone", error=f"cannot reclaim {path}: {exc}")
    finally:
        lock.close()


def sweep_areas(
    base_dir: Path, prefix: str, owners: Sequence[AreaOwner], *, dry_run: bool = False, workers: int = 4
) -> SweepReport:
    """Reclaim every area under ``base_dir`` whose owner (one of ``owners``) is provably gone, and every garbage tree.

    Safe to run on any host at any time, by several at once. A reclaimed area
    of a process counts in ``removed``, of any other owner in ``expired_removed``.
    """
    # Unlinking releases the GIL, so a few threads keep the disk busy; results
    # are merged here, so the report counts each tree once.
    report = SweepReport(base_dir=base_dir, dry_run=dry_run)
    candidates = list(_candidates(base_dir, prefix, owners))
    if not candidates:
        return report
    # What lies in a base dir another user controls must not steer our deletions.
    check_base_dir(base_dir)
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(candidates)))) as pool:
        outcomes = list(pool.map(lambda c: _reclaim(c[0], c[1], prefix, dry_run), candidates))
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
            report.expired_by_area[outcome.area] = report.expired_by_area.get(outcome.area, 0) + 1
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
    area besides sessions to judge (by default an upload's expiry).
    """
    base = Path(base_dir) if base_dir is not None else default_base_dir()
    report = sweep_areas(base, safe_prefix(prefix), (ProcessOwner(base, min_age), *owners), dry_run=dry_run)
    if report.removed or report.garbage_finished or report.expired_removed:
        logger.info("temp sweep: %s", report.summary())
    return report


def list_areas(base_dir: str | os.PathLike[str], prefix: str, owners: Sequence[AreaOwner]) -> list[SessionInfo]:
    """Every area of ``owners`` (and every garbage tree) of ``prefix`` under ``base_dir``, with its state.

    Touches nothing.
    """
    now = time.time()
    infos = []
    for path, kind in _candidates(Path(base_dir), prefix, owners):
        try:
            lock = LockFd(path)
        except OSError:
            continue
        try:
            state = _owner_state(lock.fd, path, kind, now)
            fcntl.flock(lock.fd, fcntl.LOCK_UN)
        except (OSError, OwnerUnknownError):  # the owner's keeper cannot say
            state = "unknown"
        finally:
            lock.close()
        holder = None
        if kind == "garbage":
            area, process = "garbage", True
        else:
            owner, building = kind
            process = isinstance(owner, ProcessOwner)
            area = "building" if building else owner.area
            holder = None if building else owner.describe(path)
        info = OwnerInfo.read(path) if process else None
        infos.append(SessionInfo(path, state, info, _heartbeat_age(path, now), tree_bytes(path), area, holder))
    return infos


def list_sessions(
    base_dir: str | os.PathLike[str], prefix: str = DEFAULT_PREFIX, *, owners: Sequence[AreaOwner] = AREA_OWNERS
) -> list[SessionInfo]:
    """Every session-like tree of ``prefix`` under ``base_dir`` (and every area of ``owners``) with its state.

    Touches nothing.
    """
    return list_areas(base_dir, prefix, (ProcessOwner(Path(base_dir)), *owners))
