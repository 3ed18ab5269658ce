"""``langflix worker``: run jobs from Redis (RQ) on this host, for any number of API servers and hosts."""

from __future__ import annotations

from typing import Annotated

import typer

from langflix.cli import app
from langflix.cli.serve import STARTUP_FAILURE
from langflix.config import get_settings
from langflix.errors import LangFlixError

__all__ = ["worker"]


@app.command()
def worker(
    queues: Annotated[
        list[str] | None,
        typer.Option(
            "--queues", "-q", help="RQ queues to take jobs from, in order.", show_default="LANGFLIX_REDIS_QUEUE"
        ),
    ] = None,
    burst: Annotated[bool, typer.Option("--burst", help="Run the queued jobs, then exit.")] = False,
) -> None:
    """Take LangFlix jobs from Redis and run them here (needs LANGFLIX_REDIS_URL and LANGFLIX_SHARED_DIR).

    At start, this host's dead temp sessions and the shared dir's abandoned
    staging areas are reclaimed. Each job runs in a work horse of its own; its
    scratch stays on this host's temp dir, its outputs are published to the
    shared dir. SIGTERM or Ctrl-C: finish the running job, then stop (twice: now).
    """
    try:
        settings = get_settings()
    except LangFlixError as exc:
        typer.echo(f"langflix worker: {exc}", err=True)
        raise typer.Exit(code=STARTUP_FAILURE) from None
    if not settings.scaled_out:
        typer.echo(
            "langflix worker: LANGFLIX_REDIS_URL is not set; point it at the Redis your API servers use "
            "(redis://host:6379/0), and LANGFLIX_SHARED_DIR at the directory they share",
            err=True,
        )
        raise typer.Exit(code=STARTUP_FAILURE)
    try:
        from langflix.api.scale.worker import run_worker
    except ImportError as exc:
        typer.echo(f"langflix worker: {exc}; install the scale-out extra: pip install 'langflix[redis]'", err=True)
        raise typer.Exit(code=STARTUP_FAILURE) from None
    try:
        names = [name.strip() for given in queues or [] for name in given.split(",") if name.strip()]
        run_worker(settings, names or [settings.redis_queue], burst=burst)
    except LangFlixError as exc:
        typer.echo(f"langflix worker: {exc}", err=True)
        raise typer.Exit(code=STARTUP_FAILURE) from None
