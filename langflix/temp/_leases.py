"""Areas owned by a lease: staging in a directory several hosts share, where ``flock`` proves nothing.

A process owns its session through a lock the kernel drops when it dies; on a
directory that other hosts mount (NFS) no lock can prove that a process on
another machine is gone. There an area is owned by a **lease**: a named key
with a time to live, kept by whoever holds the area's work (the API while it
receives an upload, a worker while it runs the job) and checked by a
:class:`LeaseChecker` supplied from above; the temp layer never talks to the
lease's server itself. On disk, under the shared base dir::

    .<prefix>building-lease-<rand>/     being set up; invisible to sweeps for a grace period
    <prefix>lease-<lease>-<rand>/       an area; .owner names the lease (and, for people, host and pid)
    <prefix>garbage-<rand>/             being deleted by a sweeper

The holder takes its lease *before* the area becomes visible under its name,
so a sweep never finds an area whose lease was not yet taken. The lease is
one more :class:`~langflix.temp._owners.AreaOwner` (:class:`LeaseOwner`): a
sweep (:func:`sweep_leased`) reclaims an area only when the checker says its
lease is abandoned, through the same sweep and the same reclaim step as a
dead session or an expired upload: rename to ``garbage-`` first (of two
sweepers, on any hosts, one rename wins), ``(st_dev, st_ino)`` checked so a
newer area that took the name is never deleted.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Protocol

from langflix.errors import OwnerUnknownError, TempFileError
from langflix.temp._manager import TempFileManager
from langflix.temp._names import DEFAULT_PREFIX, creation_error, safe_prefix
from langflix.temp._owners import AREA_OWNERS, AreaOwner, OwnerState, lock_state
from langflix.temp._persist import SessionAnchor, remove_recorded_staging
from langflix.temp._sessions import BUILDING_INFIX, HOST, OWNER_FILE, check_base_dir
from langflix.temp._sweep import SessionInfo, SweepReport, list_areas, sweep_areas
from langflix.temp._trees import finalize_tree, remove_tree

__all__ = [
    "LEASE_INFIX",
    "LeaseChecker",
    "LeaseOwner",
    "LeaseSweepReport",
    "LeasedArea",
    "lease_of",
    "list_leased",
    "sweep_leased",
]

logger = logging.getLogger("langflix.temp")

LEASE_INFIX: Final = "lease-"
_LEASE_NAME: Final = re.compile(r"[A-Za-z0-9_]{1,64}")


class LeaseChecker(Protocol):
    """Whether a lease's holder is provably gone; supplied by the layer that keeps the leases."""

    def abandoned(self, lease: str) -> bool:
        """True only when ``lease`` has expired and nobody will take it again (its work is finished or unknown).

        Raise when it cannot tell (its server is unreachable): the area is kept.
        """
        ...


def _check_lease_name(lease: str) -> str:
    if not isinstance(lease, str) or not _LEASE_NAME.fullmatch(lease):
        raise ValueError(
            f"a lease name is 1 to 64 letters, digits or underscores (a job id), got {lease!r}; "
            "name the lease after its job"
        )
    return lease


@dataclass(frozen=True, slots=True)
class _AreaAnchor:
    """The area's directory and its identity: persist walks from it without following a link."""

    path: Path
    identity: tuple[int, int]


