"""The job store: one SQLite file in ``LANGFLIX_DATA_DIR`` that survives restarts.

Why SQLite: a real database file that another process can read (``sqlite3
jobs.db``), atomic transactions, and WAL mode so readers (the API) never block
the writers (the workers). Holds no HTTP types: the routes translate.

One server owns a store at a time: :class:`JobStore` takes an exclusive
``flock`` on ``jobs.db.lock`` for its whole life. That is what makes
:meth:`JobStore.fail_interrupted` safe at start: every job still ``queued`` or
``running`` belongs to a process that is gone (the kernel drops the lock when
its holder dies, however it dies).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Final, get_args

from langflix.api.job_records import (
    ACTIVE_STATUSES,
    FINISHED_STATUSES,
    MAX_OFFSET,
    InvalidCursorError,
    JobNotFoundError,
    JobRecord,
    JobStateError,
    JobStatus,
    JobStoreBase,
    OutputFile,
    already_exists,
    decode_cursor,
    encode_cursor,
    outputs_from_json,
)
from langflix.errors import JobError

__all__ = [
    "ACTIVE_STATUSES",
    "FINISHED_STATUSES",
    "INTERRUPTED_REASON",
    "InvalidCursorError",
    "JobNotFoundError",
    "JobRecord",
    "JobStateError",
    "JobStatus",
    "JobStore",
    "JobStoreProtocol",
    "MAX_OFFSET",
    "OutputFile",
    "StoreLockedError",
    "decode_cursor",
    "encode_cursor",
]

logger = logging.getLogger(__name__)

INTERRUPTED_REASON: Final[str] = "interrupted by restart"
_DB_NAME: Final[str] = "jobs.db"
_SCHEMA_VERSION: Final[int] = 1

_SCHEMA: Final[str] = """
CREATE TABLE IF NOT EXISTS jobs (
    id          TEXT PRIMARY KEY,
    status      TEXT NOT NULL,
    progress    REAL NOT NULL DEFAULT 0,
    step        TEXT,
    message     TEXT,
    error       TEXT,
    options     TEXT NOT NULL DEFAULT '{}',
    outputs     TEXT NOT NULL DEFAULT '[]',
    output_dir  TEXT,
    created_at  REAL NOT NULL,
    updated_at  REAL NOT NULL,
    started_at  REAL,
    finished_at REAL
);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs (status);
CREATE INDEX IF NOT EXISTS jobs_created ON jobs (created_at);
CREATE INDEX IF NOT EXISTS jobs_status_created ON jobs (status, created_at);
CREATE INDEX IF NOT EXISTS jobs_updated ON jobs (updated_at);
"""


class StoreLockedError(JobError):
    """Another live process owns the job store."""


def _row_to_record(row: sqlite3.Row) -> JobRecord:
    return JobRecord(
        id=row["id"],
        status=row["status"],
        progress=row["progress"],
        step=row["step"],
        message=row["message"],
        error=row["error"],
        options=json.loads(row["options"]),
        outputs=outputs_from_json(row["outputs"]),
        output_dir=row["output_dir"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
    )


JobStoreProtocol = JobStoreBase
"""The job store interface, by the name its callers know (see :class:`~langflix.api.job_records.JobStoreBase`)."""


class JobStore(JobStoreBase):
    """Thread-safe job table in ``<data_dir>/jobs.db``.

    One connection guarded by a lock: every operation is a short transaction,
    so serialising them costs nothing and rules out "database is locked"
    between our own threads. ``busy_timeout`` covers other processes (a CLI
    reading the file while the server writes).
    """

    def __init__(self, data_dir: Path, *, clock: Any = time.time) -> None:
        self._clock = clock
        self._lock = threading.RLock()
        self.data_dir = Path(data_dir)
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise JobError(
                f"cannot create the job store directory {self.data_dir}: {exc.strerror}; "
                "set LANGFLIX_DATA_DIR to a writable directory"
            ) from exc
        self.path = self.data_dir / _DB_NAME
        self._lock_fd = self._take_owner_lock(self.path.with_name(_DB_NAME + ".lock"))
        try:
            self._conn = sqlite3.connect(
                self.path, timeout=30.0, check_same_thread=False, isolation_level=None
            )
            self._conn.row_factory = sqlite3.Row
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute("PRAGMA busy_timeout=30000")
            self._conn.executescript(_SCHEMA)
            self._conn.execute(f"PRAGMA user_version={_SCHEMA_VERSION}")
        except sqlite3.Error as exc:
            os.close(self._lock_fd)
            raise JobError(
                f"cannot open the job store {self.path}: {exc}; "
                "move the file away or set LANGFLIX_DATA_DIR to another directory"
            ) from exc
        self._closed = False
        self._listeners: list[Callable[[str], None]] = []

    def add_listener(self, listener: Callable[[str], None]) -> None:
        """Call ``listener(job_id)`` after every change this store makes to a job (from the changing thread)."""
        self._listeners.append(listener)

    def _changed(self, job_id: str) -> None:
        for listener in self._listeners:
            try:
                listener(job_id)
            except Exception:  # a listener's bug must not undo or fail the write it hears about
                logger.exception("job store listener failed for job %s", job_id)

    @staticmethod
    def _take_owner_lock(lock_path: Path) -> int:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            os.close(fd)
            raise StoreLockedError(
                f"another LangFlix server is using the job store in {lock_path.parent}; "
                "stop it first or set LANGFLIX_DATA_DIR to another directory"
            ) from exc
        return fd

    def now(self) -> float:
        """The store's clock: the time ``updated_at`` is written in (what :meth:`changed_since` compares)."""
        return float(self._clock())

    # -- life cycle ---------------------------------------------------------

    def close(self) -> None:
        """Close the database and release the owner lock; safe to call twice."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._conn.close()
            os.close(self._lock_fd)

    def __enter__(self) -> JobStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _execute(self, sql: str, params: Iterable[Any] = ()) -> sqlite3.Cursor:
        with self._lock:
            if self._closed:
                raise JobError(f"the job store {self.path} is closed")
            try:
                return self._conn.execute(sql, tuple(params))
            except sqlite3.Error as exc:
                raise JobError(f"job store {self.path} failed: {exc}") from exc

    # -- queries ------------------------------------------------------------

    def create(self, job_id: str, options: Mapping[str, Any]) -> JobRecord:
        """Insert a new ``queued`` job."""
        now = self._clock()
        try:
            self._execute(
                "INSERT INTO jobs (id, status, options, created_at, updated_at, step)"
                " VALUES (?, 'queued', ?, ?, ?, 'queued')",
                (job_id, json.dumps(dict(options)), now, now),
            )
        except JobError as exc:
            if isinstance(exc.__cause__, sqlite3.IntegrityError):
                raise already_exists(job_id) from exc
            raise
        self._changed(job_id)
        return self.get(job_id)

    def get(self, job_id: str) -> JobRecord:
        """The job, or :class:`JobNotFoundError`."""
        row = self._execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise JobNotFoundError(f"no job with id {job_id!r}; list jobs with GET /api/v1/jobs")
        return _row_to_record(row)

    def _page(
        self, status: str | None, limit: int, after: tuple[float, str] | None, offset: int
    ) -> tuple[list[JobRecord], bool]:
        # One query whatever the page's size.
        where: list[str] = []
        params: list[Any] = []
        if status:
            where.append("status = ?")
            params.append(status)
        if after is not None:
            where.append("(created_at < ? OR (created_at = ? AND id > ?))")
            params += [after[0], after[0], after[1]]
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        # One row more than the page: whether a next page exists, in the same query.
        rows = self._execute(
            f"SELECT * FROM jobs {clause} ORDER BY created_at DESC, id LIMIT ? OFFSET ?",
            [*params, limit + 1, offset],
        ).fetchall()
        return [_row_to_record(r) for r in rows[:limit]], len(rows) > limit

    def changed_since(self, since: float, *, limit: int = 1000) -> list[JobRecord]:
        """Jobs written at or after ``since`` (the store's clock), oldest first: what a reconnecting stream missed."""
        rows = self._execute(
            "SELECT * FROM jobs WHERE updated_at >= ? ORDER BY updated_at, id LIMIT ?", (since, limit)
        ).fetchall()
        return [_row_to_record(r) for r in rows]

    def counts(self) -> dict[str, int]:
        """Number of jobs per status (every status present, 0 when none)."""
        result = dict.fromkeys(get_args(JobStatus), 0)
        for row in self._execute("SELECT status, COUNT(*) AS n FROM jobs GROUP BY status"):
            result[row["status"]] = row["n"]
        return result

    # -- transitions --------------------------------------------------------
    # Each transition names the states it may leave. That guards the race
    # between a DELETE (cancel) and a worker finishing the same job: whichever
    # commits first wins, the other sees rowcount 0 and knows it lost.

    def mark_running(self, job_id: str) -> bool:
        """queued -> running; False when the job is no longer queued (e.g. cancelled)."""
        now = self._clock()
        cur = self._execute(
            "UPDATE jobs SET status='running', started_at=?, updated_at=?, step='starting'"
            " WHERE id=? AND status='queued'",
            (now, now, job_id),
        )
        return self._report(job_id, cur.rowcount == 1)

    def _report(self, job_id: str, changed: bool) -> bool:
        if changed:
            self._changed(job_id)
        return changed

    def _set_progress(self, job_id: str, percent: float, step: str | None, message: str | None) -> bool:
        cur = self._execute(
            "UPDATE jobs SET progress=?, step=?, message=?, updated_at=? WHERE id=? AND status='running'",
            (percent, step, message, self._clock(), job_id),
        )
        return self._report(job_id, cur.rowcount == 1)

    def _finish(self, job_id: str, status: JobStatus, error: str | None, outputs: str, output_dir: str | None) -> bool:
        now = self._clock()
        progress_sql = ", progress=100" if status == "completed" else ""
        cur = self._execute(
            f"UPDATE jobs SET status=?, error=?, outputs=?, output_dir=?, step=?, finished_at=?,"
            f" updated_at=?{progress_sql} WHERE id=? AND status IN ('queued', 'running')",
            (status, error, outputs, output_dir, status, now, now, job_id),
        )
        return self._report(job_id, cur.rowcount == 1)

    def _remove_finished(self, job_id: str) -> None:
        cur = self._execute("DELETE FROM jobs WHERE id=? AND status IN ('completed', 'failed', 'cancelled')", (job_id,))
        self._report(job_id, cur.rowcount == 1)

    def discard(self, job_id: str) -> None:
        """Remove a job whatever its state (a submission that never reached the queue)."""
        self._report(job_id, self._execute("DELETE FROM jobs WHERE id=?", (job_id,)).rowcount == 1)

    def fail_interrupted(self, reason: str = INTERRUPTED_REASON) -> list[str]:
        """Mark every job left queued/running by a dead process as failed; returns their ids."""
        now = self._clock()
        with self._lock:
            rows = self._execute("SELECT id FROM jobs WHERE status IN ('queued', 'running')").fetchall()
            ids = [r["id"] for r in rows]
            if ids:
                self._execute(
                    "UPDATE jobs SET status='failed', error=?, step='failed', finished_at=?, updated_at=?"
                    " WHERE status IN ('queued', 'running')",
                    (reason, now, now),
                )
        return ids
