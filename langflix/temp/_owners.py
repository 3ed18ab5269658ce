"""Who owns an area under ``base_dir`` besides a process, and the proof that the owner is gone.

Every area has exactly one owner and the sweep reclaims it only on proof that
the owner is gone. A session is owned by its process (the proof is its free
``flock``, decided in ``_sweep``). The owners here are the others, each an
:class:`AreaOwner`: the name its areas carry after the prefix, and its proof.

- :data:`EXPIRY_OWNER`: a resumable upload is owned by its deadline. No process
  owns it (it must outlive the server that received its first bytes); it is
  gone once its deadline has passed and no request is writing it.

A lease (a Redis key with a TTL, for staging areas in a directory several hosts
share) is one more :class:`AreaOwner` beside these: pass it in ``owners`` to
``sweep_orphans``/``list_sessions`` (with :data:`AREA_OWNERS`), or add it to
:data:`AREA_OWNERS` when every sweep must know it; the sweep and the report take
it in with the same rename-then-delete protocol. The proof is always asked with the sweeper holding
``LOCK_EX`` on the area's directory (taken without waiting), so whoever is
using an area right now (a writer holds ``LOCK_SH``) keeps it.
"""

from __future__ import annotations

import fcntl
import json
import os
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

__all__ = [
    "AREA_OWNERS",
    "DATA_FILE",
    "EXPIRY_OWNER",
    "INFO_FILE",
    "OFFSET_FILE",
    "UPLOAD_INFIX",
    "AreaOwner",
    "ExpiryOwner",
    "OwnerState",
    "UploadRecord",
    "lock_state",
]

UPLOAD_INFIX: Final = "upload-"
INFO_FILE: Final = "info.json"
OFFSET_FILE: Final = "offset"
DATA_FILE: Final = "data"

OwnerState = Literal["live", "busy", "expired"]


def lock_state(fd: int) -> Literal["held", "live", "busy"]:
    """Take ``LOCK_EX`` on ``fd`` without waiting: "held" (now ours), "live" (a user holds it), "busy" (a sweeper).

    Users of an area hold ``LOCK_SH``; sweepers and exclusive users ``LOCK_EX``.
    When a shared lock is still grantable the holder is a user.
    """
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return "held"
    except BlockingIOError:
        pass
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return "busy"
    return "live"


class AreaOwner(ABC):
    """One kind of owner: the areas it owns are ``<prefix><infix><id>`` directories under ``base_dir``."""

    infix: str
    id_pattern: str
    """A regular expression for the id part of the name (exact names only: a look-alike is never ours)."""

    @abstractmethod
    def state(self, fd: int, path: Path, now: float) -> OwnerState:
        """Whether the area open at ``fd`` is still owned; on "expired" the caller holds ``LOCK_EX``."""


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

    def state(self, fd: int, path: Path, now: float) -> OwnerState:
        held = lock_state(fd)
        if held != "held":
            return held
        record = UploadRecord.read(path)
        # An area is visible only once its record is written and synced (see
        # _uploads), so no record means it can never be resumed; no data means
        # a job took it (a crash between the move and the removal of the rest).
        if record is None or record.expires <= now or not os.path.lexists(path / DATA_FILE):
            return "expired"
        return "live"


EXPIRY_OWNER: Final = ExpiryOwner()
AREA_OWNERS: Final[tuple[AreaOwner, ...]] = (EXPIRY_OWNER,)
"""Every owner besides a process, in the order the sweep's name pattern tries them."""