class LeasedArea(TempFileManager):
    """An area in a shared directory, owned by the lease ``lease`` rather than by this process.

    Same API as a manager (files, scopes, budgets, streams); what differs is
    the end. :meth:`close` removes the area (the work failed, or is finished);
    :meth:`handover` lets this process go while the bytes stay for the lease's
    next holder; and no sweep reclaims the area while its checker says the
    lease may still be taken. The caller takes the lease before making the
    area, so the area is never visible without it. :meth:`adopt` opens an area
    another process (or host) made.
    """

    def __init__(
        self,
        base_dir: str | os.PathLike[str],
        lease: str,
        *,
        prefix: str = DEFAULT_PREFIX,
        max_bytes: int | None = None,
        min_free_bytes: int = 0,
        _existing: Path | None = None,
    ) -> None:
        self.lease = _check_lease_name(lease)
        super().__init__(prefix, base_dir, max_bytes=max_bytes, min_free_bytes=min_free_bytes)
        self._handed_over = False
        self._dir = _existing if _existing is not None else _make_area(self.base_dir, self.prefix, lease)
        st = os.lstat(self._dir)
        self._area_anchor = _AreaAnchor(self._dir, (st.st_dev, st.st_ino))
        self._lease_finalizer = weakref.finalize(
            self, finalize_tree, str(self._dir), os.getpid(), f"leased temp area {self._dir}"
        )
        self._lease_finalizer.atexit = False  # interpreter exit closes it like any manager
        logger.debug("leased temp area opened: %s (lease %s)", self._dir, lease)

    @classmethod
    def adopt(cls, path: str | os.PathLike[str], *, prefix: str = DEFAULT_PREFIX) -> LeasedArea:
        """Open the existing area at ``path`` (made by another process or host); closing it removes it."""
        area = Path(os.path.abspath(path))
        match = _area_pattern(safe_prefix(prefix)).fullmatch(area.name)
        if match is None or not area.is_dir() or area.is_symlink():
            raise TempFileError(
                f"{area} is not a leased temp area (a directory named {prefix}{LEASE_INFIX}<lease>-<random>); "
                "pass the path the area was made at"
            )
        return cls(area.parent, match["lease"], prefix=prefix, _existing=area)

    # -- what a manager's session gives, from the lease's directory ----------
    @property
    def session_dir(self) -> Path:
        return self._dir

    @property
    def path(self) -> Path:
        return self._dir

    def _directory_path(self) -> Path:
        return self._dir

    def _anchor(self) -> SessionAnchor:
        return self._area_anchor

    def _measured(self) -> tuple[str, frozenset[str]] | None:
        if self._closed:
            return None
        return str(self._dir), frozenset([str(self._dir / OWNER_FILE)])

    def _describe(self) -> str:
        return f"temp area of lease {self.lease!r} under {self.base_dir}"

    def __repr__(self) -> str:
        state = " handed over" if self._handed_over else " closed" if self._closed else ""
        return f"<LeasedArea {self.lease!r} at {self._dir}{state}>"

    # -- its ends -----------------------------------------------------------
    def handover(self) -> None:
        """Let go of the area and keep its bytes: the lease's next holder owns them now.

        Nothing is deleted, now or at this process's exit; a later :meth:`close`
        does nothing. The lease must stay (or be taken again) for as long as the
        bytes are needed: past that, a sweep reclaims them.
        """
        with self._tree.lock:
            self._check_open()
            self._handed_over = True
            self._closed = True
            self._budget.release_all()  # the claims were this process's: its work here is over
            self._doom(lambda: [str(self._dir)])  # persists from it end first (the tree is closed for good)
            self._files.clear()
            self._dirs.clear()
            self._outside.clear()
            scopes = list(self._scopes)
        # A scope is work of this process only: it ends here, whoever holds the lease next.
        for scope in scopes:
            scope.close()
        self._finalizer.detach()
        self._lease_finalizer.detach()
        logger.debug("leased temp area handed over: %s (lease %s)", self._dir, self.lease)

    def close(self) -> None:
        """Remove the area and everything in it; twice (or after :meth:`handover`) is a no-op."""
        if self._not_owner():
            return  # a forked child never deletes what its parent holds
        with self._tree.lock:
            if self._closed:
                return
        self.cleanup_all()
        with self._tree.lock:
            self._closed = True
            self._budget.release_all()
            # Closed: no persist starts; the ones running from untracked paths
            # of the area end before it goes (the tree is closed for good).
            self._doom(lambda: [str(self._dir)])
        self._finalizer.detach()
        self._lease_finalizer.detach()
        remove_recorded_staging(self._dir)  # a persist a signal handler interrupted may have left one
        try:
            _entries, nbytes = remove_tree(self._dir)
        except OSError as exc:
            self._failed(self._dir, exc)
            return
        logger.debug("leased temp area closed: %s (%d bytes freed)", self._dir, nbytes)

    def _disown_after_fork(self) -> None:
        super()._disown_after_fork()
        self._lease_finalizer.detach()


