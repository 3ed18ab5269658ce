"""Byte budgets and free-space reservations for temp areas.

Large work (an upload, a job) claims its space *before* it starts, so a full
disk is a clear error up front rather than a half-written file later. Two
limits apply to every claim:

* the area's own budget (``max_bytes``) and every ancestor's: bytes on disk plus
  the unfilled part of every reservation inside it must stay within it
  (:class:`QuotaExceededError`);
* the filesystem: free space minus ``min_free_bytes`` minus the unfilled part of
  every reservation this process holds there (:class:`InsufficientDiskSpaceError`).

A reservation is a floor, not an extra: an area holding a 2 GiB reservation
counts as using ``max(2 GiB, its bytes on disk)``. So a job can hold its claim
for its whole life while its files fill it, without being counted twice, and
two jobs that each see 10 GB free cannot both claim the same 10 GB.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Final, Protocol

from langflix.errors import InsufficientDiskSpaceError, QuotaExceededError, TempFileError

__all__ = ["DEFAULT_MIN_FREE_BYTES", "Budget", "Guard", "Reservation", "free_bytes", "human_bytes"]

# Free space the process-wide manager always leaves on the disk (LANGFLIX_MIN_FREE_BYTES).
DEFAULT_MIN_FREE_BYTES: Final = 256 * 1024 * 1024

# Budgets holding a reservation of their own, process-wide: their unfilled claims
# are subtracted from the free space every other claim sees.
_reserving: dict[Budget, None] = {}
_reserving_lock = threading.Lock()


def human_bytes(n: float) -> str:
    """``1536`` -> ``'1.5 KiB'``: for messages people read."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def free_bytes(path: str | os.PathLike[str]) -> int:
    """Bytes an unprivileged writer may still use on the filesystem of ``path``."""
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


class Guard(Protocol):
    """What holds the lock a budget is checked and changed under (its area tree).

    Read at each use, never kept: the holder may replace the lock (a forked child does).
    """

    lock: threading.RLock


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
        guard: Guard,
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
        self.reserved = 0  # reservations held here and below (for stats)
        self.own_reserved = 0  # reservations held on this very area
        self._guard = guard
        self._device: int | None = None
        self._claims: dict[Reservation, None] = {}  # held on this very area

    def _device_id(self) -> int:
        # Cached: a reservation is released after its scope's directory may be
        # gone (a cancelled job closes its scope first); stat-ing it then would
        # raise FileNotFoundError and leak the reservation for the process's life.
        if self._device is None:
            self._device = os.stat(self._directory()).st_dev
        return self._device

    def _chain(self) -> list[Budget]:
        chain: list[Budget] = []
        node: Budget | None = self
        while node is not None:
            chain.append(node)
            node = node.parent
        return chain

    def reserve(self, nbytes: int, what: str = "this work") -> Reservation:
        """Claim ``nbytes`` now or raise; the claim lasts until released."""
        if nbytes < 0:
            raise ValueError(f"cannot reserve a negative number of bytes ({nbytes})")
        with self._guard.lock:
            self.check(nbytes, what)
            reservation = Reservation._on(self)
            reservation.grow(nbytes, what, checked=True)
        return reservation

    def unfilled(self) -> int:
        """The part of this area's own reservations its files have not filled yet."""
        return max(0, self.own_reserved - self._usage()) if self.own_reserved else 0

    def check(self, nbytes: int, what: str) -> None:
        """Raise if ``nbytes`` more cannot be claimed (call with the lock held)."""
        with _reserving_lock:
            reserving = list(_reserving)
        # Each claim's unfilled part walks its area's tree: measure it once here,
        # not once per ancestor budget and again for the disk check.
        unfilled = {budget: budget.unfilled() for budget in reserving}
        chain = self._chain()
        for budget in chain:
            if budget.max_bytes is None:
                continue
            used = budget._usage() + sum(n for b, n in unfilled.items() if budget in b._chain())
            if used + nbytes > budget.max_bytes:
                raise QuotaExceededError(
                    f"{what} needs {human_bytes(nbytes)} but the temp budget of {budget._directory()} "
                    f"has {human_bytes(max(0, budget.max_bytes - used))} left "
                    f"({human_bytes(used)} of {human_bytes(budget.max_bytes)} in use or reserved). "
                    "Raise the budget (max_bytes / LANGFLIX_TEMP_MAX_BYTES) or wait for running jobs to finish."
                )
        directory = self._directory()
        min_free = max(b.min_free_bytes for b in chain)
        device = self._device_id()
        outstanding = sum(n for b, n in unfilled.items() if b._device_id() == device)
        available = free_bytes(directory) - min_free - outstanding
        if nbytes > available:
            raise InsufficientDiskSpaceError(
                f"{what} needs {human_bytes(nbytes)} but the disk holding {directory} has only "
                f"{human_bytes(max(0, available))} available (after keeping {human_bytes(min_free)} free "
                f"and {human_bytes(outstanding)} reserved by running work). Free some disk space, "
                "point LANGFLIX_TEMP_DIR at a larger disk, or lower LANGFLIX_MIN_FREE_BYTES."
            )

    def release_all(self) -> None:
        """Release every claim held on this area: a closed area holds nothing (call with the lock held)."""
        for reservation in list(self._claims):
            reservation.release()

    def _add(self, nbytes: int) -> None:
        for budget in self._chain():
            budget.reserved += nbytes
        self.own_reserved += nbytes
        with _reserving_lock:
            if self.own_reserved:
                _reserving[self] = None
            else:
                _reserving.pop(self, None)


class Reservation:
    """Space claimed ahead of work; release it (or leave the ``with``) when done.

    Made by ``reserve()`` of a manager or scope: a claim outside a budget would
    hold nothing, so the constructor refuses.
    """

    __slots__ = ("_budget", "nbytes", "released")
    _budget: Budget
    nbytes: int
    released: bool

    def __init__(self) -> None:
        raise TypeError("a Reservation is made by reserve() on a TempFileManager or TempScope")

    @classmethod
    def _on(cls, budget: Budget) -> Reservation:
        reservation = cls.__new__(cls)
        reservation._budget = budget
        reservation.nbytes = 0
        reservation.released = False
        budget._claims[reservation] = None
        return reservation

    def grow(self, nbytes: int, what: str = "this work", *, checked: bool = False) -> None:
        """Claim ``nbytes`` more (a stream keeps its claim ahead of what it has written)."""
        with self._budget._guard.lock:
            if self.released:
                raise TempFileError(
                    f"this reservation of {human_bytes(self.nbytes)} was already released (by release(), "
                    "or because its temp area was closed); reserve again on an open area"
                )
            if not checked:
                self._budget.check(nbytes, what)
            self._budget._add(nbytes)
            self.nbytes += nbytes

    def release(self) -> None:
        """Give the space back; calling it twice does nothing."""
        with self._budget._guard.lock:
            if self.released:
                return
            self.released = True
            self._budget._claims.pop(self, None)
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
