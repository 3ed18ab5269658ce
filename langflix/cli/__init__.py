"""The ``langflix`` command line: one Typer app, one module per command group."""

from __future__ import annotations

import typer

__all__ = ["app"]

app = typer.Typer(
    name="langflix",
    help="Turn an episode (video + subtitles) into short English-learning videos.",
    no_args_is_help=True,
    add_completion=False,
)

# Each module registers its commands on `app` (or adds a sub-group) at import.
from langflix.cli import temp as _temp  # noqa: E402,F401
