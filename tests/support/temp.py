"""Temp managers for tests: one under ``tmp_path``, and what it leaves behind."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from langflix.temp import TempArea, TempFileManager

__all__ = ["contents", "leftovers", "temp_manager"]


@contextmanager
def temp_manager(root: Path, *, cleanup_all: bool = False, **kwargs: Any) -> Iterator[TempFileManager]:
    """A ``TempFileManager`` with its base dir at ``root / "tmp"``, closed at exit.

    With ``cleanup_all`` it also runs ``cleanup_all()`` at exit, before ``close()``.
    ``kwargs`` go to ``TempFileManager``.
    """
    manager = TempFileManager(base_dir=root / "tmp", **kwargs)
    try:
        yield manager
    finally:
        try:
            if cleanup_all:
                manager.cleanup_all()
        finally:
            manager.close()


def leftovers(area: TempArea) -> list[Path]:
    """Everything under the area's directory except the session's own ``.owner`` record."""
    return sorted(p for p in area.path.rglob("*") if p.name != ".owner")


def contents(area: TempArea) -> list[Path]:
    """Everything under the area's directory, sorted, nothing left out (for scopes)."""
    return sorted(area.path.rglob("*"))
