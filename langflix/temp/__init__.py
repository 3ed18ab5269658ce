"""The temp-file life cycle of LangFlix (public API).

Bridge while the package is split out of ``langflix/utils/temp_file_manager.py``:
code outside the temp layer imports from here, so the split changes no importer.
"""

from __future__ import annotations

from langflix.utils.disk_budget import DEFAULT_MIN_FREE_BYTES, free_bytes, human_bytes
from langflix.utils.temp_file_manager import (
    DEFAULT_PREFIX,
    InsufficientDiskSpaceError,
    QuotaExceededError,
    Reservation,
    SweepReport,
    TempFileError,
    TempFileManager,
    TempScope,
    TempStats,
    TrackedPaths,
    awrite_stream,
    default_base_dir,
    get_temp_manager,
    install_signal_handlers,
    sweep_orphans,
    write_stream,
)
from langflix.utils.temp_file_manager import _TempArea as TempArea
from langflix.utils.temp_sessions import OWNER_FILE, SessionInfo, list_sessions

__all__ = [
    "DEFAULT_MIN_FREE_BYTES",
    "DEFAULT_PREFIX",
    "OWNER_FILE",
    "InsufficientDiskSpaceError",
    "QuotaExceededError",
    "Reservation",
    "SessionInfo",
    "SweepReport",
    "TempArea",
    "TempFileError",
    "TempFileManager",
    "TempScope",
    "TempStats",
    "TrackedPaths",
    "awrite_stream",
    "default_base_dir",
    "free_bytes",
    "get_temp_manager",
    "human_bytes",
    "install_signal_handlers",
    "list_sessions",
    "sweep_orphans",
    "write_stream",
]
