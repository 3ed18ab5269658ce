"""Fixtures of the temp package's tests: managers under ``tmp_path``, real children (tmpfs: tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from support.temp import temp_manager
from support.temp_child import Child, Spawn

from langflix.temp import TempFileManager, close_temp_manager


@pytest.fixture
def mgr(tmp_path: Path) -> Iterator[TempFileManager]:
    with temp_manager(tmp_path) as manager:
        yield manager


@pytest.fixture
def make_mgr(tmp_path: Path) -> Iterator[Callable[..., TempFileManager]]:
    """Managers made with ``make_mgr(base=None, **kwargs)`` (base: ``tmp_path / "tmp"``), all closed after."""
    managers: list[TempFileManager] = []

    def make(base: Path | None = None, **kwargs: Any) -> TempFileManager:
        manager = TempFileManager(base_dir=base or tmp_path / "tmp", **kwargs)
        managers.append(manager)
        return manager

    yield make
    for manager in managers:
        manager.close()


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Spawn]:
    """Start children running ``PRELUDE`` + a body; none outlives the test."""
    children: list[Child] = []

    def make(body: str) -> Child:
        child = Child(body, tmp_path)
        children.append(child)
        return child

    yield make
    for child in children:  # never leave a process behind, even when a test failed
        child.kill()
        for stream in (child.proc.stdin, child.proc.stdout, child.proc.stderr):
            if stream is not None:
                stream.close()


@pytest.fixture
def fresh_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The process-wide manager, made afresh under its own base dir and closed afterwards."""
    base = tmp_path / "default-base"
    monkeypatch.setenv("LANGFLIX_TEMP_DIR", str(base))
    monkeypatch.delenv("LANGFLIX_TEMP_MAX_BYTES", raising=False)
    monkeypatch.delenv("LANGFLIX_MIN_FREE_BYTES", raising=False)
    close_temp_manager()
    yield base
    close_temp_manager()
