"""Tests for ``langflix/utils/temp_file_manager.py``: the ticket's API and everything beyond it.

Real files under ``tmp_path`` throughout; the only patches are for what cannot
be produced honestly here (EXDEV without a second filesystem, a deletion that
fails although we run as root).
"""

from __future__ import annotations

import asyncio
import errno
import fcntl
import logging
import os
import random
import shutil
import stat
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.temp import leftovers, temp_manager
from support.threads import race

from langflix.errors import TempFileError
from langflix.utils import temp_file_manager as tfm
from langflix.utils.temp_file_manager import (
    DEFAULT_PREFIX,
    TempFileManager,
    TempScope,
    TempStats,
    get_temp_manager,
)

LOGGER = "langflix.temp"


# -- helpers -------------------------------------------------------------------


@pytest.fixture
def mgr(tmp_path: Path) -> Iterator[TempFileManager]:
    with temp_manager(tmp_path) as manager:
        yield manager


def files_on_disk(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.name != ".owner"}


def open_fds_to(path: Path) -> list[str]:
    """The fds of this process that point at ``path`` (from /proc/self/fd)."""
    hits = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}") == str(path):
                hits.append(fd)
        except OSError:
            continue
    return hits


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def inside(path: Path, root: Path) -> bool:
    return path.resolve().is_relative_to(root.resolve())


# -- construction and the ticket's attributes ------------------------------------


def test_ticket_constructor_defaults(tmp_path: Path) -> None:
    manager = TempFileManager(base_dir=tmp_path / "tmp")
    try:
        assert manager.prefix == DEFAULT_PREFIX == "langflix_"
        assert manager.base_dir == tmp_path / "tmp"
        assert isinstance(manager.base_dir, Path)
        assert len(manager.temp_files) == 0 and len(manager.temp_dirs) == 0
        assert list(manager.temp_files) == [] and not manager.temp_dirs
    finally:
        manager.close()


def test_base_dir_defaults_to_env_then_system_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANGFLIX_TEMP_DIR", str(tmp_path / "from-env"))
    manager = TempFileManager()
    assert manager.base_dir == tmp_path / "from-env"
    manager.close()

    monkeypatch.delenv("LANGFLIX_TEMP_DIR")
    manager = TempFileManager()
    # The session is made lazily, so asking for base_dir writes nothing to the real temp dir.
    assert manager.base_dir == Path(tempfile.gettempdir())
    manager.close()


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


# -- create_temp_file --------------------------------------------------------------


def test_create_temp_file_name_exists_empty_closed(mgr: TempFileManager) -> None:
    with mgr.create_temp_file(suffix=".mkv", prefix="job7_video") as path:
        assert isinstance(path, Path)
        assert path.name.startswith("job7_video") and path.name.endswith(".mkv")
        assert path.parent == mgr.session_dir
        assert path.is_file() and path.stat().st_size == 0
        assert open_fds_to(path) == [], "the yielded file must be closed"
        assert mode(path) == 0o600
        assert path in mgr.temp_files
        path.write_bytes(b"data")  # usable by the caller (or by ffmpeg)
    assert not path.exists()
    assert path not in mgr.temp_files
    assert leftovers(mgr) == []


def test_create_temp_file_default_prefix_and_suffix(mgr: TempFileManager) -> None:
    with mgr.create_temp_file() as path:
        assert path.name.startswith("langflix_")
        assert len(path.name) > len("langflix_")
    custom = TempFileManager(prefix="lfx_", base_dir=mgr.base_dir)
    try:
        with custom.create_temp_file(suffix=".srt") as path:
            assert path.name.startswith("lfx_") and path.name.endswith(".srt")
            assert custom.session_dir.name.startswith("lfx_session-")
    finally:
        custom.close()


def test_create_temp_file_removed_on_exception(mgr: TempFileManager) -> None:
    with pytest.raises(KeyError, match="boom"):
        with mgr.create_temp_file(suffix=".wav") as path:
            path.write_bytes(b"x" * 100)
            raise KeyError("boom")
    assert not path.exists()
    assert len(mgr.temp_files) == 0


