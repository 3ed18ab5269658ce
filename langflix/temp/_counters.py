"""An area's life-time counts, added up its chain of parents: a scope's file counts for its manager too."""

from __future__ import annotations

__all__ = ["Counters"]


class Counters:
    """Files and dirs created and cleaned, failures, orphans reclaimed and the peak of live bytes.

    ``parent`` is the enclosing area's counters (None for a manager): every
    count is added there too, so a manager's figures include its scopes'.
    Changed under the tree's lock.
    """

    __slots__ = ("cleaned", "created", "failures", "orphans_reclaimed", "parent", "peak_bytes")

    def __init__(self, parent: Counters | None = None) -> None:
        self.parent = parent
        self.created = self.cleaned = self.failures = self.orphans_reclaimed = self.peak_bytes = 0

    def add(self, name: str, amount: int = 1) -> None:
        """Add ``amount`` to the count ``name`` here and in every parent."""
        counters: Counters | None = self
        while counters is not None:
            setattr(counters, name, getattr(counters, name) + amount)
            counters = counters.parent

    def created_one(self) -> None:
        """One more path created: :meth:`add` without the name lookups, for the hot path."""
        counters: Counters | None = self
        while counters is not None:
            counters.created += 1
            counters = counters.parent

    def note_peak(self, nbytes: int) -> None:
        """``nbytes`` live now: the peak here and in every parent is at least that."""
        counters: Counters | None = self
        while counters is not None:
            if nbytes > counters.peak_bytes:
                counters.peak_bytes = nbytes
            counters = counters.parent
