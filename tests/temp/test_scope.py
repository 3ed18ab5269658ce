"""Tests for ``langflix/temp/_scope.py``: a job's directory, removed in one go, whatever happens."""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from support.temp import leftovers

from langflix.errors import TempFileError
from langflix.temp import TempFileManager, TempScope, TempStats

LOGGER = "langflix.temp"


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_scope_owns_everything_and_is_removed_at_exit(mgr: TempFileManager) -> None:
    with mgr.scope("job-42") as scope:
        assert isinstance(scope, TempScope)
        assert scope.path.parent == mgr.session_dir
        assert scope.path.name.startswith("job-42")
        assert mode(scope.path) == 0o700
        with scope.create_temp_file(suffix=".mkv") as p:
            assert p.parent == scope.path and p.exists()
        assert not p.exists()
        with scope.create_temp_file(suffix=".wav", delete=False) as kept:
            kept.write_bytes(b"w" * 10)
        d = scope.new_dir()
        (d / "deep").mkdir()
        (d / "deep" / "f").write_bytes(b"f")
        made_by_ffmpeg = scope.path / "concat.txt"
        made_by_ffmpeg.write_text("file a")
        scope.register_file(made_by_ffmpeg)
        untracked = scope.path / "stray.log"  # even an untracked file goes with the dir
        untracked.write_text("log")
        assert kept in scope.temp_files and kept not in mgr.temp_files
    assert not scope.path.exists()
    assert scope.closed
    assert leftovers(mgr) == []
    assert len(scope.temp_files) == 0


def test_scope_removed_on_exception_and_error_is_not_replaced(mgr: TempFileManager) -> None:
    with pytest.raises(ZeroDivisionError):
        with mgr.scope("job") as scope:
            with scope.create_temp_file(delete=False) as p:
                p.write_text("x")
            raise ZeroDivisionError("inside the scope")
    assert not scope.path.exists()
    assert leftovers(mgr) == []


def test_scope_cleanup_failure_never_hides_the_block_error(
    mgr: TempFileManager, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # We run as root, so permissions cannot make the removal fail: os.rmdir refuses the scope's dir.
    real_rmdir = os.rmdir

    def rmdir(path: str, *args: Any, **kwargs: Any) -> None:
        if os.path.basename(path).startswith("job-"):
            raise PermissionError(errno.EACCES, "Permission denied", path)
        real_rmdir(path, *args, **kwargs)

    monkeypatch.setattr(os, "rmdir", rmdir)
    caplog.set_level(logging.WARNING, logger=LOGGER)
    with pytest.raises(KeyError, match="the real error"):
        with mgr.scope("job") as scope:
            raise KeyError("the real error")
    assert scope.path.exists()
    assert any(str(scope.path) in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    assert mgr.stats().failures == 1
    monkeypatch.undo()


def test_scopes_nest(mgr: TempFileManager) -> None:
    with mgr.scope("outer") as outer:
        outer_file = outer.new_file()
        with outer.scope("inner") as inner:
            assert inner.path.parent == outer.path
            inner_file = inner.new_file(suffix=".x")
            with inner.scope("innermost") as innermost:
                deep = innermost.new_file()
                assert deep.exists()
            assert not innermost.path.exists() and inner_file.exists()
        assert not inner.path.exists()
        assert outer_file.exists()
        # A nested scope still open when its parent closes is closed with it.
        dangling = outer.scope("dangling")
        dangling_file = dangling.new_file()
    assert outer.closed and dangling.closed
    assert not dangling_file.exists() and not outer.path.exists()
    assert leftovers(mgr) == []


def test_closed_scope_refuses_new_files(mgr: TempFileManager) -> None:
    with mgr.scope("job") as scope:
        pass
    with pytest.raises(TempFileError, match="closed"):
        scope.new_file()
    with pytest.raises(TempFileError, match="closed"):
        with scope.create_temp_file():
            pass
    scope.close()  # twice is a no-op
    assert leftovers(mgr) == []


def test_scope_has_the_manager_api(mgr: TempFileManager, tmp_path: Path) -> None:
    dest_dir = tmp_path / "out"
    with mgr.scope("job") as scope:
        with scope.create_temp_dir(prefix="d_") as d:
            assert d.parent == scope.path
        with scope.create_temp_file(delete=False) as f:
            f.write_bytes(b"123")
        s = scope.stats()
        assert isinstance(s, TempStats) and s.live_files == 1 and s.live_bytes == 3
        scope.cleanup_all()
        assert not f.exists() and scope.path.is_dir()  # cleanup_all keeps the scope usable
        with scope.create_temp_file(delete=False) as g:
            g.write_bytes(b"result")
        final = scope.persist(g, dest_dir / "result.bin")
        assert final.read_bytes() == b"result" and g not in scope.temp_files
    assert final.exists()
    final.unlink()


def test_manager_cleanup_all_closes_open_scopes(mgr: TempFileManager) -> None:
    scope = mgr.scope("forgotten")
    f = scope.new_file()
    assert mgr.stats().live_scopes == 1
    mgr.cleanup_all()
    assert scope.closed and not f.exists() and not scope.path.exists()
    assert mgr.stats().live_scopes == 0


def test_dropped_scope_is_cleaned_by_gc_with_resource_warning(tmp_path: Path) -> None:
    import gc

    manager = TempFileManager(base_dir=tmp_path / "tmp")
    scope = manager.scope("dropped")
    path = scope.path
    scope.new_file()
    del manager, scope  # nobody references the scope (nor its manager) any more
    with pytest.warns(ResourceWarning) as warned:
        gc.collect()
    assert any("<TempScope 'dropped'" in str(w.message) for w in warned), [str(w.message) for w in warned]
    assert not path.exists()


def test_async_with_scope_and_file(mgr: TempFileManager) -> None:
    async def main() -> tuple[Path, Path]:
        async with mgr.scope("async-job") as scope:
            async with scope.create_temp_file(suffix=".aac") as f:
                assert f.exists()
            assert not f.exists()
            keep = scope.new_file()
            return scope.path, keep

    scope_path, keep = asyncio.run(main())
    assert not scope_path.exists() and not keep.exists()
    assert leftovers(mgr) == []


def test_async_scope_removed_on_cancellation(mgr: TempFileManager) -> None:
    entered = asyncio.Event
    paths: list[Path] = []

    async def job(ready: asyncio.Event) -> None:
        async with mgr.scope("cancel-me") as scope:
            paths.append(scope.path)
            for _ in range(20):
                scope.new_file(suffix=".part")
            async with scope.create_temp_file(suffix=".mkv") as f:
                paths.append(f)
                ready.set()
                await asyncio.sleep(3600)

    async def main() -> None:
        ready = entered()
        task = asyncio.create_task(job(ready))
        await ready.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert paths and not any(p.exists() for p in paths)
    assert leftovers(mgr) == []


def test_async_scope_exit_does_not_block_the_event_loop(mgr: TempFileManager) -> None:
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    async def main() -> int:
        scope = mgr.scope("big")
        for i in range(40):
            d = scope.path / f"d{i}"
            d.mkdir()
            for j in range(50):
                os.close(os.open(d / f"f{j}", os.O_CREAT | os.O_WRONLY, 0o600))
        task = asyncio.create_task(ticker())
        await asyncio.sleep(0)
        before = ticks
        async with scope:
            pass
        during = ticks - before
        task.cancel()
        assert not scope.path.exists()
        return during

    during = asyncio.run(main())
    # Removing 2,000 entries in the loop's thread (even inside a task) would let
    # the ticker run once or twice; in a worker thread it keeps ticking.
    assert during > 10, during