def test_delete_false_survives_block_and_cleanup_all_removes_it(mgr: TempFileManager) -> None:
    with mgr.create_temp_file(suffix=".mp4", delete=False) as kept:
        kept.write_bytes(b"video")
    assert kept.read_bytes() == b"video"
    assert kept in mgr.temp_files
    with mgr.create_temp_file(suffix=".tmp") as gone:
        pass
    assert not gone.exists()
    mgr.cleanup_all()
    assert not kept.exists()
    assert len(mgr.temp_files) == 0
    # The manager stays usable after cleanup_all.
    with mgr.create_temp_file() as again:
        assert again.exists()
    assert leftovers(mgr) == []


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


def test_create_temp_dir(mgr: TempFileManager) -> None:
    with mgr.create_temp_dir(prefix="frames_") as d:
        assert d.is_dir() and d.name.startswith("frames_")
        assert d.parent == mgr.session_dir
        assert mode(d) == 0o700
        assert d in mgr.temp_dirs
        (d / "sub").mkdir()
        (d / "sub" / "f.png").write_bytes(b"png")
        (d / "a.txt").write_text("a")
    assert not d.exists()
    assert len(mgr.temp_dirs) == 0
    with pytest.raises(RuntimeError):
        with mgr.create_temp_dir() as d2:
            (d2 / "x").write_text("x")
            raise RuntimeError("fail inside")
    assert not d2.exists()
    assert leftovers(mgr) == []


def test_names_are_unique_and_unpredictable(mgr: TempFileManager) -> None:
    paths = [mgr.new_file(suffix=".x") for _ in range(300)]
    assert len(set(paths)) == 300
    randoms = {p.name[len("langflix_") : -len(".x")] for p in paths}
    assert len(randoms) == 300
    assert all(len(r) >= 8 for r in randoms)
    # Not a counter: the random parts do not sort in creation order.
    assert sorted(randoms) != [p.name[len("langflix_") : -len(".x")] for p in paths]
    mgr.cleanup_all()
    assert leftovers(mgr) == []


# -- temp_files / temp_dirs behave like the sketch's lists -----------------------------


def test_temp_files_behaves_like_the_sketch_list(mgr: TempFileManager) -> None:
    made = []
    for i in range(5):
        with mgr.create_temp_file(suffix=f".{i}", delete=False) as p:
            made.append(p)
    files = mgr.temp_files
    assert len(files) == 5
    assert list(files) == made  # insertion order
    assert [p for p in files] == made
    assert made[2] in files and str(made[2]) in files
    assert mgr.session_dir / "nope" not in files
    assert 42 not in files

    # append registers: a file made elsewhere (by ffmpeg, say) is then cleaned up.
    external = mgr.session_dir / "ffmpeg_out.mp4"
    external.write_bytes(b"out")
    files.append(external)
    assert external in files and len(files) == 6

    # remove stops tracking without deleting, like list.remove; absent -> ValueError.
    files.remove(made[0])
    assert made[0] not in files and made[0].exists()
    with pytest.raises(ValueError):
        files.remove(made[0])

    mgr.cleanup_all()
    assert not external.exists()
    assert not any(p.exists() for p in made[1:])
    assert made[0].exists()  # no longer ours: left alone
    made[0].unlink()

    # clear forgets everything; nothing is deleted and cleanup then leaves them.
    kept = mgr.new_file()
    files.clear()
    assert len(files) == 0
    mgr.cleanup_all()
    assert kept.exists()
    kept.unlink()


def test_temp_files_append_outside_base_dir_is_refused(mgr: TempFileManager, tmp_path: Path) -> None:
    user_file = tmp_path / "user.mkv"
    user_file.write_bytes(b"precious")
    with pytest.raises(ValueError, match="outside the temp base dir"):
        mgr.temp_files.append(user_file)
    mgr.cleanup_all()
    assert user_file.read_bytes() == b"precious"


