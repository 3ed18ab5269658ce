"""Tests for ``langflix/temp/_areas.py``: what a manager and a scope share, proven on real files.

The only patch is for what cannot be produced honestly here (a deletion that
fails although we run as root); the rest is real files under ``tmp_path``.
"""

from __future__ import annotations

import asyncio
import errno
import inspect
import logging
import os
import random
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from support.temp import leftovers

from langflix.temp import TempArea, TempFileManager, TempScope

LOGGER = "langflix.temp"


def files_on_disk(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.name != ".owner"}


def test_manager_and_scope_are_both_temp_areas(mgr: TempFileManager) -> None:
    with mgr.scope("job") as scope:
        assert isinstance(mgr, TempArea) and isinstance(scope, TempArea)
        assert isinstance(scope, TempScope)
    assert inspect.isabstract(TempArea)  # a manager or a scope, nothing else


def test_missing_file_is_not_an_error(mgr: TempFileManager, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)
    with mgr.create_temp_file() as path:
        path.unlink()  # ffmpeg (or the caller) already removed it
    with mgr.create_temp_file(delete=False) as kept:
        pass
    kept.unlink()
    with mgr.create_temp_dir() as d:
        shutil.rmtree(d)
    mgr.cleanup_all()
    assert mgr.stats().failures == 0
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_register_file_outside_base_dir(mgr: TempFileManager, tmp_path: Path) -> None:
    user = tmp_path / "user-input.mkv"
    user.write_bytes(b"the user's episode")
    with pytest.raises(ValueError, match="outside the temp base dir"):
        mgr.register_file(user)
    # A path that only looks inside: '..' leads out.
    with pytest.raises(ValueError):
        mgr.register_file(mgr.base_dir / ".." / "user-input.mkv")
    mgr.cleanup_all()
    assert user.read_bytes() == b"the user's episode"

    scratch = tmp_path / "scratch.bin"
    scratch.write_bytes(b"made by a tool outside")
    assert mgr.register_file(scratch, allow_outside=True) == scratch
    assert scratch in mgr.temp_files
    mgr.cleanup_all()
    assert not scratch.exists()


def test_register_file_through_a_symlinked_dir_is_outside(mgr: TempFileManager, tmp_path: Path) -> None:
    user_dir = tmp_path / "home"
    user_dir.mkdir()
    victim = user_dir / "thesis.docx"
    victim.write_bytes(b"years of work")
    link = mgr.session_dir / "innocent"
    link.symlink_to(user_dir, target_is_directory=True)
    # Lexically inside the base dir, really the user's file: must be refused.
    with pytest.raises(ValueError):
        mgr.register_file(link / "thesis.docx")
    mgr.cleanup_all()
    mgr.close()
    assert victim.read_bytes() == b"years of work"


def test_planted_symlink_never_followed_by_cleanup(mgr: TempFileManager, tmp_path: Path) -> None:
    user_dir = tmp_path / "user-videos"
    user_dir.mkdir()
    (user_dir / "episode.mkv").write_bytes(b"keep me")
    (user_dir / "sub").mkdir()
    (user_dir / "sub" / "ep.srt").write_text("keep me too")
    user_file = tmp_path / "notes.txt"
    user_file.write_text("mine")

    with mgr.create_temp_dir() as d:
        (d / "evil").symlink_to(user_dir, target_is_directory=True)
        (d / "nested").mkdir()
        (d / "nested" / "evil2").symlink_to(user_dir / "sub")
        (d / "file-link").symlink_to(user_file)
    with mgr.scope("job") as scope:
        (scope.path / "evil").symlink_to(user_dir)
        link = scope.path / "registered-link"
        link.symlink_to(user_dir)
        scope.register_file(link)
    kept_link = mgr.session_dir / "kept"
    kept_link.symlink_to(user_dir)
    mgr.temp_dirs.append(kept_link)
    mgr.cleanup_all()
    mgr.close()
    assert (user_dir / "episode.mkv").read_bytes() == b"keep me"
    assert (user_dir / "sub" / "ep.srt").read_text() == "keep me too"
    assert user_file.read_text() == "mine"
    assert not d.exists() and not scope.path.exists() and not kept_link.is_symlink()


