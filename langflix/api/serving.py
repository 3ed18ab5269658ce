"""The HTTP servers of the app: granian embedded (the default) or uvicorn, each ending the event streams first.

uvicorn's graceful shutdown waits for every open connection to finish its
response before it runs the app's lifespan shutdown; an event stream never
finishes by itself, so a browser left open on the jobs page would hold the
shutdown for its whole grace period. :class:`LangFlixServer` closes the app's
:class:`~langflix.api.events.JobEvents` first: every stream ends at once, and
the browser reconnects to whichever server comes next.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import warnings
from collections.abc import Callable

import uvicorn
from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["LangFlixServer", "end_event_streams", "serve_with_granian"]


def end_event_streams(app: FastAPI) -> None:
    """End every open event stream of ``app`` now (nothing when the app is not started)."""
    services = getattr(app.state, "services", None)
    if services is not None:
        services.events.close()


class LangFlixServer(uvicorn.Server):
    """``uvicorn.Server`` for a LangFlix app: shutdown starts by ending the event streams."""

    def __init__(self, config: uvicorn.Config, app: FastAPI) -> None:
        super().__init__(config)
        self.langflix_app = app

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        end_event_streams(self.langflix_app)
        await super().shutdown(sockets)


class _StartWatch:
    """ASGI wrapper that notices when the app's lifespan startup completed (and calls ``on_started`` once)."""

    def __init__(self, app: ASGIApp, on_started: Callable[[], None]) -> None:
        self.app = app
        self.on_started = on_started
        self.started = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return

        async def watched(message: Message) -> None:
            await send(message)
            if message["type"] == "lifespan.startup.complete" and not self.started:
                self.started = True
                self.on_started()

        await self.app(scope, receive, watched)


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

    watch = _StartWatch(app, on_started)
    server = Server(
        watch,
        address=host,
        port=port,
        interface=Interfaces.ASGI,
        websockets=False,
        log_level=LogLevels(log_level if log_level in LogLevels.__members__ else "info"),
    )
    server.workers_kill_timeout = graceful_seconds

    async def main() -> None:
        loop = asyncio.get_running_loop()

        def stop() -> None:
            end_event_streams(app)
            server.stop()  # type: ignore[no-untyped-call]

        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.add_signal_handler(sig, stop)
        try:
            await server.serve()
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                loop.remove_signal_handler(sig)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        uvloop.run(main())
    return watch.started