def test_temp_dirs_behaves_like_the_sketch_list(mgr: TempFileManager) -> None:
    d1 = mgr.new_dir(prefix="a_")
    external = mgr.session_dir / "made_elsewhere"
    external.mkdir()
    (external / "f").write_text("f")
    mgr.temp_dirs.append(external)
    assert list(mgr.temp_dirs) == [d1, external]
    assert len(mgr.temp_dirs) == 2 and external in mgr.temp_dirs
    mgr.temp_dirs.remove(d1)
    assert d1 not in mgr.temp_dirs and d1.is_dir()
    mgr.cleanup_all()
    assert not external.exists() and d1.is_dir()
    d1.rmdir()
    assert leftovers(mgr) == []


def test_register_file_then_cleanup(mgr: TempFileManager) -> None:
    produced = mgr.session_dir / "produced.wav"
    produced.write_bytes(b"RIFF")
    returned = mgr.register_file(str(produced))
    assert returned == produced and produced in mgr.temp_files
    mgr.register_file(produced)  # registering twice tracks it once, like the sketch's "if not in"
    assert len(mgr.temp_files) == 1
    mgr.cleanup_all()
    assert not produced.exists()


# -- get_temp_manager ------------------------------------------------------------------


@pytest.fixture
def fresh_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Isolate the process-wide manager: its own base dir, restored afterwards."""
    base = tmp_path / "default-base"
    monkeypatch.setenv("LANGFLIX_TEMP_DIR", str(base))
    monkeypatch.setattr(tfm, "_default_manager", None)
    yield base
    if tfm._default_manager is not None:
        tfm._default_manager.close()


def test_get_temp_manager_is_one_process_wide_instance(fresh_default: Path) -> None:
    first = get_temp_manager()
    assert get_temp_manager() is first
    assert first.base_dir == fresh_default

    outcome = race(get_temp_manager, 8)
    assert outcome.errors == []
    seen = outcome.results
    assert all(m is first for m in seen) and len(seen) == 8

    with first.create_temp_file() as p:
        assert p.is_relative_to(fresh_default)
    first.close()
    second = get_temp_manager()
    assert second is not first and not second.closed


def test_get_temp_manager_concurrent_first_call(fresh_default: Path) -> None:
    outcome = race(get_temp_manager, 8)
    assert outcome.errors == []
    assert len({id(m) for m in outcome.results}) == 1


# -- scopes ----------------------------------------------------------------------------


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
            1 / 0
    assert not scope.path.exists()
    assert leftovers(mgr) == []


def test_scope_cleanup_failure_never_hides_the_block_error(
    mgr: TempFileManager, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    real = tfm.remove_tree

    def failing(path: Path) -> tuple[int, int]:
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr(tfm, "remove_tree", failing)
    caplog.set_level(logging.WARNING, logger=LOGGER)
    with pytest.raises(KeyError, match="the real error"):
        with mgr.scope("job") as scope:
            raise KeyError("the real error")
    assert scope.path.exists()
    assert any(str(scope.path) in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    assert mgr.stats().failures == 1
    monkeypatch.setattr(tfm, "remove_tree", real)


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


def test_scope_name_from_a_user_cannot_escape(mgr: TempFileManager) -> None:
    for name in ["../../../etc", "a/b", "/abs", "..", "x\0y", ""]:
        with mgr.scope(name) as scope:
            assert scope.path.parent == mgr.session_dir
            assert "/" not in scope.path.name and "\0" not in scope.path.name
    assert leftovers(mgr) == []


def test_dropped_scope_is_cleaned_by_gc_with_resource_warning(mgr: TempFileManager) -> None:
    import gc

    scope = mgr.scope("dropped")
    path = scope.path
    scope.new_file()
    mgr._scopes.pop(scope)  # simulate a scope nobody references any more
    del scope
    with pytest.warns(ResourceWarning):
        gc.collect()
    assert not path.exists()


# -- async ----------------------------------------------------------------------------


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


# -- persist ---------------------------------------------------------------------------


def test_persist_same_filesystem_is_an_atomic_replace(mgr: TempFileManager, tmp_path: Path) -> None:
    dest = tmp_path / "out" / "final.mp4"
    dest.parent.mkdir()
    dest.write_bytes(b"old")
    old_inode = dest.stat().st_ino
    with mgr.create_temp_file(suffix=".mp4") as tmp:
        tmp.write_bytes(b"new video")
        source_inode = tmp.stat().st_ino
        result = mgr.persist(tmp, dest)
        assert result == dest
        assert tmp not in mgr.temp_files and not tmp.exists()
    # os.replace moved the very inode: no copy, no window with half a file.
    assert dest.stat().st_ino == source_inode != old_inode
    assert dest.read_bytes() == b"new video"
    assert mode(dest) == 0o666 & ~tfm._UMASK  # published with the usual mode, not 0600
    mgr.cleanup_all()
    assert dest.read_bytes() == b"new video"
    assert leftovers(mgr) == []


def test_persist_directory_and_creates_parents(mgr: TempFileManager, tmp_path: Path) -> None:
    d = mgr.new_dir(prefix="bundle_")
    (d / "a.mp4").write_bytes(b"a")
    (d / "sub").mkdir()
    (d / "sub" / "b.srt").write_text("b")
    dest = tmp_path / "deep" / "er" / "bundle"
    mgr.persist(d, dest)
    assert (dest / "a.mp4").read_bytes() == b"a" and (dest / "sub" / "b.srt").read_text() == "b"
    assert d not in mgr.temp_dirs and not d.exists()
    mgr.cleanup_all()
    assert dest.is_dir()


def test_persist_refuses_foreign_and_missing_paths(mgr: TempFileManager, tmp_path: Path) -> None:
    foreign = tmp_path / "user.mkv"
    foreign.write_bytes(b"mine")
    with pytest.raises(TempFileError, match="not a temp path"):
        mgr.persist(foreign, tmp_path / "stolen.mkv")
    assert foreign.read_bytes() == b"mine"
    gone = mgr.new_file()
    gone.unlink()
    with pytest.raises(TempFileError, match="does not exist"):
        mgr.persist(gone, tmp_path / "x")


def _old_destination_and_new_file(
    mgr: TempFileManager, out: Path, old: bytes, new: bytes
) -> tuple[Path, Path]:
    """A new dir ``out`` whose ``final.mp4`` holds ``old``, and a temp .mp4 holding ``new``."""
    out.mkdir()
    dest = out / "final.mp4"
    dest.write_bytes(old)
    src = mgr.new_file(suffix=".mp4")
    src.write_bytes(new)
    return dest, src


def _fail_replace_with_exdev_once(monkeypatch: pytest.MonkeyPatch, source: Path) -> list[tuple[str, str]]:
    """os.replace raises EXDEV for ``source`` once, as it would across filesystems."""
    real_replace = os.replace
    calls: list[tuple[str, str]] = []

    def fake_replace(src: os.PathLike[str] | str, dst: os.PathLike[str] | str, **kw: object) -> None:
        calls.append((os.fspath(src), os.fspath(dst)))
        if Path(src) == source and len(calls) == 1:
            raise OSError(errno.EXDEV, "Invalid cross-device link", os.fspath(src))
        real_replace(src, dst, **kw)

    monkeypatch.setattr(os, "replace", fake_replace)
    return calls


def test_persist_across_filesystems_copies_beside_then_renames(
    mgr: TempFileManager, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    dest, src = _old_destination_and_new_file(mgr, out, b"old", b"N" * 100_000)
    calls = _fail_replace_with_exdev_once(monkeypatch, src)
    mgr.persist(src, dest)
    monkeypatch.undo()
    assert dest.read_bytes() == b"N" * 100_000
    # The second rename went from a hidden name beside the destination (same dir, same fs).
    assert len(calls) == 2
    staged = Path(calls[1][0])
    assert staged.is_relative_to(out) and staged.parent.name.startswith(".final.mp4.")
    assert Path(calls[1][1]) == dest
    assert sorted(p.name for p in out.iterdir()) == ["final.mp4"]  # no .partial left
    assert not src.exists() and src not in mgr.temp_files
    assert leftovers(mgr) == []


def test_persist_directory_across_filesystems(
    mgr: TempFileManager, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    d = mgr.new_dir()
    (d / "x").mkdir()
    (d / "x" / "y.bin").write_bytes(b"y")
    dest = tmp_path / "published"
    _fail_replace_with_exdev_once(monkeypatch, d)
    mgr.persist(d, dest)
    monkeypatch.undo()
    assert (dest / "x" / "y.bin").read_bytes() == b"y"
    assert not d.exists() and d not in mgr.temp_dirs
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_persist_directory_over_a_claimed_empty_directory(
    mgr: TempFileManager, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The pipeline claims <episode>/ with mkdir, then renames its finished
    # episode over it: readers see no episode or all of it, on one filesystem or two.
    for exdev in (False, True):
        claimed = tmp_path / f"episode-{exdev}"
        claimed.mkdir()
        staged = mgr.new_dir()
        (staged / "01.mp4").write_bytes(b"v")
        (staged / "manifest.json").write_text("{}")
        if exdev:
            _fail_replace_with_exdev_once(monkeypatch, staged)
        mgr.persist(staged, claimed)
        monkeypatch.undo()
        assert sorted(p.name for p in claimed.iterdir()) == ["01.mp4", "manifest.json"]
        assert not staged.exists() and staged not in mgr.temp_dirs
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
    assert leftovers(mgr) == []


def test_persist_crash_mid_copy_keeps_the_old_destination(
    mgr: TempFileManager, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    dest, src = _old_destination_and_new_file(mgr, out, b"old complete video", b"new" * 50_000)
    _fail_replace_with_exdev_once(monkeypatch, src)

    def broken_fsync(path: Path) -> None:
        raise OSError(errno.EIO, "Input/output error", str(path))

    monkeypatch.setattr(tfm, "_fsync_file", broken_fsync)
    with pytest.raises(TempFileError, match="cannot copy"):
        mgr.persist(src, dest)
    monkeypatch.undo()
    assert dest.read_bytes() == b"old complete video"
    assert sorted(p.name for p in out.iterdir()) == ["final.mp4"]  # the partial copy is gone
    assert src.exists() and src in mgr.temp_files  # still ours, still cleaned up
    mgr.cleanup_all()
    assert not src.exists()


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A real second filesystem (tmpfs) inside tmp_path; skipped where mounting is not allowed."""
    mount_point = tmp_path / "other-fs"
    mount_point.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root and mount(8); EXDEV is covered by the patched tests")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip()}); EXDEV is covered by the patched tests")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def test_persist_across_a_real_filesystem_boundary(mgr: TempFileManager, tmpfs: Path) -> None:
    assert os.stat(tmpfs).st_dev != os.stat(mgr.session_dir).st_dev
    src = mgr.new_file(suffix=".mp4")
    src.write_bytes(b"R" * 10_000)
    dest = tmpfs / "final.mp4"
    dest.write_bytes(b"old")
    mgr.persist(src, dest)
    assert dest.read_bytes() == b"R" * 10_000
    assert [p.name for p in tmpfs.iterdir()] == ["final.mp4"]
    assert not src.exists() and src not in mgr.temp_files
    d = mgr.new_dir()
    (d / "f").write_text("f")
    mgr.persist(d, tmpfs / "dir")
    assert (tmpfs / "dir" / "f").read_text() == "f" and not d.exists()


