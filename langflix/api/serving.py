"""The HTTP servers of the app: uvicorn (the default) or granian embedded, each ending the event streams first.

uvicorn's graceful shutdown waits for every open connection to finish its
response before it runs the app's lifespan shutdown; an event stream never
finishes by itself, so a browser left open on the jobs page would hold the
shutdown for its whole grace period. :class:`LangFlixServer` closes the app's
:class:`~langflix.api.events.JobEvents` first: every stream ends at once, and
the browser reconnects to whichever server comes next.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import warnings
from collections.abc import Callable
from typing import Any

import uvicorn
from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from langflix.api.direct_body import DirectBodyProtocol

__all__ = ["LangFlixServer", "end_event_streams", "serve_with_granian", "uvicorn_config"]

logger = logging.getLogger(__name__)


def end_event_streams(app: FastAPI) -> None:
    """End every open event stream of ``app`` now (nothing when the app is not started)."""
    services = getattr(app.state, "services", None)
    if services is not None:
        services.events.close()


def uvicorn_config(app: FastAPI, **options: Any) -> uvicorn.Config:
    """uvicorn's configuration for a LangFlix app: its HTTP protocol offers bodies off the socket.

    :class:`~langflix.api.direct_body.DirectBodyProtocol` is uvicorn's own
    httptools protocol plus the extension the upload routes use to ``splice``
    a body straight into its file; ``options`` are ``uvicorn.Config``'s.
    """
    return uvicorn.Config(app, http=DirectBodyProtocol, **options)


class LangFlixServer(uvicorn.Server):
    """``uvicorn.Server`` for a LangFlix app: shutdown starts by ending the event streams."""

    def __init__(self, config: uvicorn.Config, app: FastAPI) -> None:
        super().__init__(config)
        self.langflix_app = app

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        end_event_streams(self.langflix_app)
        await super().shutdown(sockets)


class _AppWatch:
    """ASGI wrapper: notices the end of the lifespan startup, and knows the requests in flight.

    granian's graceful stop waits for every request to finish; an upload still
    arriving would hold the shutdown (and the jobs' cleanup after it) for as
    long as its client keeps sending. :meth:`cancel_requests` ends them the way
    a client that goes away does: each removes its own partial files.
    """

    def __init__(self, app: ASGIApp, on_started: Callable[[], None]) -> None:
        self.app = app
        self.on_started = on_started
        self.started = False
        self.requests: set[asyncio.Task[object]] = set()
        self.stopping = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, self._watching(send))
            return
        task = asyncio.current_task()
        if task is None:
            await self.app(scope, receive, send)
            return
        self.requests.add(task)
        answered = False

        async def tracked(message: Message) -> None:
            nonlocal answered
            answered = answered or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except asyncio.CancelledError:
            if not self.stopping:
                raise
            # Ours, at shutdown: the request removed its partial files as it unwound.
            if not answered:
                await send(
                    {
                        "type": "http.response.start",
                        "status": 503,
                        "headers": [(b"connection", b"close"), (b"retry-after", b"5")],
                    }
                )
                await send(
                    {"type": "http.response.body", "body": b"the server is shutting down; resume the upload later"}
                )
        finally:
            self.requests.discard(task)

    def _watching(self, send: Send) -> Send:
        async def watched(message: Message) -> None:
            await send(message)
            if message["type"] == "lifespan.startup.complete" and not self.started:
                self.started = True
                self.on_started()

        return watched

    def cancel_requests(self) -> None:
        self.stopping = True
        for task in list(self.requests):
            task.cancel()


def serve_with_granian(
    app: FastAPI,
    host: str,
    port: int,
    *,
    log_level: str,
    graceful_seconds: int,
    on_started: Callable[[], None],
) -> bool:
    """Serve ``app`` with granian embedded in this process (uvloop) until SIGTERM, SIGINT or SIGHUP.

    Why granian: its Rust HTTP layer hands the app request bodies at several
    times uvicorn's rate on this kind of machine (``benchmarks/bench_upload_servers.py``).
    Embedded, not as granian's own worker processes: jobs, their cancel
    handles and their temp scopes live in this one process, as the temp
    contract needs. Each signal ends the event streams first, then stops the
    server (in-flight requests get ``graceful_seconds``), then the app's
    lifespan shutdown runs. Returns whether the app started.
    """
    import uvloop
    from granian.constants import Interfaces
    from granian.log import LogLevels
    from granian.server.embed import Server

    watch = _AppWatch(app, on_started)
    server = Server(
        watch,
        address=host,
        port=port,
        interface=Interfaces.ASGI,
        websockets=False,
        log_level=LogLevels(log_level if log_level in LogLevels.__members__ else "info"),
    )
    # A last resort only: requests are cancelled after graceful_seconds (below), so the worker ends on its own.
    server.workers_kill_timeout = graceful_seconds + 5

    async def main() -> None:
        loop = asyncio.get_running_loop()

        def stop() -> None:
            end_event_streams(app)
            server.stop()  # type: ignore[no-untyped-call]
            loop.call_later(graceful_seconds, watch.cancel_requests)

        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.add_signal_handler(sig, stop)
        try:
            await server.serve()
        except TimeoutError:
            # granian gave up on its worker; the temp manager's exit cleanup still runs.
            logger.warning("the HTTP server did not stop within %d s; exiting anyway", graceful_seconds + 5)
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                loop.remove_signal_handler(sig)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        uvloop.run(main())
    return watch.started
