"""A cancel handle shared by the pipeline, ffmpeg runs and TTS calls."""

from __future__ import annotations

import threading

from langflix.errors import CancelledError

__all__ = ["CancelToken"]


class CancelToken:
    """Thread-safe flag: one side calls :meth:`cancel`, the workers poll or wait on it."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._reason = "cancelled"

    def cancel(self, reason: str = "cancelled") -> None:
        """Ask every holder of this token to stop as soon as it can."""
        self._reason = reason
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    @property
    def reason(self) -> str:
        return self._reason

    def wait(self, timeout: float | None = None) -> bool:
        """Block up to ``timeout`` seconds; True once cancelled."""
        return self._event.wait(timeout)

    def raise_if_cancelled(self) -> None:
        """Raise :class:`CancelledError` when cancellation was requested."""
        if self._event.is_set():
            raise CancelledError(self._reason)
