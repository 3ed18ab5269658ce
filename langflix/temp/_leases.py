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
so a sweep never finds an area whose lease was not yet taken. A sweep
(:func:`sweep_leased`) reclaims an area only when the checker says its lease
is abandoned, with the process sweep's protocol: rename to ``garbage-`` first
(of two sweepers, on any hosts, one rename wins), ``(st_dev, st_ino)`` checked
so a newer area that took the name is never deleted.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import secrets
import time
import warnings
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal, Protocol

from langflix.errors import TempFileError
from langflix.temp._manager import TempFileManager
from langflix.temp._names import DEFAULT_PREFIX, safe_prefix
from langflix.temp._sessions import BUILDING_INFIX, GARBAGE_INFIX, HOST, OWNER_FILE
from langflix.temp._sweep import BUILDING_GRACE, SweepReport
from langflix.temp._trees import DIR_FLAGS, remove_tree, tree_bytes

__all__ = ["LEASE_INFIX", "LeaseChecker", "LeaseSweepReport", "LeasedArea", "sweep_leased"]

logger = logging.getLogger("langflix.temp")

LEASE_INFIX: Final = "lease-"
_LEASE_NAME: Final = re.compile(r"[A-Za-z0-9_]{1,64}")
_BUILDING_LEASE: Final = f"{BUILDING_INFIX}{LEASE_INFIX}"


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
        self._lease_finalizer = weakref.finalize(self, _finalize_area, str(self._dir), os.getpid())
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
        self._finalizer.detach()
        self._lease_finalizer.detach()
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
    base_dir.mkdir(parents=True, exist_ok=True)
    token = secrets.token_hex(6)
    building = base_dir / f".{prefix}{_BUILDING_LEASE}{token}"
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


def _finalize_area(path: str, owner_pid: int) -> None:
    if os.getpid() != owner_pid:
        return
    warnings.warn(f"Implicitly cleaning up leased temp area {path}", ResourceWarning, stacklevel=2)
    try:
        remove_tree(path)
    except OSError as exc:
        logger.warning("could not remove leased temp area %s: %s", path, exc)


# -- the sweep -----------------------------------------------------------------


@dataclass(slots=True)
class LeaseSweepReport(SweepReport):
    """What one sweep of leased areas did: ``removed`` counts areas whose lease was abandoned."""

    def summary(self) -> str:
        verb = "would reclaim" if self.dry_run else "reclaimed"
        text = (
            f"{verb} {self.removed} abandoned staging area(s), {self.bytes_freed:,} bytes under {self.base_dir}; "
            f"{self.skipped_live} held by a live lease or a job that can still run left alone"
        )
        if self.garbage_finished:
            text += f"; finished {self.garbage_finished} interrupted deletion(s)"
        if self.skipped_unverifiable:
            text += f"; {self.skipped_unverifiable} kept: the lease could not be checked"
        if self.errors:
            text += f"; {len(self.errors)} error(s)"
        return text


_Kind = Literal["lease", "building", "garbage"]


def _area_pattern(prefix: str) -> re.Pattern[str]:
    return re.compile(rf"{re.escape(prefix)}{LEASE_INFIX}(?P<lease>[A-Za-z0-9_]{{1,64}})-[0-9a-f]{{12}}")


def _candidates(base_dir: Path, prefix: str) -> list[tuple[Path, _Kind, str]]:
    p = re.escape(prefix)
    pattern = re.compile(
        rf"(?P<lease>{p}{LEASE_INFIX}(?P<name>[A-Za-z0-9_]{{1,64}})-[0-9a-f]{{12}})"
        rf"|(?P<garbage>{p}{GARBAGE_INFIX}[0-9a-f]{{16}})"
        rf"|(?P<building>\.{p}{_BUILDING_LEASE}[0-9a-f]{{12}})"
    )
    found: list[tuple[Path, _Kind, str]] = []
    try:
        entries = list(os.scandir(base_dir))
    except FileNotFoundError:
        return found
    for entry in entries:
        match = pattern.fullmatch(entry.name)
        # Only real directories: a symlink named like an area is never ours.
        if match and entry.is_dir(follow_symlinks=False):
            kind: _Kind = "lease" if match["lease"] else "garbage" if match["garbage"] else "building"
            found.append((Path(entry.path), kind, match["name"] or ""))
    return found


_Outcome = Literal["removed", "garbage", "held", "unverifiable", "young", "gone"]


def _reclaim(
    path: Path, kind: _Kind, lease: str, checker: LeaseChecker, prefix: str, dry_run: bool, errors: list[str]
) -> tuple[_Outcome, int]:
    if kind == "lease":
        try:
            if not checker.abandoned(lease):
                return "held", 0
        except Exception as exc:  # the lease's server is down: keep, never guess
            errors.append(f"cannot check the lease {lease!r} of {path}: {exc}")
            return "unverifiable", 0
    elif kind == "building":
        try:
            if time.time() - path.stat().st_mtime < BUILDING_GRACE:
                return "young", 0  # its maker is between mkdir and rename
        except FileNotFoundError:
            return "gone", 0
    try:
        fd = os.open(path, DIR_FLAGS)
    except FileNotFoundError:
        return "gone", 0  # another sweeper took it first
    except OSError as exc:
        errors.append(f"cannot open {path}: {exc}")
        return "gone", 0
    try:
        # Two sweepers of one host: the lock keeps the second off a tree being deleted.
        # Across hosts the rename below decides: only one of them finds the name.
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return "gone", 0
        except OSError:
            pass  # no flock on this filesystem: the rename still decides
        held, named = os.fstat(fd), os.lstat(path)
        if (held.st_dev, held.st_ino) != (named.st_dev, named.st_ino):
            return "gone", 0
        outcome: _Outcome = "garbage" if kind == "garbage" else "removed"
        if dry_run:
            return outcome, tree_bytes(path)
        target = path
        if kind != "garbage":
            target = path.with_name(f"{prefix}{GARBAGE_INFIX}{secrets.token_hex(8)}")
            os.rename(path, target)
        _entries, nbytes = remove_tree(target)
        return outcome, nbytes
    except FileNotFoundError:
        return "gone", 0
    except OSError as exc:
        errors.append(f"cannot reclaim {path}: {exc}")
        return "gone", 0
    finally:
        os.close(fd)


def sweep_leased(
    base_dir: str | os.PathLike[str],
    checker: LeaseChecker,
    prefix: str = DEFAULT_PREFIX,
    *,
    dry_run: bool = False,
) -> LeaseSweepReport:
    """Reclaim every leased area under ``base_dir`` whose lease ``checker`` says is abandoned.

    Safe to run on any host at any time, by several at once: an area whose
    lease is held, or whose work may still run, is never touched, and neither
    is one the checker cannot vouch for. Interrupted deletions are finished.
    """
    base = Path(base_dir)
    report = LeaseSweepReport(base_dir=base, dry_run=dry_run)
    pfx = safe_prefix(prefix)
    for path, kind, lease in _candidates(base, pfx):
        outcome, nbytes = _reclaim(path, kind, lease, checker, pfx, dry_run, report.errors)
        if outcome == "removed":
            report.removed += 1
            report.bytes_freed += nbytes
        elif outcome == "garbage":
            report.garbage_finished += 1
            report.bytes_freed += nbytes
        elif outcome == "held":
            report.skipped_live += 1
        elif outcome == "unverifiable":
            report.skipped_unverifiable += 1
    for error in report.errors:
        logger.warning("leased temp sweep: %s", error)
    if report.removed or report.garbage_finished:
        logger.info("leased temp sweep: %s", report.summary())
    return report
