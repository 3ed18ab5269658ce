"""What a server reclaimed since it started: the start-up sweep plus every sweep after it."""

from __future__ import annotations

import threading

from langflix.temp import SweepReport

__all__ = ["SweepTally"]


class SweepTally:
    """Sessions and bytes reclaimed by this server since it started: the start-up sweep plus every sweep since."""

    def __init__(self, at_start: SweepReport | None) -> None:
        self._lock = threading.Lock()
        self.sweeps = 0
        self.sessions = at_start.removed if at_start is not None else 0
        self.bytes = at_start.bytes_freed if at_start is not None else 0

    def add(self, report: SweepReport) -> None:
        with self._lock:
            self.sweeps += 1
            self.sessions += report.removed
            self.bytes += report.bytes_freed

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return {"sessions": self.sessions, "bytes": self.bytes, "sweeps": self.sweeps}
