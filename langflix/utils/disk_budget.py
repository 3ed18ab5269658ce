"""Byte budgets and free-space reservations for temp areas.

Large work (an upload, a job) claims its space *before* it starts, so a full
disk is a clear error up front rather than a half-written file later. Two
limits apply to every claim:

* the area's own budget (``max_bytes``) and every ancestor's: bytes on disk plus
  outstanding reservations must stay within it (:class:`QuotaExceededError`);
* the filesystem: free space minus ``min_free_bytes`` minus every reservation
  this process holds on that filesystem (:class:`InsufficientDiskSpaceError`).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Final

from langflix.errors import InsufficientDiskSpaceError, QuotaExceededError

__all__ = ["DEFAULT_MIN_FREE_BYTES", "Budget", "Reservation", "free_bytes", "human_bytes"]

# Free space the process-wide manager always leaves on the disk (LANGFLIX_MIN_FREE_BYTES).
DEFAULT_MIN_FREE_BYTES: Final = 256 * 1024 * 1024

# Reservations held by this process, per filesystem (st_dev): two jobs that each
# see 10 GB free must not both claim the same 10 GB.
_reserved_by_device: dict[int, int] = {}
_device_lock = threading.Lock()


def human_bytes(n: float) -> str:
    """``1536`` -> ``'1.5 KiB'``: for messages people read."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def free_bytes(path: Path) -> int:
    """Bytes an unprivileged writer may still use on the filesystem of ``path``."""
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


class Budget:
    """One area's limits; chained to its parent's so a scope also counts upward."""

    def __init__(
        self,
        directory: Callable[[], Path],
        usage: Callable[[], int],
        *,
        max_bytes: int | None,
        min_free_bytes: int,
        parent: Budget | None,
        lock: threading.RLock,
    ) -> None:
        if max_bytes is not None and max_bytes < 0:
            raise ValueError(f"max_bytes must be >= 0 or None, not {max_bytes}")
        if min_free_bytes < 0:
            raise ValueError(f"min_free_bytes must be >= 0, not {min_free_bytes}")
        self._directory = directory
        self._usage = usage
        self.max_bytes = max_bytes
        self.min_free_bytes = min_free_bytes
        self.parent = parent
        self.reserved = 0
        self._lock = lock
        self._device: int | None = None

    def _device_id(self) -> int:
        # Cached: a reservation is released after its scope's directory may be
        # gone (a cancelled job closes its scope first); stat-ing it then raised
        # FileNotFoundError and leaked the reservation for the process's life.
        if self._device is None:
            self._device = os.stat(self._directory()).st_dev
        return self._device

    def _chain(self) -> list[Budget]:
        chain, node = [], self
        while node is not None:
            chain.append(node)
            node = node.parent
        return chain

    def reserve(self, nbytes: int, what: str = "this work") -> Reservation:
        """Claim ``nbytes`` now or raise; the claim lasts until released."""
        if nbytes < 0:
            raise ValueError(f"cannot reserve a negative number of bytes ({nbytes})")
        with self._lock:
            self.check(nbytes, what)
            reservation = Reservation(self, 0)
            reservation.grow(nbytes, what, checked=True)
        return reservation

    def check(self, nbytes: int, what: str) -> None:
        """Raise if ``nbytes`` more cannot be claimed (call with the lock held)."""
        for budget in self._chain():
            if budget.max_bytes is None:
                continue
            used = budget._usage() + budget.reserved
            if used + nbytes > budget.max_bytes:
                raise QuotaExceededError(
                    f"{what} needs {human_bytes(nbytes)} but the temp budget of {budget._directory()} "
                    f"has {human_bytes(max(0, budget.max_bytes - used))} left "
                    f"({human_bytes(used)} of {human_bytes(budget.max_bytes)} in use or reserved). "
                    "Raise the budget (max_bytes / LANGFLIX_TEMP_MAX_BYTES) or wait for running jobs to finish."
                )
        directory = self._directory()
        min_free = max(b.min_free_bytes for b in self._chain())
        device = self._device_id()
        with _device_lock:
            outstanding = _reserved_by_device.get(device, 0)
        available = free_bytes(directory) - min_free - outstanding
        if nbytes > available:
            raise InsufficientDiskSpaceError(
                f"{what} needs {human_bytes(nbytes)} but the disk holding {directory} has only "
                f"{human_bytes(max(0, available))} available (after keeping {human_bytes(min_free)} free "
                f"and {human_bytes(outstanding)} reserved by running work). Free some disk space, "
                "point LANGFLIX_TEMP_DIR at a larger disk, or lower LANGFLIX_MIN_FREE_BYTES."
            )

    def _add(self, nbytes: int) -> None:
        for budget in self._chain():
            budget.reserved += nbytes
        device = self._device_id()
        with _device_lock:
            total = _reserved_by_device.get(device, 0) + nbytes
            if total:
                _reserved_by_device[device] = total
            else:
                _reserved_by_device.pop(device, None)


class Reservation:
    """Space claimed ahead of work; release it (or leave the ``with``) when done."""

    def __init__(self, budget: Budget, nbytes: int) -> None:
        self._budget = budget
        self.nbytes = nbytes
        self.released = False

    def grow(self, nbytes: int, what: str = "this work", *, checked: bool = False) -> None:
        """Claim ``nbytes`` more (a stream reserves ahead of what it writes)."""
        with self._budget._lock:
            if self.released:
                raise RuntimeError("this reservation was already released")
            if not checked:
                self._budget.check(nbytes, what)
            self._budget._add(nbytes)
            self.nbytes += nbytes

    def consume(self, nbytes: int) -> None:
        """``nbytes`` of the claim are now written to disk: stop holding them twice.

        Written bytes already count in the area's usage and are gone from the
        free space, so keeping them reserved too would refuse work there is room for.
        """
        with self._budget._lock:
            if self.released:
                return
            nbytes = min(max(0, nbytes), self.nbytes)
            self._budget._add(-nbytes)
            self.nbytes -= nbytes

    def release(self) -> None:
        """Give the space back; calling it twice does nothing."""
        with self._budget._lock:
            if self.released:
                return
            self.released = True
            self._budget._add(-self.nbytes)

    def __enter__(self) -> Reservation:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()

    def __repr__(self) -> str:
        state = "released" if self.released else "held"
        return f"<Reservation {human_bytes(self.nbytes)} {state}>"
