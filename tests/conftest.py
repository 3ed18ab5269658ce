"""Suite-wide guards and real tmpfs mounts.

No test touches the real system temp dir, none leaks a session, and none writes
the LLM cache into the working directory (tests that use an LLM give their own
cache dir); ``tmpfs`` mounts small real filesystems for full-disk and
cross-filesystem tests.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
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


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Callable[..., Path]]:
    """Mount small tmpfs filesystems under tmp_path (root only), unmounted afterwards.

    ``tmpfs(size)``, or ``tmpfs(size, inodes=n)`` for one that runs out of inodes first.
    """
    mounts: list[Path] = []

    def mount(size: int, *, inodes: int | None = None) -> Path:
        if os.geteuid() != 0 or shutil.which("mount") is None:
            pytest.skip("mounting a tmpfs needs root and mount(8); the full-disk tests run in CI as root")
        where = tmp_path / f"tmpfs-{len(mounts)}"
        where.mkdir()
        options = f"size={size},mode=0755" + (f",nr_inodes={inodes}" if inodes is not None else "")
        result = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here ({result.stderr.strip() or result.returncode})")
        mounts.append(where)
        return where

    yield mount
    for where in reversed(mounts):
        subprocess.run(["umount", "-l", str(where)], check=False)