def _make_area(base_dir: Path, prefix: str, lease: str) -> Path:
    """Create ``<prefix>lease-<lease>-<rand>`` complete with its ``.owner``, then make it visible by a rename."""
    try:
        base_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise creation_error(base_dir, exc, "a leased temp area") from exc
    check_base_dir(base_dir)  # whoever may rename our areas could swap one for a link
    token = secrets.token_hex(6)
    building = base_dir / f".{prefix}{BUILDING_INFIX}{LEASE_INFIX}{token}"
    os.mkdir(building, 0o700)
    try:
        owner = {"kind": "lease", "lease": lease, "pid": os.getpid(), "host": HOST, "started": time.time()}
        fd = os.open(building / OWNER_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(owner, fh)
        area = base_dir / f"{prefix}{LEASE_INFIX}{lease}-{token}"
        os.rename(building, area)
    except BaseException:
        remove_tree(building)
        raise
    return area



# -- the owner and its sweep ---------------------------------------------------


class LeaseOwner(AreaOwner):
    """Staging in a shared directory: owned by the lease each area names, for as long as ``checker`` says.

    Nobody holds a lock on such an area (on another host it would prove
    nothing); a sweeper's own ``LOCK_EX`` only keeps two sweepers of one host
    off the same tree, and across hosts the rename decides (only one finds the
    name). Its half-built areas (``.<prefix>building-lease-<rand>``) are
    unlocked too: only their age tells that their maker is gone.
    """

    infix = LEASE_INFIX
    id_pattern = r"[A-Za-z0-9_]{1,64}-[0-9a-f]{12}"
    building_pattern = rf"{LEASE_INFIX}[0-9a-f]{{12}}"

    def __init__(self, checker: LeaseChecker) -> None:
        self.checker = checker

    def state(self, fd: int, path: Path, now: float) -> OwnerState:
        held = lock_state(fd)
        if held == "busy":
            return held  # another sweeper of this host is deleting it
        # "live" cannot come from a holder (none locks a leased area): treat a
        # stray LOCK_SH like any other, as somebody's use of it.
        if held == "live":
            return held
        lease = lease_of(path)
        try:
            abandoned = self.checker.abandoned(lease)
        except Exception as exc:  # the lease's server is down: keep, never guess
            raise OwnerUnknownError(f"cannot check the lease {lease!r} of {path}: {exc}") from exc
        return "expired" if abandoned else "live"


    def describe(self, path: Path) -> str | None:
        text = f"lease {lease_of(path)}"
        try:
            made = json.loads((path / OWNER_FILE).read_text())
            return f"{text}, made by pid {int(made['pid'])} on {made['host']}"
        except (OSError, ValueError, KeyError, TypeError):
            return text


def lease_of(path: Path) -> str:
    """The lease an area's name says owns it (``<prefix>lease-<lease>-<rand>``).

    Read from the end: a lease name has no ``-`` and the random part is fixed,
    while a prefix may hold anything (even ``lease-``).
    """
    return path.name.rpartition("-")[0].rpartition("-")[2]


@dataclass(slots=True)
class LeaseSweepReport(SweepReport):
    """What one sweep of leased areas did: ``removed`` counts areas whose lease was abandoned."""

    def summary(self) -> str:
        verb = "would reclaim" if self.dry_run else "reclaimed"
        text = (
            f"{verb} {self.removed} abandoned staging area(s), {self.bytes_freed:,} bytes under {self.base_dir}; "
            f"{self.skipped_live} held by a live lease or a job that can still run left alone"
        )
        text += self._gone_owners(verb, skip=LeaseOwner.infix.rstrip("-"))
        if self.garbage_finished:
            text += f"; finished {self.garbage_finished} interrupted deletion(s)"
        if self.skipped_unverifiable:
            text += f"; {self.skipped_unverifiable} kept: the lease could not be checked"
        if self.errors:
            text += f"; {len(self.errors)} error(s)"
        return text


def _area_pattern(prefix: str) -> re.Pattern[str]:
    return re.compile(rf"{re.escape(prefix)}{LEASE_INFIX}(?P<lease>[A-Za-z0-9_]{{1,64}})-[0-9a-f]{{12}}")


def list_leased(
    base_dir: str | os.PathLike[str],
    checker: LeaseChecker,
    prefix: str = DEFAULT_PREFIX,
    *,
    owners: Sequence[AreaOwner] = AREA_OWNERS,
) -> list[SessionInfo]:
    """Every leased area (and every area of ``owners``) under ``base_dir``, with its state and holder; touches nothing.

    An area whose lease cannot be checked (its server is down) reads "unknown".
    """
    return list_areas(base_dir, safe_prefix(prefix), (LeaseOwner(checker), *owners))


def sweep_leased(
    base_dir: str | os.PathLike[str],
    checker: LeaseChecker,
    prefix: str = DEFAULT_PREFIX,
    *,
    dry_run: bool = False,
    owners: Sequence[AreaOwner] = AREA_OWNERS,
) -> LeaseSweepReport:
    """Reclaim every leased area under ``base_dir`` whose lease ``checker`` says is abandoned.

    Safe to run on any host at any time, by several at once: an area whose
    lease is held, or whose work may still run, is never touched, and neither
    is one the checker cannot vouch for. Interrupted deletions are finished.
    The session sweep's own protocol (:func:`~langflix.temp._sweep.sweep_areas`),
    with the lease as owner beside ``owners`` (by default an upload's expiry:
    a scaled-out service keeps its resumable uploads in the shared dir too).
    """
    base = Path(base_dir)
    lease = LeaseOwner(checker)
    swept = sweep_areas(base, safe_prefix(prefix), (lease, *owners), dry_run=dry_run)
    leased = swept.expired_by_area.pop(lease.area, 0)
    report = LeaseSweepReport(
        base_dir=base, dry_run=dry_run, errors=swept.errors, removed=leased,
        expired_removed=swept.expired_removed - leased, expired_by_area=swept.expired_by_area,
        bytes_freed=swept.bytes_freed, garbage_finished=swept.garbage_finished, skipped_live=swept.skipped_live,
        skipped_unverifiable=swept.skipped_unverifiable, skipped_foreign=swept.skipped_foreign,
    )  # fmt: skip
    if report.removed or report.garbage_finished:
        logger.info("leased temp sweep: %s", report.summary())
    return report
