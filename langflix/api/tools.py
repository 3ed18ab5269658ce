"""The external tools a server runs, and their versions as ``/health`` shows them."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Final

from langflix.core.ffmpeg import FFmpegTools
from langflix.tts.espeak import espeak_version

__all__ = ["REQUIRED_TOOLS", "ToolVersions"]

REQUIRED_TOOLS: Final[tuple[str, ...]] = ("ffmpeg", "ffprobe", "espeak-ng")
_TTL_SECONDS: Final[float] = 60.0


class ToolVersions:
    """Versions of ffmpeg, ffprobe and espeak-ng (None when missing), measured at most once a minute.

    Each measurement spawns three processes: a health check polled every second
    must not cost that every time. One instance per app, so two apps (or tests)
    never share an answer.
    """

    def __init__(
        self,
        tools: FFmpegTools,
        espeak_binary: str,
        *,
        ttl: float = _TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._tools, self._espeak, self._ttl, self._clock = tools, espeak_binary, ttl, clock
        self._lock = threading.Lock()
        self._measured: tuple[float, dict[str, str | None]] | None = None

    def __call__(self) -> dict[str, str | None]:
        with self._lock:
            now = self._clock()
            if self._measured is None or now - self._measured[0] > self._ttl:
                self._measured = (now, {**self._tools.versions(), "espeak-ng": espeak_version(self._espeak)})
            return dict(self._measured[1])