# -- security ---------------------------------------------------------------------------


def test_modes_are_private(mgr: TempFileManager) -> None:
    old_umask = os.umask(0)  # even a permissive umask must not widen temp modes
    try:
        with mgr.create_temp_file() as f, mgr.create_temp_dir() as d, mgr.scope("s") as s:
            assert mode(f) == 0o600
            assert mode(d) == 0o700
            assert mode(s.path) == 0o700
            assert mode(s.new_file()) == 0o600
            assert mode(mgr.session_dir) == 0o700
            assert mode(mgr.session_dir / ".owner") == 0o600
    finally:
        os.umask(old_umask)


HOSTILE = ["../../escape", "a/b/c", "/etc/passwd", "..", "...", "x\0y", "..\\..\\win", "..//..//", "./.", "."]


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_prefix_and_suffix_stay_inside_the_session(
    mgr: TempFileManager, tmp_path: Path, hostile: str
) -> None:
    session = mgr.session_dir
    before = set(tmp_path.rglob("*"))
    made = []
    with mgr.create_temp_file(prefix=hostile, suffix=hostile) as f:
        made.append(f)
    with mgr.create_temp_dir(prefix=hostile) as d:
        made.append(d)
    made.append(mgr.new_file(prefix=hostile, suffix=hostile))
    made.append(mgr.new_dir(prefix=hostile))
    with mgr.scope("job") as scope:
        made.append(scope.new_file(prefix=hostile, suffix=hostile))
    for path in made:
        assert inside(path, session), path
        assert path.parent == session or path.parent == scope.path
        assert "\0" not in str(path) and "/" not in path.name and ".." not in path.name
    mgr.cleanup_all()
    assert set(tmp_path.rglob("*")) - before <= {session, session / ".owner"}


