"""The job store in Redis: the same records and guarded transitions as the SQLite store, for every host.

Each job is a hash; sorted sets index the ids by creation time (all jobs, and
per status) and by last change. Every transition is one Lua script, so the
check of the state it may leave and the write are atomic, exactly like the
SQLite store's ``UPDATE ... WHERE status IN (...)``: of a DELETE and a worker
finishing the same job, one wins and the other learns it lost. Times are the
Redis server's clock (``TIME`` inside the script), so the records written by
hosts whose clocks differ still sort and page consistently.

A work horse's store carries an ``attempt`` (its fencing token): its progress
and its final state are written only while the record still names that
attempt, so a horse the cluster has given up on (its job retried elsewhere)
can never overwrite the retry's record. Each change is published on
:data:`~langflix.api.scale.keys.CHANGES_CHANNEL`; listeners of every API
server hear it from a subscriber thread.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final, Literal, get_args

import redis

from langflix.api import job_records as rules
from langflix.api.job_records import JobNotFoundError, JobRecord, JobStatus
from langflix.api.scale.connection import unavailable
from langflix.api.scale.keys import CHANGES_CHANNEL, CREATED_INDEX, UPDATED_INDEX, job_key, status_index

__all__ = ["CancelRequest", "RedisJobStore"]

logger = logging.getLogger(__name__)

CancelRequest = Literal["dequeued", "cancelling", "not-active"]

_STATUSES: Final[tuple[str, ...]] = get_args(JobStatus)

# KEYS: job hash, created index, updated index; the per-status indexes are
# named from the status (one Redis node: no cluster hash slots to respect).
_PRELUDE: Final[str] = (
    """
local t = redis.call('TIME')
-- One decimal spelling for the hashes and the indexes' scores, so a cursor made from a
-- record's time finds the same number in the index (tostring() would round it).
local now = string.format('%d.%06d', t[1], t[2])
local function move(id, from, to, created)
    redis.call('ZREM', 'langflix:jobs:status:' .. from, id)
    redis.call('ZADD', 'langflix:jobs:status:' .. to, created, id)
end
local function changed(id)
    redis.call('ZADD', KEYS[3], now, id)
    redis.call('PUBLISH', '"""
    + CHANGES_CHANNEL
    + """', id)
end
"""
)

_CREATE: Final[str] = (
    _PRELUDE
    + """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'status', 'queued', 'progress', '0', 'step', 'queued',
    'options', ARGV[2], 'outputs', '[]', 'created_at', now, 'updated_at', now)
redis.call('ZADD', KEYS[2], now, ARGV[1])
redis.call('ZADD', 'langflix:jobs:status:queued', now, ARGV[1])
changed(ARGV[1])
return 1
"""
)

_MARK_RUNNING: Final[str] = (
    _PRELUDE
    + """
local job = redis.call('HMGET', KEYS[1], 'status', 'created_at')
if job[1] ~= 'queued' then return 0 end
redis.call('HSET', KEYS[1], 'status', 'running', 'started_at', now, 'updated_at', now,
    'step', 'starting', 'attempt', ARGV[2])
move(ARGV[1], 'queued', 'running', job[2])
changed(ARGV[1])
return 1
"""
)

# Returns 0 (not running, or another attempt's), 1 (written), 2 (written; a cancel is asked).
_PROGRESS: Final[str] = (
    _PRELUDE
    + """
local job = redis.call('HMGET', KEYS[1], 'status', 'attempt', 'cancel_requested')
if job[1] ~= 'running' then return 0 end
if ARGV[5] ~= '' and job[2] ~= ARGV[5] then return 0 end
redis.call('HSET', KEYS[1], 'progress', ARGV[2], 'step', ARGV[3], 'message', ARGV[4], 'updated_at', now)
changed(ARGV[1])
if job[3] == '1' then return 2 end
return 1
"""
)

