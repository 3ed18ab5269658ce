"""The temp-file life cycle of LangFlix: every temporary byte has an owner and an end.

Only this package creates temporary files and directories (the ticket's module
``langflix.utils.temp_file_manager`` re-exports it). Each layer of cleanup is a
backstop for the one before:

1. ``with`` block exit (also on exceptions and cancellation): ``create_temp_file``,
   ``create_temp_dir``;
2. scope exit: ``with manager.scope("job-42")`` removes a job's whole directory;
3. ``cleanup_all()`` at interpreter exit, only in the process that made the files
   (a forked child never deletes its parent's files);
4. SIGTERM / SIGHUP handlers (:func:`install_signal_handlers`);
5. the sweep of areas whose owner is provably gone, one protocol for every
   kind of owner (:class:`AreaOwner`): :func:`sweep_orphans` of sessions whose
   process died (SIGKILL, a power cut) and of resumable uploads
   (:class:`ResumableUploads`) past their expiry; :func:`sweep_leased` of areas
   in a directory several hosts share (:class:`LeasedArea`), whose owner is a
   lease that a :class:`LeaseChecker` from above says is abandoned (and of the
   uploads kept there). Each reclaims by the same step: rename to ``garbage-``,
   then delete.

Files that must outlive their block are kept with ``delete=False`` (still removed
by ``cleanup_all``) or moved out atomically with ``persist``, which never follows
a link, refuses special files, and publishes all of its source or nothing even
when the area is closed meanwhile. :class:`TempArea` is the type of "a manager
or a scope" in every signature.

A session's lock is its owner's life: a forked child never keeps it, an exec'd
helper (ffmpeg) is handed it with :func:`session_lock_fds`, so no sweep reclaims
a session while a helper still writes in it. A base dir another user controls
is refused.

Behind this face, one module per question: ``_names`` (safe names, creation),
``_areas`` (what a manager and a scope share), ``_flights`` (an area tree's
lock and the persists a deletion must wait for), ``_counters`` (live counts
kept up the parent chain), ``_views`` (what areas hand out:
stats, tracked-path views, path contexts), ``_scope``, ``_manager`` (and the
process-wide hooks), ``_signals``, ``_streams``, ``_persist``, ``_budget``,
``_sessions`` (lock, owner record, heartbeat, base dir checks), ``_fds`` (who
holds a lock fd), ``_owners`` (what an owner is, the expiry owner, and the one
reclaim step), ``_uploads`` (resumable uploads, owned by their expiry),
``_sweep`` (the sweep of any owners' areas; the process owner), ``_leases``
(areas owned by a lease: the lease owner), ``_settings`` and ``_trees``
(deleting without following links).
"""

from __future__ import annotations

from langflix.errors import DestinationExistsError, InsufficientDiskSpaceError, QuotaExceededError, TempFileError
from langflix.temp._areas import TempArea
from langflix.temp._budget import DEFAULT_MIN_FREE_BYTES, Reservation, free_bytes, human_bytes
from langflix.temp._fds import session_lock_fds
from langflix.temp._leases import LeaseChecker, LeasedArea, LeaseSweepReport, list_leased, sweep_leased
from langflix.temp._manager import TempFileManager, close_temp_manager, get_temp_manager
from langflix.temp._names import DEFAULT_PREFIX
from langflix.temp._owners import AreaOwner, OwnerState
from langflix.temp._scope import TempScope
from langflix.temp._sessions import OWNER_FILE, OwnerInfo
from langflix.temp._settings import TempSettings, default_base_dir
from langflix.temp._signals import install_signal_handlers, uninstall_signal_handlers
from langflix.temp._streams import awrite_stream, write_stream
from langflix.temp._sweep import SessionInfo, SessionState, SweepReport, list_sessions, sweep_orphans
from langflix.temp._uploads import (
    DEFAULT_UPLOAD_EXPIRY,
    Digest,
    ResumableUploads,
    UploadClaim,
    UploadState,
    UploadWriter,
    wait_uploads_durable,
)
from langflix.temp._views import TempPathContext, TempStats, TrackedPaths

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
    "list_leased",
    "list_sessions",
    "session_lock_fds",
    "sweep_leased",
    "sweep_orphans",
    "uninstall_signal_handlers",
    "wait_uploads_durable",
    "write_stream",
]