def test_stats_figures(mgr: TempFileManager) -> None:
    s0 = mgr.stats()
    assert (s0.live_files, s0.live_dirs, s0.live_bytes, s0.created, s0.cleaned, s0.failures) == (0, 0, 0, 0, 0, 0)
    with mgr.create_temp_file(delete=False) as a:
        a.write_bytes(b"a" * 1000)
    with mgr.create_temp_file() as b:
        b.write_bytes(b"b" * 10)
    d = mgr.new_dir()
    (d / "inner").write_bytes(b"i" * 24)
    scope = mgr.scope("job")
    scope.new_file().write_bytes(b"s" * 500)
    s = mgr.stats()
    assert s.live_files == 2  # a + the scope's file
    assert s.live_dirs == 1
    assert s.live_scopes == 1
    assert s.live_bytes == 1000 + 24 + 500
    assert s.created == 4 + 0  # a, b, d, the scope's file
    assert s.cleaned == 1  # b
    assert s.failures == 0
    assert s.peak_bytes >= 1524
    scoped = scope.stats()
    assert (scoped.live_files, scoped.live_bytes, scoped.created) == (1, 500, 1)
    scope.close()
    mgr.cleanup_all()
    after = mgr.stats()
    assert (after.live_files, after.live_dirs, after.live_scopes, after.live_bytes) == (0, 0, 0, 0)
    assert after.peak_bytes >= 1524  # the peak is remembered
    assert after.cleaned == 4
    assert after.created == 4


