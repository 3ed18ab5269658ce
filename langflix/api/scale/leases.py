"""A job's lease: the Redis key that owns its staged inputs in the shared dir, and the check the sweep asks.

Whoever holds the job keeps the key alive: the API while it receives the
upload, the work horse while it runs the job. Each renews every third of
``LANGFLIX_LEASE_TTL``, so a holder that dies (SIGKILL, a lost host) lets the
key expire within one TTL. :class:`RedisLeaseChecker` answers the temp sweep's
one question, in one atomic script: the lease has expired *and* the job will
never run again (finished, or unknown), so the staged bytes have no owner left.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Final

import redis

from langflix.api.scale.connection import unavailable
from langflix.api.scale.keys import job_key, lease_key, rq_job_key
from langflix.temp import LeaseChecker

__all__ = ["Lease", "LeaseKeeper", "RedisLeaseChecker", "holder_name"]

logger = logging.getLogger(__name__)

_RELEASE: Final[str] = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

# 1 when the staged bytes have no owner left: no lease, and the job is finished,
# unknown, or queued with no RQ job to ever run it (a server died between the two writes).
_ABANDONED: Final[str] = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local status = redis.call('HGET', KEYS[2], 'status')
if not status then return 1 end
if status == 'completed' or status == 'failed' or status == 'cancelled' then return 1 end
if status == 'queued' and redis.call('EXISTS', KEYS[3]) == 0 then return 1 end
return 0
"""


def holder_name(role: str) -> str:
    """Who holds a lease, for people reading Redis: role, host and pid."""
    return f"{role}@{os.uname().nodename}:{os.getpid()}"


class Lease:
    """The lease of job ``job_id``'s staged inputs, held under the name ``holder``."""

    def __init__(self, client: redis.Redis, url: str, job_id: str, ttl: float, holder: str) -> None:
        self._client, self._url = client, url
        self.key = lease_key(job_id)
        self.ttl_ms = max(1, int(ttl * 1000))
        self.holder = holder
        self._release = client.register_script(_RELEASE)

    def take(self) -> None:
        """Hold the lease from now on, whoever held it before (the job is ours to run now)."""
        with unavailable(self._url):
            self._client.set(self.key, self.holder, px=self.ttl_ms)

    def take_new(self) -> bool:
        """Hold a lease nobody holds; False when someone does."""
        with unavailable(self._url):
            return bool(self._client.set(self.key, self.holder, px=self.ttl_ms, nx=True))

    def renew(self) -> bool:
        """Extend the lease by a TTL; False when it had expired (a sweep may have reclaimed what it owned)."""
        with unavailable(self._url):
            return bool(self._client.set(self.key, self.holder, px=self.ttl_ms, xx=True))

    def release(self) -> None:
        """Drop the lease if it is still ours; an unreachable Redis lets it expire instead."""
        try:
            self._release(keys=[self.key], args=[self.holder])
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            logger.info("lease %s not released (%s); it expires on its own", self.key, exc)


class LeaseKeeper:
    """A daemon thread renewing ``lease`` every third of its TTL until :meth:`stop`.

    ``lost`` turns True when a renewal finds the lease expired: the holder
    was silent longer than the TTL. A Redis outage is waited out (the key's
    expiry runs on the server, which keeps it across a restart).
    """

    def __init__(self, lease: Lease, *, take: bool) -> None:
        self.lease = lease
        self.lost = False
        self._take = take
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"langflix-lease-{lease.key}", daemon=True)

    def start(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def _run(self) -> None:
        interval = self.lease.ttl_ms / 3000
        while not self._stop.wait(interval):
            try:
                renewed = self.lease.renew()
            except Exception as exc:  # an outage: try again next time
                logger.warning("lease %s not renewed: %s", self.lease.key, exc)
                continue
            if not renewed:
                if not self._take:
                    self.lost = True
                    logger.warning("lease %s had expired; its staged inputs may be reclaimed", self.lease.key)
                    return
                # A running job's lease: the job cannot be reclaimed while it runs, so take it back.
                try:
                    self.lease.take()
                except Exception as exc:
                    logger.warning("lease %s not taken back: %s", self.lease.key, exc)

    def stop(self) -> None:
        """Stop renewing (the lease is left to its TTL or released by the caller); safe to call twice."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(5)


class RedisLeaseChecker(LeaseChecker):
    """The temp sweep's question, asked of Redis: is this job's lease abandoned?"""

    def __init__(self, client: redis.Redis, url: str) -> None:
        self._url = url
        self._script = client.register_script(_ABANDONED)

    def abandoned(self, lease: str) -> bool:
        with unavailable(self._url):
            return bool(self._script(keys=[lease_key(lease), job_key(lease), rq_job_key(lease)], args=[]))
