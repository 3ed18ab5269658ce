"""Suite-wide guards: no test touches the real system temp dir, and none leaks a session."""

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
    os.environ["LANGFLIX_TEMP_DIR"] = str(base)
    from langflix.config import get_settings

    get_settings.cache_clear()
    yield base
    from langflix.temp import close_temp_manager

    close_temp_manager()
    if previous is None:
        os.environ.pop("LANGFLIX_TEMP_DIR", None)
    else:
        os.environ["LANGFLIX_TEMP_DIR"] = previous
    get_settings.cache_clear()
