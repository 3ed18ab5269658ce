"""The ticket's path to the temp-file API: ``from langflix.utils.temp_file_manager import ...``.

Code written to the ticket's sketch keeps working unchanged::

    manager = TempFileManager(prefix="langflix_", base_dir=None)
    with manager.create_temp_file(suffix=".mkv", prefix=f"{job_id}_video") as path: ...
    with manager.create_temp_dir() as directory: ...
    manager.register_file(path); manager.temp_files; manager.cleanup_all()
    get_temp_manager()

Every name here is the very object :mod:`langflix.temp` exports (the package
that implements the life cycle); ``__all__`` is the same list.
"""

from __future__ import annotations

from langflix.temp import (
    DEFAULT_MIN_FREE_BYTES,
    DEFAULT_PREFIX,
    DEFAULT_UPLOAD_EXPIRY,
    OWNER_FILE,
    AreaOwner,
    DestinationExistsError,
    Digest,
    InsufficientDiskSpaceError,
    LeaseChecker,
    LeasedArea,
    LeaseSweepReport,
    OwnerInfo,
    OwnerState,
    QuotaExceededError,
    Reservation,
    ResumableUploads,
    SessionInfo,
    SessionState,
    SweepReport,
    TempArea,
    TempFileError,
    TempFileManager,
    TempPathContext,
    TempScope,
    TempSettings,
    TempStats,
    TrackedPaths,
    UploadClaim,
    UploadState,
    UploadWriter,
    awrite_stream,
    close_temp_manager,
    default_base_dir,
    free_bytes,
    get_temp_manager,
    human_bytes,
    install_signal_handlers,
    list_sessions,
    session_lock_fds,
    sweep_leased,
    sweep_orphans,
    uninstall_signal_handlers,
    wait_uploads_durable,
    write_stream,
)

__all__ = [
    "DEFAULT_MIN_FREE_BYTES",
    "DEFAULT_PREFIX",
    "DEFAULT_UPLOAD_EXPIRY",
    "OWNER_FILE",
    "AreaOwner",
    "DestinationExistsError",
    "Digest",
    "InsufficientDiskSpaceError",
    "LeaseChecker",
    "LeaseSweepReport",
    "LeasedArea",
    "OwnerInfo",
    "OwnerState",
    "QuotaExceededError",
    "Reservation",
    "ResumableUploads",
    "SessionInfo",
    "SessionState",
    "SweepReport",
    "TempArea",
    "TempFileError",
    "TempFileManager",
    "TempPathContext",
    "TempScope",
    "TempSettings",
    "TempStats",
    "TrackedPaths",
    "UploadClaim",
    "UploadState",
    "UploadWriter",
    "awrite_stream",
    "close_temp_manager",
    "default_base_dir",
    "free_bytes",
    "get_temp_manager",
    "human_bytes",
    "install_signal_handlers",
    "list_sessions",
    "session_lock_fds",
    "sweep_leased",
    "sweep_orphans",
    "uninstall_signal_handlers",
    "wait_uploads_durable",
    "write_stream",
]
