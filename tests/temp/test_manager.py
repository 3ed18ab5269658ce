"""Tests for ``langflix/temp/_manager.py``: the session a manager owns, its life cycle, the process-wide one."""

from __future__ import annotations

import asyncio
import fcntl
import os
import stat
from pathlib import Path

import pytest

from langflix.errors import ConfigError, TempFileError
from langflix.temp import TempFileManager, close_temp_manager, get_temp_manager


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_session_dir_layout(mgr: TempFileManager) -> None:
    session = mgr.session_dir
    assert session == mgr.path
    assert session.parent == mgr.base_dir
    assert session.name.startswith(f"{mgr.prefix}session-{os.getpid()}-")
    assert mode(session) == 0o700
    owner = (session / ".owner").read_text()
    assert str(os.getpid()) in owner and "boot_id" in owner and "host" in owner
    # Liveness is the lock: while the manager lives, nobody can take it exclusively.
    fd = os.open(session, os.O_RDONLY | os.O_DIRECTORY)
    try:
        with pytest.raises(BlockingIOError):
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        mgr.close()
        assert not session.exists()
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # released with the manager
    finally:
        os.close(fd)


def test_manager_life_cycle_close_twice_and_refuse_after(tmp_path: Path) -> None:
    manager = TempFileManager(base_dir=tmp_path / "tmp")
    session = manager.session_dir
    manager.new_file()
    manager.close()
    manager.close()  # twice is a no-op
    assert manager.closed and not session.exists()
    with pytest.raises(TempFileError, match="closed"):
        manager.new_file()
    assert list((tmp_path / "tmp").iterdir()) == []


def test_async_with_manager(tmp_path: Path) -> None:
    async def main() -> Path:
        async with TempFileManager(base_dir=tmp_path / "tmp") as manager:
            async with manager.create_temp_dir() as d:
                (d / "x").write_text("x")
            manager.new_file()
            return manager.session_dir

    session = asyncio.run(main())
    assert not session.exists()


def test_dropped_manager_is_cleaned_by_gc_with_resource_warning(tmp_path: Path) -> None:
    import gc

    manager = TempFileManager(base_dir=tmp_path / "tmp")
    session = manager.session_dir
    manager.new_file(suffix=".leak")
    del manager
    with pytest.warns(ResourceWarning, match="Implicitly cleaning up"):
        gc.collect()
    assert not session.exists()


# -- the process-wide manager ----------------------------------------------------


def test_get_temp_manager_takes_its_limits_from_the_settings(
    fresh_default: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LANGFLIX_TEMP_MAX_BYTES", "1000")
    monkeypatch.setenv("LANGFLIX_MIN_FREE_BYTES", "0")
    manager = get_temp_manager()
    assert manager.base_dir == fresh_default
    manager.reserve(1000).release()
    with pytest.raises(TempFileError, match="LANGFLIX_TEMP_MAX_BYTES"):
        manager.reserve(1001)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("LANGFLIX_TEMP_MAX_BYTES", "abc"),
        ("LANGFLIX_TEMP_MAX_BYTES", "0"),
        ("LANGFLIX_MIN_FREE_BYTES", "-1"),
        ("LANGFLIX_MIN_FREE_BYTES", "lots"),
    ],
)
def test_a_bad_setting_is_a_config_error_naming_it(
    fresh_default: Path, monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as info:
        get_temp_manager()
    message = str(info.value)
    assert message.startswith(f"{variable}: must be ") and f"got {value}" in message.replace("'", "")
    assert "Fix or unset" in message
    assert not fresh_default.exists(), "nothing may be created from settings that failed validation"


def test_close_temp_manager_closes_and_forgets_the_process_wide_one(fresh_default: Path) -> None:
    first = get_temp_manager()
    with first.create_temp_file(delete=False) as kept:
        pass
    session = first.session_dir
    close_temp_manager()
    assert first.closed and not kept.exists() and not session.exists()
    close_temp_manager()  # nothing to close: no error
    second = get_temp_manager()
    assert second is not first and not second.closed
