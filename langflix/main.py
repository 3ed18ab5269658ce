"""Compatibility name of :mod:`langflix.pipeline` (where ``LangFlixPipeline`` lives)."""

from langflix.pipeline import *  # noqa: F403