_FINISH: Final[str] = (
    _PRELUDE
    + """
local job = redis.call('HMGET', KEYS[1], 'status', 'attempt', 'created_at')
if job[1] ~= 'queued' and job[1] ~= 'running' then return 0 end
if ARGV[7] ~= '' and job[1] == 'running' and job[2] ~= ARGV[7] then return 0 end
redis.call('HSET', KEYS[1], 'status', ARGV[2], 'error', ARGV[3], 'outputs', ARGV[4], 'output_dir', ARGV[5],
    'step', ARGV[2], 'finished_at', now, 'updated_at', now)
if ARGV[6] == '1' then redis.call('HSET', KEYS[1], 'progress', '100') end
move(ARGV[1], job[1], ARGV[2], job[3])
changed(ARGV[1])
return 1
"""
)

_REQUEUE: Final[str] = (
    _PRELUDE
    + """
local job = redis.call('HMGET', KEYS[1], 'status', 'created_at')
if job[1] ~= 'running' and job[1] ~= 'queued' then return 0 end
redis.call('HSET', KEYS[1], 'status', 'queued', 'step', 'queued', 'message', ARGV[2], 'attempt', '',
    'updated_at', now)
move(ARGV[1], job[1], 'queued', job[2])
changed(ARGV[1])
return 1
"""
)

_REQUEST_CANCEL: Final[str] = (
    _PRELUDE
    + """
local job = redis.call('HMGET', KEYS[1], 'status', 'created_at')
if job[1] == 'queued' then
    redis.call('HSET', KEYS[1], 'status', 'cancelled', 'error', ARGV[2], 'step', 'cancelled',
        'finished_at', now, 'updated_at', now)
    move(ARGV[1], 'queued', 'cancelled', job[2])
    changed(ARGV[1])
    return 'dequeued'
end
if job[1] == 'running' then
    redis.call('HSET', KEYS[1], 'cancel_requested', '1', 'updated_at', now)
    changed(ARGV[1])
    return 'cancelling'
end
return 'not-active'
"""
)

_REMOVE: Final[str] = (
    _PRELUDE
    + """
local job = redis.call('HMGET', KEYS[1], 'status')
if not job[1] then return 0 end
if ARGV[2] == '1' and job[1] ~= 'completed' and job[1] ~= 'failed' and job[1] ~= 'cancelled' then return -1 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', 'langflix:jobs:status:' .. job[1], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('PUBLISH', '"""
    + CHANGES_CHANNEL
    + """', ARGV[1])
return 1
"""
)

_TIME: Final[str] = "local t = redis.call('TIME') return string.format('%d.%06d', t[1], t[2])"


def _float(value: bytes | None) -> float | None:
    return None if not value else float(value)


def _text(value: bytes | None) -> str | None:
    return None if not value else value.decode()


def _record(fields: Mapping[bytes, bytes]) -> JobRecord:
    return JobRecord(
        id=fields[b"id"].decode(),
        status=fields[b"status"].decode(),  # type: ignore[arg-type]
        progress=float(fields.get(b"progress", b"0")),
        step=_text(fields.get(b"step")),
        message=_text(fields.get(b"message")),
        error=_text(fields.get(b"error")),
        options=json.loads(fields.get(b"options", b"{}")),
        outputs=rules.outputs_from_json(fields.get(b"outputs", b"[]")),
        output_dir=_text(fields.get(b"output_dir")),
        created_at=float(fields[b"created_at"]),
        updated_at=float(fields[b"updated_at"]),
        started_at=_float(fields.get(b"started_at")),
        finished_at=_float(fields.get(b"finished_at")),
    )


