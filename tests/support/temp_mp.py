"""Targets for multiprocessing children in the temp tests (importable by name, as spawn needs)."""

from __future__ import annotations

import time
from pathlib import Path

from langflix.temp import TempFileManager

__all__ = ["make_a_session_then"]


def make_a_session_then(base: str, how: str, report: str) -> None:
    """Make a manager with a file in its session, write the session's path to ``report``, then ``how``.

    ``how``: "return", "raise" (a RuntimeError) or "wait" (to be terminated).
    """
    manager = TempFileManager(base_dir=base)
    (manager.session_dir / "work.bin").write_bytes(b"w" * 1000)
    Path(report).write_text(str(manager.session_dir))
    if how == "raise":
        raise RuntimeError("the work failed")
    if how == "wait":
        time.sleep(60)
