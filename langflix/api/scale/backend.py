"""An API server's scaled-out job backend: the Redis store and the RQ runner, opened together."""

from __future__ import annotations

import logging

from langflix.api.backend import JobBackend
from langflix.api.scale.connection import connect, describe_url, reachable
from langflix.api.scale.runner import RQJobRunner
from langflix.api.scale.store import RedisJobStore
from langflix.config import Settings

__all__ = ["open_redis_backend"]

logger = logging.getLogger(__name__)


def open_redis_backend(settings: Settings) -> JobBackend:
    """Reach Redis (BackendUnavailableError with the fix when it does not answer) and build the backend.

    Nothing is marked interrupted at start: queued and running jobs belong to
    the workers, and a lost worker's job is found by its lease, not by this
    server's restart.
    """
    assert settings.redis_url is not None
    url = settings.redis_url
    client = connect(url, patient=False)
    reachable(client, url)
    _warn_without_persistence(client)
    store = RedisJobStore(client, url)
    runner = RQJobRunner(store, client, settings)
    return JobBackend(store, runner, (), f"Redis {describe_url(url)} (queue {settings.redis_queue!r})", store.close)


def _warn_without_persistence(client: object) -> None:
    try:
        config = client.config_get("appendonly")  # type: ignore[attr-defined]
    except Exception:  # CONFIG is often disabled on a managed Redis: its operator knows
        return
    if config.get("appendonly") != "yes":
        logger.warning(
            "Redis runs without its append-only file (appendonly no): a Redis restart may lose job records; "
            "set 'appendonly yes' in its configuration"
        )