class RedisJobStore(rules.JobStoreBase):
    """The job store of every API server and worker that share one Redis (see the module's docstring).

    ``attempt`` fences a work horse's writes (see above); ``on_cancel`` is
    called with the job's id when a progress write finds a cancel asked, so a
    horse stops at its next step even if RQ's stop command never reached it.
    """

    def __init__(
        self,
        client: redis.Redis,
        url: str,
        *,
        attempt: str = "",
        on_cancel: Callable[[str], None] | None = None,
    ) -> None:
        # redis-py's replies are typed as unions of every reply shape: read them as what each command returns.
        self._client: Any = client
        self._url = url
        self.attempt = attempt
        self._on_cancel = on_cancel
        self._scripts = {
            name: client.register_script(source)
            for name, source in (
                ("create", _CREATE), ("running", _MARK_RUNNING), ("progress", _PROGRESS), ("finish", _FINISH),
                ("requeue", _REQUEUE), ("cancel", _REQUEST_CANCEL), ("remove", _REMOVE), ("time", _TIME),
            )
        }  # fmt: skip
        self._listeners: list[Callable[[str], None]] = []
        self._stop = threading.Event()
        self._subscriber: threading.Thread | None = None
        self._lock = threading.Lock()

    def _run(self, name: str, job_id: str, *args: str) -> Any:
        with unavailable(self._url):
            return self._scripts[name](keys=[job_key(job_id), CREATED_INDEX, UPDATED_INDEX], args=[job_id, *args])

    # -- listeners ------------------------------------------------------------

    def add_listener(self, listener: Callable[[str], None]) -> None:
        """Call ``listener(job_id)`` after every change any host makes to a job (from a subscriber thread)."""
        with self._lock:
            self._listeners.append(listener)
            if self._subscriber is None:
                self._subscriber = threading.Thread(target=self._listen, name="langflix-job-changes", daemon=True)
                self._subscriber.start()

    def _listen(self) -> None:
        # Reconnects through a Redis restart; changes missed meanwhile are
        # what a reconnecting event stream catches up on (changed_since).
        while not self._stop.is_set():
            pubsub = self._client.pubsub(ignore_subscribe_messages=True)
            try:
                pubsub.subscribe(CHANGES_CHANNEL)
                while not self._stop.is_set():
                    message = pubsub.get_message(timeout=0.5)
                    if message is not None and message.get("type") == "message":
                        self._changed(message["data"].decode())
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                logger.warning("job changes: lost Redis (%s); reconnecting", exc)
                self._stop.wait(0.5)
            finally:
                pubsub.close()

    def _changed(self, job_id: str) -> None:
        for listener in list(self._listeners):
            try:
                listener(job_id)
            except Exception:  # a listener's bug must not stop the others
                logger.exception("job store listener failed for job %s", job_id)

    # -- life cycle -----------------------------------------------------------

    def now(self) -> float:
        """The Redis server's clock: what every host writes ``updated_at`` in."""
        with unavailable(self._url):
            return float(self._scripts["time"](keys=[], args=[]))

    def close(self) -> None:
        """Stop hearing changes and close the connections; safe to call twice."""
        self._stop.set()
        subscriber = self._subscriber
        if subscriber is not None:
            subscriber.join(5)
        self._client.close()

    # -- queries --------------------------------------------------------------

    def create(self, job_id: str, options: Mapping[str, Any]) -> JobRecord:
        if not self._run("create", job_id, json.dumps(dict(options))):
            raise rules.already_exists(job_id)
        return self.get(job_id)

    def get(self, job_id: str) -> JobRecord:
        with unavailable(self._url):
            fields = self._client.hgetall(job_key(job_id))
        if not fields:
            raise JobNotFoundError(f"no job with id {job_id!r}; list jobs with GET /api/v1/jobs")
        return _record(fields)

    def _records(self, ids: Iterable[bytes | str]) -> list[JobRecord]:
        with unavailable(self._url), self._client.pipeline(transaction=False) as pipe:
            for job_id in ids:
                pipe.hgetall(job_key(job_id.decode() if isinstance(job_id, bytes) else job_id))
            rows = pipe.execute()
        return [_record(row) for row in rows if row]  # a job deleted meanwhile is skipped

    def _page(
        self, status: str | None, limit: int, after: tuple[float, str] | None, offset: int
    ) -> tuple[list[JobRecord], bool]:
        # Newest first, then by id, like the SQLite store.
        index = status_index(status) if status else CREATED_INDEX
        need = offset + limit + 1
        with unavailable(self._url):
            top: float | str = after[0] if after else "+inf"
            # Jobs at the cursor's own time that it already passed are skipped: fetch that many more.
            skipped = int(self._client.zcount(index, after[0], after[0])) if after else 0
            found = self._client.zrevrangebyscore(index, top, "-inf", start=0, num=need + skipped, withscores=True)
            if found:
                # Ties at the last score may continue past the cut: take all of them, then order by id.
                last = found[-1][1]
                found = [f for f in found if f[1] != last]
                found += self._client.zrangebyscore(index, last, last, withscores=True)
        pairs = sorted(((score, member.decode()) for member, score in found), key=lambda p: (-p[0], p[1]))
        if after is not None:
            pairs = [(s, i) for s, i in pairs if s < after[0] or (s == after[0] and i > after[1])]
        page = pairs[offset : offset + limit + 1]
        records = {r.id: r for r in self._records(i for _, i in page[:limit])}
        ordered = [records[i] for _, i in page[:limit] if i in records]
        return ordered, len(page) > limit

    def changed_since(self, since: float, *, limit: int = 1000) -> list[JobRecord]:
        with unavailable(self._url):
            ids = self._client.zrangebyscore(UPDATED_INDEX, since, "+inf", start=0, num=limit)
        return sorted(self._records(ids), key=lambda r: (r.updated_at, r.id))

    def counts(self) -> dict[str, int]:
        with unavailable(self._url), self._client.pipeline(transaction=False) as pipe:
            for status in _STATUSES:
                pipe.zcard(status_index(status))
            return dict(zip(_STATUSES, (int(n) for n in pipe.execute()), strict=True))

    # -- transitions ----------------------------------------------------------

    def mark_running(self, job_id: str) -> bool:
        """queued -> running under this store's attempt; False when the job is no longer queued."""
        return bool(self._run("running", job_id, self.attempt))

    def _set_progress(self, job_id: str, percent: float, step: str | None, message: str | None) -> bool:
        result = self._run("progress", job_id, repr(percent), step or "", message or "", self.attempt)
        if result == 2 and self._on_cancel is not None:
            self._on_cancel(job_id)
        return bool(result)

    def _finish(self, job_id: str, status: JobStatus, error: str | None, outputs: str, output_dir: str | None) -> bool:
        completed = "1" if status == "completed" else "0"
        args = (status, error or "", outputs, output_dir or "", completed, self.attempt)
        return bool(self._run("finish", job_id, *args))

    def holds(self, job_id: str) -> bool:
        """Whether the job's record still names this store's attempt (nobody has given up on it)."""
        with unavailable(self._url):
            return bool(self.attempt) and self._client.hget(job_key(job_id), "attempt") == self.attempt.encode()

    def requeue(self, job_id: str, message: str) -> bool:
        """running -> queued for another attempt (its worker was lost); False when already final."""
        return bool(self._run("requeue", job_id, message))

    def request_cancel(self, job_id: str, reason: str) -> CancelRequest:
        """Cancel a queued job now ("dequeued"), or ask a running one to stop ("cancelling")."""
        answer = self._run("cancel", job_id, reason)
        text = answer.decode() if isinstance(answer, bytes) else str(answer)
        return "dequeued" if text == "dequeued" else "cancelling" if text == "cancelling" else "not-active"

    def _remove_finished(self, job_id: str) -> None:
        if self._run("remove", job_id, "1") == -1:
            raise rules.JobStateError(f"job {job_id} is no longer finished; cancel it before deleting it")

    def discard(self, job_id: str) -> None:
        self._run("remove", job_id, "0")

    def describe(self) -> str:
        """Where the records are, for the operator's log."""
        try:
            info = self._client.connection_pool.connection_kwargs
            return f"Redis {info.get('host', info.get('path', '?'))}:{info.get('port', '')} db {info.get('db', 0)}"
        except Exception:  # pragma: no cover - a log line must never fail a start
            return "Redis"
