"""``/events``: one server-sent event stream per dashboard page, carrying HTML the page swaps in.

The jobs page listens for ``job-<id>`` (a row, or an HTML comment when the
job was deleted) and ``job-new`` (a row to add at the top); a job page for
``job-<id>`` of its job (its status block); the temp page for ``temp`` (the
panel). Rows and panels are rendered by the same templates as the page, so
escaping happens in one place, and pushed when the store says a job changed
(:class:`~langflix.api.events.JobEvents`): no polling loop per row, and at
most one message per job per :data:`COALESCE_SECONDS`.

Each message's ``id`` is the store time it reflects: a browser that
reconnects sends it back (``Last-Event-ID``) and gets what changed since. A
stream ends after :data:`STREAM_SECONDS` (the browser reconnects) and at once
when the server starts shutting down.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any, Final, Literal

import anyio
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse

from langflix.api.deps import Services, ServicesDep
from langflix.api.guard import authorize_api
from langflix.api.pages import render_fragment
from langflix.api.routes.dashboard import jobs_path, row_context, temp_context
from langflix.api.routes.jobs import job_json
from langflix.api.store import JobNotFoundError

__all__ = ["COALESCE_SECONDS", "KEEPALIVE_SECONDS", "STREAM_SECONDS", "TEMP_SECONDS", "router", "sse_message"]

router = APIRouter(include_in_schema=False)

COALESCE_SECONDS: Final[float] = 0.2
TEMP_SECONDS: Final[float] = 2.0
KEEPALIVE_SECONDS: Final[float] = 15.0
STREAM_SECONDS: Final[float] = 300.0
_RETRY_MS: Final[int] = 2000
_DELETED: Final[str] = "<!-- deleted -->"


def sse_message(event: str, data: str, event_id: str | None = None) -> str:
    """One event-stream message; every line of ``data`` is its own ``data:`` line (the browser joins them)."""
    lines = [f"event: {event}"]
    if event_id is not None:
        lines.append(f"id: {event_id}")
    lines += [f"data: {line}" for line in (data.splitlines() or [""])]
    return "\n".join(lines) + "\n\n"


def _access(request: Request, services: ServicesDep) -> None:
    authorize_api(request, services.access)


def _since(request: Request, since: float | None) -> float:
    last = request.headers.get("last-event-id", "")
    try:
        return float(last)
    except ValueError:
        return since if since is not None else time.time()


class _JobMessages:
    """The messages of one stream's view of jobs: rows of the list, or the status block of one job."""

    def __init__(
        self, services: Services, jobs_url: str, view: Literal["rows", "detail"], job: str | None, since: float
    ) -> None:
        self.services, self.jobs_url, self.view, self.job, self.since = services, jobs_url, view, job, since
        self.announced: set[str] = set()

    def wanted(self, job_id: str) -> bool:
        return self.job is None or job_id == self.job

    def render(self, job_id: str, stamp: str) -> list[str]:
        try:
            record = self.services.store.get(job_id)
        except JobNotFoundError:
            deleted = render_fragment("_job_deleted.html", {"job_id": job_id}) if self.view == "detail" else _DELETED
            return [sse_message(f"job-{job_id}", deleted, stamp)]
        context: dict[str, Any] = row_context(job_json(record, self.jobs_url))
        if self.view == "detail":
            return [sse_message(f"job-{job_id}", render_fragment("_job_status.html", context), stamp)]
        row = render_fragment("_job_row.html", context)
        messages = []
        if record.created_at >= self.since and job_id not in self.announced:
            self.announced.add(job_id)
            messages.append(sse_message("job-new", row, stamp))
        messages.append(sse_message(f"job-{job_id}", row, stamp))
        return messages

    def batch(self, job_ids: set[str]) -> list[str]:
        stamp = repr(self.services.store.now())
        return [m for job_id in sorted(job_ids) if self.wanted(job_id) for m in self.render(job_id, stamp)]

    def catch_up(self) -> list[str]:
        stamp = repr(self.services.store.now())
        changed = {r.id for r in self.services.store.changed_since(self.since)}
        return [m for job_id in sorted(changed) if self.wanted(job_id) for m in self.render(job_id, stamp)]


@router.get("/events", dependencies=[Depends(_access)])
async def events(
    request: Request,
    services: ServicesDep,
    view: Literal["rows", "detail", "none"] = "rows",
    job: str | None = Query(None, max_length=64),
    temp: bool = False,
    since: float | None = None,
) -> StreamingResponse:
    messages = _JobMessages(
        services, jobs_path(request), "detail" if view == "detail" else "rows", job, _since(request, since)
    )
    with_jobs = view != "none"

    async def stream() -> AsyncIterator[str]:
        subscription = services.events.subscribe()
        try:
            yield f"retry: {_RETRY_MS}\n\n"
            if with_jobs:
                for message in await anyio.to_thread.run_sync(messages.catch_up):
                    yield message
            started = last_sent = time.monotonic()
            next_temp = started
            while not subscription.closed and time.monotonic() - started < STREAM_SECONDS:
                now = time.monotonic()
                if temp and now >= next_temp:
                    context = await anyio.to_thread.run_sync(temp_context, services)
                    yield sse_message("temp", render_fragment("_temp_panel.html", context))
                    next_temp, last_sent = now + TEMP_SECONDS, now
                wait = min(KEEPALIVE_SECONDS, next_temp - now) if temp else KEEPALIVE_SECONDS
                changed = await subscription.next(max(wait, 0.01))
                if changed and with_jobs:
                    await anyio.sleep(COALESCE_SECONDS)  # let a burst of progress updates become one message
                    changed |= await subscription.next(0)
                    for message in await anyio.to_thread.run_sync(messages.batch, changed):
                        yield message
                    last_sent = time.monotonic()
                elif time.monotonic() - last_sent >= KEEPALIVE_SECONDS:
                    yield ": keep-alive\n\n"
                    last_sent = time.monotonic()
        finally:
            subscription.close()

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
