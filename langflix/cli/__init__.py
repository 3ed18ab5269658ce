"""The ``langflix`` command line: one Typer app, one module per command group."""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from langflix.temp import install_signal_handlers

__all__ = ["app"]

app = typer.Typer(
    name="langflix",
    help="Turn an episode (video + subtitles) into short English-learning videos.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def _main(
    verbose: Annotated[int, typer.Option("--verbose", "-v", count=True, help="-v: info, -vv: debug logs.")] = 0,
) -> None:
    """Runs before every command: logging, and temp cleanup on SIGTERM/SIGHUP."""
    level = {0: logging.WARNING, 1: logging.INFO}.get(verbose, logging.DEBUG)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Python's default SIGTERM skips atexit; this makes a killed command clean up first.
    install_signal_handlers()


# Each module registers its commands on `app` (or adds a sub-group) at import.
from langflix.cli import pipeline as _pipeline  # noqa: E402,F401
from langflix.cli import serve as _serve  # noqa: E402,F401
from langflix.cli import temp as _temp  # noqa: E402,F401
from langflix.cli import worker as _worker  # noqa: E402,F401
