"""One manager's tree: its lock, its owner, and the persists in flight that a deletion must not race.

A persist moves a tracked path out of the tree while a close, a release or
``cleanup_all()`` may be deleting it. Neither may see the other half-way: a
deletion first stops every persist of what it deletes (and waits for those of
other threads), then marks those paths doomed, so no new persist of them starts
until the deletion is over; a persist's final rename runs under the tree's lock,
so a close either stopped it before the rename or starts after it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Container, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from langflix.errors import TempFileError

if TYPE_CHECKING:
    from langflix.temp._areas import TempArea

__all__ = ["PersistFlight", "Tree", "closed_meanwhile"]


@dataclass(slots=True)
class Tree:
    """What every area of one manager's tree shares: its lock, the process that owns its files, its persists.

    A forked child gets the lock replaced (see ``_manager``), because a parent
    thread may have held it at the fork and will never release it there; and
    ``owner_pid`` -1, so the child never deletes (or adds to) its parent's
    files. Hence ``tree.lock`` is read at each use, never kept. ``flights`` are
    the persists running now; ``settled`` (on ``lock``) is notified as each ends.
    ``doomed`` are the paths a close or a release is deleting now (with how many
    deleters): no persist of them, or of anything under them, may start.
    """

    lock: threading.RLock
    owner_pid: int
    flights: dict[PersistFlight, None] = field(default_factory=dict)
    settled: threading.Condition = field(init=False)
    doomed: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.settled = threading.Condition(self.lock)

    def replace_lock(self) -> None:
        """A fresh lock (and condition), for a forked child."""
        self.lock = threading.RLock()
        self.settled = threading.Condition(self.lock)
        self.flights = {}
        self.doomed = {}

    def is_doomed(self, key: str) -> bool:
        """Whether ``key``, or a directory it lies in, is being deleted (call with the lock held)."""
        doomed = self.doomed
        return bool(doomed) and (key in doomed or any(str(parent) in doomed for parent in Path(key).parents))

    def doom(self, paths: Callable[[], list[str]]) -> list[str]:
        """Mark ``paths()`` as being deleted, once no persist of them runs in another thread; returns them.

        Call with the lock held; it waits on it. Persists of those paths (or of
        anything under them) are stopped, and those of other threads waited for;
        ``paths()`` is read again after each wait, since a persist that finished
        took its source out of tracking. From the return on, no persist of them
        can start (:meth:`take_off` refuses a doomed path) until :meth:`spare`.
        A persist of this very thread (a signal handler closing the area under
        it) cannot be waited for: its stop mark makes it raise when it resumes.
        """
        me = threading.get_ident()
        while True:
            chosen = paths()
            waiting = False
            if self.flights:
                wanted = set(chosen)
                for flight in self.flights:
                    if flight.hits(wanted):
                        flight.stopped = True
                        waiting = waiting or flight.thread != me
            if not waiting:
                break
            self.settled.wait()
        doomed = self.doomed
        for path in chosen:
            doomed[path] = doomed.get(path, 0) + 1
        return chosen

    def spare(self, paths: Iterable[str]) -> None:
        """The deletion of ``paths`` is over: persists of them are refused as missing, no longer as doomed."""
        with self.lock:
            doomed = self.doomed
            for path in paths:
                left = doomed.pop(path, 1) - 1
                if left:
                    doomed[path] = left

    def take_off(self, area: TempArea, key: str) -> PersistFlight:
        """A persist of ``key`` (a path of ``area``) starts; refused when a deletion of it runs."""
        with self.lock:
            if self.is_doomed(key):
                raise closed_meanwhile(area, key)
            flight = PersistFlight(area, key)
            self.flights[flight] = None
            return flight

    def land(self, flight: PersistFlight) -> None:
        """The persist is over, done or not: a deletion waiting for it goes on."""
        with self.lock:
            self.flights.pop(flight, None)
            self.settled.notify_all()


class PersistFlight:
    """One persist in flight: a close of the area its source lies in stops it, and waits for it.

    A close in another thread marks it stopped and waits until it ends: the copy
    notices between chunks and raises, or the rename, which runs under the
    tree's lock, is already done. A close in the persist's own thread (a signal
    handler interrupting it) cannot wait for it; the stop mark is enough there,
    because the persist raises at its next check or never resumes.
    """

    __slots__ = ("area", "key", "stopped", "thread")

    def __init__(self, area: TempArea, key: str) -> None:
        self.area = area
        self.key = key
        self.stopped = False
        self.thread = threading.get_ident()

    def check(self) -> None:
        if self.stopped:
            raise closed_meanwhile(self.area, self.key)

    @contextmanager
    def final(self) -> Iterator[None]:
        # Under the lock: a close either stopped us before the rename, or starts after it.
        with self.area._tree.lock:
            self.check()
            yield
            self.area._forget_everywhere(self.key)

    def hits(self, paths: Container[str]) -> bool:
        """Whether this persist's source is one of ``paths`` or lies under one of them."""
        return self.key in paths or any(str(parent) in paths for parent in Path(self.key).parents)


def closed_meanwhile(area: TempArea, key: str) -> TempFileError:
    """The error of a persist whose area was closed (or cleaned up) under it."""
    return TempFileError(
        f"{area._describe()} was closed (or cleaned up) while {key} was being persisted; "
        "nothing was published. Persist outputs before closing their scope."
    )
