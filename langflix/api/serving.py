"""The uvicorn server of the app: one that ends the dashboard's event streams when it starts to stop.

uvicorn's graceful shutdown waits for every open connection to finish its
response before it runs the app's lifespan shutdown; an event stream never
finishes by itself, so a browser left open on the jobs page would hold the
shutdown for its whole grace period. :class:`LangFlixServer` closes the app's
:class:`~langflix.api.events.JobEvents` first: every stream ends at once, and
the browser reconnects to whichever server comes next.
"""

from __future__ import annotations

import socket

import uvicorn
from fastapi import FastAPI

__all__ = ["LangFlixServer", "end_event_streams"]


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