def test_hostile_manager_prefix_is_sanitised(tmp_path: Path) -> None:
    manager = TempFileManager(prefix="../../evil/", base_dir=tmp_path / "tmp")
    try:
        with manager.create_temp_file() as f:
            assert inside(f, tmp_path / "tmp")
        assert manager.session_dir.parent == tmp_path / "tmp"
    finally:
        manager.close()
    assert list((tmp_path / "tmp").iterdir()) == []


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


# -- stats and logs -----------------------------------------------------------------------


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

    def unlink(path: object, *args: object, **kwargs: object) -> None:
        if os.fspath(path) == str(victim) and not refused:  # type: ignore[arg-type]
            refused.append(str(path))
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        real_unlink(path, *args, **kwargs)  # type: ignore[arg-type]

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


# -- thread safety ------------------------------------------------------------------------


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


def test_persist_through_the_manager_forgets_a_scope_file(mgr: TempFileManager, tmp_path: Path) -> None:
    # Regression: persisting a job's output through the manager left the scope
    # tracking a file that was gone (found by the stateful test).
    with mgr.scope("job") as scope:
        out = scope.new_file(suffix=".mp4")
        out.write_bytes(b"final")
        mgr.persist(out, tmp_path / "final.mp4")
        assert out not in scope.temp_files
        assert scope.stats().live_files == 0 and mgr.stats().live_files == 0
    assert (tmp_path / "final.mp4").read_bytes() == b"final"


