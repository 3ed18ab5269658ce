"""Who owns an area under a base dir, the proof that the owner is gone, and the one step that reclaims it.

Every area has exactly one owner, and its end is its owner's to decide: an
area is reclaimed only on proof that the owner is gone. Each kind of owner is
an :class:`AreaOwner`: the name its areas carry after the prefix, the name of
its half-built areas, and its proof.

- a **process** owns its session (``_sweep.ProcessOwner``): its free ``flock``
  is the proof that it died, however it died;
- a **lease** owns staging in a directory several hosts share
  (``_leases.LeaseOwner``), where a lock proves nothing: the lease's keeper
  says it has expired and its work will never run again;
- an **expiry** owns a resumable upload (:data:`EXPIRY_OWNER`): no process
  owns it (it must outlive the server that received its first bytes); it is
  gone once its deadline has passed and no request is writing it.

The proof is always asked with the sweeper holding ``LOCK_EX`` on the area's
directory (taken without waiting, where the filesystem locks at all), so
whoever is using an area right now (a writer or a session holds ``LOCK_SH``)
keeps it. Then one step ends it, whoever the owner was:
:func:`reclaim_locked` renames the tree to a ``garbage-`` name (of two
sweepers, on any hosts, only one rename finds the name) after checking
``(st_dev, st_ino)`` (a newer area that took the name is never deleted), then
deletes it with everything a persist from it left behind.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import secrets
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

from langflix.temp._persist import remove_recorded_staging
from langflix.temp._sessions import GARBAGE_INFIX
from langflix.temp._trees import remove_tree, tree_bytes

__all__ = [
    "AREA_OWNERS",
    "BUILDING_GRACE",
    "DATA_FILE",
    "EXPIRY_OWNER",
    "INFO_FILE",
    "OFFSET_FILE",
    "UPLOAD_INFIX",
    "AreaOwner",
    "ExpiryOwner",
    "LockState",
    "OwnerState",
    "UploadRecord",
    "lock_state",
    "reclaim_locked",
]

UPLOAD_INFIX: Final = "upload-"
INFO_FILE: Final = "info.json"
OFFSET_FILE: Final = "offset"
DATA_FILE: Final = "data"

# A building dir exists unlocked for the instant between mkdir and flock (and,
# on a shared dir, between mkdir and rename); a sweep must not take it from
# under its creator, so it waits this long before trusting what it sees.
BUILDING_GRACE: Final = 60.0

OwnerState = Literal["live", "busy", "dead", "stale", "unknown", "building", "garbage", "expired"]
"""What a sweep learns of an area's owner.

"live": it holds the area; "busy": another sweeper does; "building": the area
is still being made; "unknown": nothing proves the owner gone (kept). The area
is reclaimed on "dead" (a process died), "stale" (a process silent past
``min_age`` where its lock proves nothing), "expired" (any other owner gone)
and "garbage" (a deletion someone started).
"""

LockState = Literal["held", "live", "busy", "unlockable"]


def lock_state(fd: int) -> LockState:
    """Take ``LOCK_EX`` on ``fd`` without waiting: "held" (now ours), "live" (a user holds it), "busy" (a sweeper).

    Users of an area hold ``LOCK_SH``; sweepers and exclusive users ``LOCK_EX``:
    when a shared lock is still grantable the holder is a user. "unlockable":
    the filesystem has no flock (some network filesystems), so no lock proves anything.
    """
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return "held"
    except BlockingIOError:
        pass
    except OSError as exc:
        if exc.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.EINVAL):
            raise
        return "unlockable"
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return "busy"
    return "live"


class AreaOwner(ABC):
    """One kind of owner: the areas it owns are ``<prefix><infix><id>`` directories under a base dir."""

    infix: str
    id_pattern: str
    """A regular expression for the id part of the name (exact names only: a look-alike is never ours)."""
    building_pattern: str | None = None
    """The id part of its half-built areas, ``.<prefix>building-<id>``; None when they are built
    under a process's building name (the process owns them until they are renamed into view)."""

    @property
    def area(self) -> str:
        """What ``langflix temp status`` calls its areas ("session", "upload", "lease")."""
        return self.infix.rstrip("-")

    @abstractmethod
    def state(self, fd: int, path: Path, now: float) -> OwnerState:
        """Whether the area open at ``fd`` is still owned; a reclaiming state leaves ``LOCK_EX`` held (if any).

        Raise :class:`~langflix.errors.OwnerUnknownError` when the owner's keeper cannot answer: the area is kept.
        """

    def describe(self, path: Path) -> str | None:
        """Who owns the area at ``path``, for people (``langflix temp status``); None when nothing says."""
        return None

    def building_state(self, fd: int, path: Path, now: float) -> OwnerState:
        """A half-built area of this owner: its maker's until :data:`BUILDING_GRACE` has passed.

        Such a dir is not locked by its maker (a lock proves nothing where the
        owner is not a process), so only its age tells that the maker is gone.
        """
        held = lock_state(fd)
        if held in ("live", "busy"):
            return held
        return "building" if now - os.fstat(fd).st_mtime < BUILDING_GRACE else "expired"