def test_debug_logs_on_create_and_cleanup(mgr: TempFileManager, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    with mgr.create_temp_file(suffix=".wav") as f:
        pass
    with mgr.scope("job-9") as scope:
        g = scope.new_file()
    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
    assert any("created" in m and str(f) in m for m in messages)
    assert any("cleaned" in m and str(f) in m for m in messages)
    assert any("created" in m and str(g) in m and "job-9" in m for m in messages)
    assert any("scope" in m and "closed" in m and str(scope.path) in m for m in messages)


def test_cleanup_failure_warns_and_never_raises(
    mgr: TempFileManager, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # We run as root, so chmod cannot make a deletion fail; patch os.unlink to refuse once.
    victim = mgr.new_file(suffix=".locked")
    other = mgr.new_file(suffix=".fine")
    real_unlink = os.unlink
    refused: list[str] = []

    def unlink(path: str | os.PathLike[str], *args: Any, **kwargs: Any) -> None:
        if os.fspath(path) == str(victim) and not refused:
            refused.append(str(path))
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        real_unlink(path, *args, **kwargs)

    monkeypatch.setattr(os, "unlink", unlink)
    caplog.set_level(logging.WARNING, logger=LOGGER)
    mgr.cleanup_all()  # must not raise
    monkeypatch.undo()
    assert refused == [str(victim)]
    assert not other.exists()  # one failure does not stop the rest
    warnings_ = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(str(victim) in m and "Permission denied" in m for m in warnings_)
    assert mgr.stats().failures == 1
    victim.unlink()


def test_cleanup_failure_without_patches_warns(mgr: TempFileManager, caplog: pytest.LogCaptureFixture) -> None:
    # Root ignores permission bits, so the honest root-proof failure is a parent
    # that is a file: unlinking beneath it fails with ENOTDIR.
    caplog.set_level(logging.WARNING, logger=LOGGER)
    parent = mgr.session_dir / "not-a-dir"
    parent.write_text("I am a file")
    bogus = mgr.register_file(parent / "child.tmp")
    fine = mgr.new_file()
    mgr.cleanup_all()  # must not raise
    assert not fine.exists()
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(str(bogus) in m for m in warned)
    assert mgr.stats().failures == 1
    parent.unlink()


def test_sixteen_threads_hammering_one_manager(mgr: TempFileManager) -> None:
    threads_n, ops_n = 16, 500
    barrier = threading.Barrier(threads_n)
    errors: list[BaseException] = []
    kept_by_thread: dict[int, set[Path]] = {}

    def worker(index: int) -> None:
        rng = random.Random(index)
        kept: set[Path] = set()
        try:
            barrier.wait()
            for op in range(ops_n):
                choice = rng.randrange(6)
                if choice == 0:
                    with mgr.create_temp_file(suffix=f".{index}") as p:
                        assert p.exists()
                    assert not p.exists()
                elif choice == 1:
                    with mgr.create_temp_file(delete=False) as p:
                        pass
                    kept.add(p)
                elif choice == 2 and kept:
                    victim = kept.pop()
                    mgr.release(victim)
                    assert not victim.exists()
                elif choice == 3:
                    p = mgr.session_dir / f"reg-{index}-{op}"
                    p.write_bytes(b"r")
                    mgr.register_file(p)
                    kept.add(p)
                elif choice == 4:
                    with mgr.scope(f"t{index}") as scope:
                        with scope.create_temp_file() as p:
                            pass
                        scope.new_file()
                        with scope.scope("nested") as inner:
                            inner.new_dir()
                    assert not scope.path.exists()
                else:
                    with mgr.create_temp_dir() as d:
                        (d / "x").write_bytes(b"x")
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        kept_by_thread[index] = kept

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    expected = set().union(*kept_by_thread.values())
    assert set(mgr.temp_files) == expected  # nothing lost, nothing extra
    assert len(mgr.temp_dirs) == 0 and mgr.stats().live_scopes == 0
    assert files_on_disk(mgr.session_dir) == expected  # tracked == on disk
    s = mgr.stats()
    assert s.live_files == len(expected) and s.failures == 0
    mgr.cleanup_all()
    assert leftovers(mgr) == []


def test_tracking_is_a_map_not_a_searched_list(mgr: TempFileManager) -> None:
    many = [mgr.new_file() for _ in range(2000)]

    def cost(path: Path) -> float:
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            for _ in range(3000):
                assert path in mgr.temp_files
            best = min(best, time.perf_counter() - start)
        return best

    # A searched list finds the first entry at once and the last after 2000
    # comparisons; a map costs the same for both. Relative, so machine speed
    # does not matter.
    assert cost(many[-1]) < 3 * cost(many[0])
    mgr.cleanup_all()


def test_untracking_an_outside_path_stops_counting_its_bytes(mgr: TempFileManager, tmp_path: Path) -> None:
    outside = []
    for name in ("a.bin", "b.bin", "c.bin"):
        path = tmp_path / name
        path.write_bytes(b"o" * 10_000)
        outside.append(path)
    mgr.register_file(outside[0], allow_outside=True)
    mgr.register_file(outside[1], allow_outside=True)
    mgr.register_dir(outside[2], allow_outside=True)
    assert mgr.stats().live_bytes == 30_000
    mgr.temp_files.remove(outside[0])
    assert mgr.stats().live_bytes == 20_000, "a path no longer tracked still counted against the budget"
    mgr.temp_files.clear()
    assert mgr.stats().live_bytes == 10_000
    mgr.temp_dirs.discard(outside[2])
    assert mgr.stats().live_bytes == 0
    mgr.cleanup_all()
    assert all(p.exists() for p in outside), "untracked paths are the caller's again"


def test_a_second_cancellation_while_the_block_exits_still_removes_the_file(mgr: TempFileManager) -> None:
    # The executor is busy, so the removal waits for a worker; the task is then
    # cancelled again while it waits. The removal must still happen.
    async def scenario() -> tuple[Path, bool]:
        loop = asyncio.get_running_loop()
        loop.set_default_executor(ThreadPoolExecutor(max_workers=1))
        busy = threading.Event()
        loop.run_in_executor(None, busy.wait, 30)
        made: list[Path] = []

        async def job() -> None:
            async with mgr.create_temp_file(suffix=".wav") as path:
                made.append(path)
                await asyncio.sleep(30)

        task = asyncio.create_task(job())
        await asyncio.sleep(0.01)
        task.cancel()  # the first: leaves the block, whose exit waits for the executor
        await asyncio.sleep(0.01)
        task.cancel()  # the second, while the removal waits
        with pytest.raises(asyncio.CancelledError):
            await task
        still_there = made[0].exists()
        busy.set()
        return made[0], still_there

    path, waited = asyncio.run(scenario())  # asyncio.run waits for the executor's jobs
    assert waited, "the scenario did not make the removal wait: it proves nothing"
    assert not path.exists() and path not in mgr.temp_files


def test_aclose_cancelled_twice_still_closes_the_scope(mgr: TempFileManager) -> None:
    async def scenario() -> Path:
        loop = asyncio.get_running_loop()
        loop.set_default_executor(ThreadPoolExecutor(max_workers=1))
        busy = threading.Event()
        loop.run_in_executor(None, busy.wait, 30)
        scope = mgr.scope("job")
        scope.new_file().write_bytes(b"x")

        async def job() -> None:
            async with scope:
                await asyncio.sleep(30)

        task = asyncio.create_task(job())
        await asyncio.sleep(0.01)
        task.cancel()
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        busy.set()
        return scope.path

    path = asyncio.run(scenario())
    assert not path.exists()