def test_new_file_names_keep_the_guarantees(mgr: TempFileManager) -> None:
    # new_file builds names itself (not via mkstemp): the same guarantees, checked directly.
    p = mgr.new_file()
    assert p.parent == mgr.session_dir and p.name.startswith("langflix_") and mode(p) == 0o600
    assert p == Path(str(p)) and hash(p) == hash(Path(str(p)))  # a plain Path, usable as a key
    with pytest.raises(TypeError):
        mgr.new_file(suffix=None)  # type: ignore[arg-type]
    mgr.release(str(p))  # a str finds the tracked Path
    assert not p.exists() and len(mgr.temp_files) == 0


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


@pytest.mark.parametrize(
    ("prefix", "suffix"),
    [
        ("가" * 80, ".자막" * 10),  # Korean job id and upload name: 3 bytes a character
        ("job\ud800", ".srt"),  # a lone surrogate from a JSON job id has no bytes on disk
        ("x", "\udcff.mkv"),  # a surrogate-escaped byte from os.fsdecode is fine
        ("p" * 500, "." + "s" * 500),
    ],
)
def test_long_and_odd_user_names_never_fail_the_create(mgr: TempFileManager, prefix: str, suffix: str) -> None:
    with mgr.create_temp_file(prefix=prefix, suffix=suffix) as f:
        assert f.parent == mgr.session_dir
        assert len(os.fsencode(f.name)) <= 255
        assert f.name.endswith(suffix[-3:])  # the end of the suffix (the extension) is kept
    with mgr.create_temp_dir(prefix=prefix) as d:
        assert d.parent == mgr.session_dir
    with mgr.scope(prefix) as scope:
        assert scope.path.parent == mgr.session_dir and len(os.fsencode(scope.path.name)) <= 255
    assert leftovers(mgr) == []