def reclaim_locked(path: Path, fd: int, prefix: str, *, dry_run: bool = False, garbage: bool = False) -> int | None:
    """End the tree at ``path``, open at ``fd`` (``LOCK_EX`` held where flock works): rename, then delete.

    Returns the bytes freed (or, with ``dry_run``, that would be), or None when
    ``path`` now names another tree than ``fd`` (a newer area took the name:
    it is not ours to touch). ``garbage``: ``path`` already is a ``garbage-``
    tree (an interrupted deletion), finished without a rename. The caller
    proved the owner gone; a rename that finds no name (another host's sweeper
    won) raises ``FileNotFoundError``.
    """
    # filelock's check before unlinking: never delete a newer tree that replaced the one we locked.
    held, named = os.fstat(fd), os.lstat(path)
    if (held.st_dev, held.st_ino) != (named.st_dev, named.st_ino):
        return None
    if dry_run:
        return tree_bytes(path)
    target = path
    if not garbage:
        # Of two sweepers (on any hosts) only one rename finds the name: the other stops here.
        target = path.with_name(f"{prefix}{GARBAGE_INFIX}{secrets.token_hex(8)}")
        os.rename(path, target)
    # A cross-filesystem persist killed mid-copy left its staging dir beside
    # its destination, outside the base dir; the area's record of it says where.
    staged = remove_recorded_staging(target)
    _entries, nbytes = remove_tree(target)
    return nbytes + staged


@dataclass(frozen=True, slots=True)
class UploadRecord:
    """What an upload's ``info.json`` says: fixed at creation, never rewritten."""

    length: int
    metadata: str
    created: float
    expires: float

    @classmethod
    def read(cls, area: Path) -> UploadRecord | None:
        """The record of the upload at ``area``, or None when missing or unreadable."""
        try:
            data = json.loads((area / INFO_FILE).read_text())
            return cls(int(data["length"]), str(data["metadata"]), float(data["created"]), float(data["expires"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def to_json(self) -> str:
        return json.dumps(
            {"length": self.length, "metadata": self.metadata, "created": self.created, "expires": self.expires}
        )


class ExpiryOwner(AreaOwner):
    """Resumable uploads: owned until their deadline, and while a request writes them."""

    infix = UPLOAD_INFIX
    id_pattern = "[0-9a-f]{32}"
    # Built held LOCK_EX by its maker: "busy" while it lives, then its age decides.
    building_pattern = rf"{UPLOAD_INFIX}[0-9a-f]{{12}}"

    def state(self, fd: int, path: Path, now: float) -> OwnerState:
        held = lock_state(fd)
        if held in ("live", "busy"):
            return held
        # "unlockable": no writer can hold it either (a writer needs LOCK_SH), so the deadline decides.
        record = UploadRecord.read(path)
        # An area is visible only once its record is written and synced (see
        # _uploads), so no record means it can never be resumed; no data means
        # a job took it (a crash between the move and the removal of the rest).
        if record is None or record.expires <= now or not os.path.lexists(path / DATA_FILE):
            return "expired"
        return "live"

    def describe(self, path: Path) -> str | None:
        record = UploadRecord.read(path)
        if record is None:
            return None
        return f"expiry {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime(record.expires))}"


EXPIRY_OWNER: Final = ExpiryOwner()
AREA_OWNERS: Final[tuple[AreaOwner, ...]] = (EXPIRY_OWNER,)
"""The owners besides a process that every sweep of a temp base dir judges."""
