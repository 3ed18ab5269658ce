"""A cancel handle shared by the pipeline, ffmpeg runs and TTS calls."""

from __future__ import annotations

import threading
import weakref

from langflix.errors import CancelledError

__all__ = ["CancelToken"]


class CancelToken:
    """Thread-safe flag: one side calls :meth:`cancel`, the workers poll or wait on it.

    A :meth:`child` token is cancelled with its parent but can also be cancelled
    alone: a job hands one to its concurrent pieces, so the first piece that
    fails stops its siblings without cancelling the caller's token.
    """

    def __init__(self) -> None:
        self._event = threading.Event()
        self._reason = "cancelled"
        self._lock = threading.Lock()
        self._children: weakref.WeakSet[CancelToken] = weakref.WeakSet()

    def cancel(self, reason: str = "cancelled") -> None:
        """Ask every holder of this token (and of its children) to stop as soon as it can."""
        with self._lock:
            if not self._event.is_set():
                self._reason = reason
                self._event.set()
            children = list(self._children)
        for child in children:
            child.cancel(reason)

    def child(self) -> CancelToken:
        """A token cancelled whenever this one is (at once if it already is)."""
        token = CancelToken()
        with self._lock:
            # Registered under the lock: a cancel() racing with child() reaches it either way.
            if not self._event.is_set():
                self._children.add(token)
                return token
            reason = self._reason
        token.cancel(reason)
        return token

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
