"""``langflix serve``: run the job API with uvicorn.

One uvicorn process; ``--workers`` is the number of *job* worker threads
(``LANGFLIX_WORKERS``), not uvicorn processes: jobs, their cancel handles and
their temp scopes live in this one process, which is what lets a DELETE stop
a job's ffmpeg and lets SIGTERM leave the temp dir empty.
"""

from __future__ import annotations

import logging
import signal
from types import FrameType
from typing import Annotated, Final

import typer

from langflix.cli import app
from langflix.config import get_settings

__all__ = ["GRACEFUL_SHUTDOWN_SECONDS", "STARTUP_FAILURE", "serve"]

logger = logging.getLogger(__name__)

STARTUP_FAILURE: Final[int] = 3
GRACEFUL_SHUTDOWN_SECONDS: Final[int] = 10
"""How long in-flight requests (an upload) get before they are cancelled at shutdown."""


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port (0: any free port).")] = 8000,
    workers: Annotated[
        int | None,
        typer.Option(min=1, help="Job worker threads.", show_default="LANGFLIX_WORKERS, else 2"),
    ] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
) -> None:
    """Serve the LangFlix job API under /api/v1; SIGTERM or Ctrl-C stops it cleanly.

    At start: orphaned temp sessions of dead processes are reclaimed and jobs a
    dead server left running are marked failed. At stop: no new job is taken,
    running jobs are cancelled, their temp files removed; the exit status is 0.
    """
    import uvicorn

    from langflix.api.app import create_app

    settings = get_settings()
    if workers is not None:
        settings = settings.model_copy(update={"workers": workers})
    config = uvicorn.Config(
        create_app(settings),
        host=host,
        port=port,
        log_level=log_level,
        lifespan="on",
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )
    server = uvicorn.Server(config)

    # uvicorn handles SIGTERM/SIGINT while it runs (graceful shutdown, which
    # cancels the jobs and empties the temp dir through the app's lifespan) and
    # afterwards re-raises the signal to the handler it found. Without this, that
    # would be the generic exit-on-signal handler and a clean shutdown would end
    # with status 143. A signal that arrives just before uvicorn takes over asks
    # the server to stop instead of being lost.
    def _graceful(signum: int, frame: FrameType | None) -> None:
        server.should_exit = True

    # SIGHUP (uvicorn ignores it) takes the same graceful path instead of the
    # generic handler, which would exit with jobs' ffmpeg children still running.
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
    for sig in previous:
        signal.signal(sig, _graceful)
    try:
        server.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if not server.started:
        raise typer.Exit(code=STARTUP_FAILURE)  # e.g. the job store is locked; uvicorn logged why
