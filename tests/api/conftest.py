"""Fixtures of the API tests (the helpers they use are in ``helpers.py``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from .helpers import Episode, LiveServer, make_episode, start_server


@pytest.fixture(scope="session")
def episode(tmp_path_factory: pytest.TempPathFactory) -> Episode:
    return make_episode(tmp_path_factory.mktemp("api-episode"))


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[Callable[..., LiveServer]]:
    """Factory: ``live_server(**setting_overrides)``; every server is stopped at the end."""
    started: list[LiveServer] = []

    def factory(**overrides: Any) -> LiveServer:
        server = start_server(tmp_path / f"srv{len(started)}", **overrides)
        started.append(server)
        return server

    yield factory
    for server in started:
        server.stop()
        # The app made its own manager: at shutdown its session dir must be gone.
        assert server.settings.temp_dir is not None
        assert list(server.settings.temp_dir.iterdir()) == [], "temp dir not empty after shutdown"


@pytest.fixture
def server(live_server: Callable[..., LiveServer]) -> LiveServer:
    return live_server()
