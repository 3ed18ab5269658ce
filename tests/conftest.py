"""Suite-wide guards: no test touches the real system temp dir, none leaks a session, and none
writes the LLM cache into the working directory (tests that use an LLM give their own cache dir)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(scope="session", autouse=True)
def _isolated_temp_base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Point LANGFLIX_TEMP_DIR at a private dir for the whole run, then check it is clean."""
    base = tmp_path_factory.mktemp("langflix-temp-base")
    previous = os.environ.get("LANGFLIX_TEMP_DIR")
    previous_cache = os.environ.get("LANGFLIX_CACHE_DIR")
    os.environ["LANGFLIX_TEMP_DIR"] = str(base)
    os.environ["LANGFLIX_CACHE_DIR"] = str(tmp_path_factory.mktemp("langflix-llm-cache"))
    from langflix.config import get_settings

    get_settings.cache_clear()
    yield base
    from langflix.temp import close_temp_manager

    close_temp_manager()
    for name, value in (("LANGFLIX_TEMP_DIR", previous), ("LANGFLIX_CACHE_DIR", previous_cache)):
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    get_settings.cache_clear()
