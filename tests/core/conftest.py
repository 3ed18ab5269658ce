"""Fixtures shared by the core tests (opt-in: ``pytest.mark.usefixtures``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from langflix.config import get_settings


@pytest.fixture
def fresh_settings() -> Iterator[None]:
    """Settings read afresh from the environment during the test, and again after it.

    Settings are cached process-wide; tests that set LANGFLIX_* must not leak.
    """
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()
