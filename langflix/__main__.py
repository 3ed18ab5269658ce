"""``python -m langflix``: the same as the ``langflix`` command."""

from langflix.cli import app

app()
