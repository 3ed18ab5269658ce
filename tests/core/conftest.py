"""Fixtures of the video editor's tests: its media made once per module, a fresh scope and editor per test.

Each test gets its own temp manager under ``tmp_path``; the scope and the
manager are checked to leave nothing behind.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.editing import FMT, editor_media
from support.temp import temp_manager

from langflix.core.video_editor import VideoEditor
from langflix.temp import TempFileManager, TempScope


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return editor_media(tmp_path_factory.mktemp("media"))


@pytest.fixture
def manager(tmp_path: Path) -> Iterator[TempFileManager]:
    with temp_manager(tmp_path, cleanup_all=True) as mgr:
        yield mgr
    # Nothing left behind once the manager is closed.
    assert list((tmp_path / "tmp").rglob("*")) == []


@pytest.fixture
def scope(manager: TempFileManager) -> Iterator[TempScope]:
    with manager.scope("job") as job:
        yield job
    assert not job.path.exists()


@pytest.fixture
def editor(scope: TempScope) -> VideoEditor:
    return VideoEditor(scope, fmt=FMT)
