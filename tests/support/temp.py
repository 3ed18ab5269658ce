"""Temp managers for tests: one under ``tmp_path``, what it leaves behind, and dead sessions."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from langflix.temp import TempArea, TempFileManager

__all__ = ["contents", "dead_session", "leftovers", "temp_manager"]


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


# A real process that makes a session, writes into it and dies without any
# cleanup (os._exit skips atexit and finalizers): the kernel drops its lock,
# exactly what SIGKILL or an OOM kill leaves behind.
_DIE_WITH_A_SESSION = """
import os, sys
from langflix.temp import TempFileManager
manager = TempFileManager(prefix=sys.argv[2], base_dir=sys.argv[1])
for name, size in zip(sys.argv[3::2], sys.argv[4::2]):
    (manager.session_dir / name).write_bytes(b"D" * int(size))
print(manager.session_dir, flush=True)
os._exit(0)
"""


def dead_session(base: Path, prefix: str = "langflix_", files: Mapping[str, int] | None = None) -> Path:
    """The session directory a dead process left under ``base``, holding ``files`` (name -> size)."""
    args = [str(base), prefix] + [str(part) for item in (files or {}).items() for part in item]
    done = subprocess.run(
        [sys.executable, "-c", _DIE_WITH_A_SESSION, *args], capture_output=True, text=True, timeout=60, check=True
    )
    return Path(done.stdout.strip())
