"""Tests for ``langflix/temp/_persist.py`` through ``persist``: whole at the destination or not there.

EXDEV is produced for real on a tmpfs mounted under ``tmp_path`` where the
tests run as root, and by a patched ``os.replace`` everywhere else.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from support.temp import leftovers

from langflix.errors import TempFileError
from langflix.temp import TempFileManager


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def current_umask() -> int:
    old = os.umask(0o022)
    os.umask(old)
    return old


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
    assert mode(dest) == 0o666 & ~current_umask()  # published with the usual mode, not 0600
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


def _no_staging_left(*dirs: Path) -> None:
    for directory in dirs:
        assert [p.name for p in directory.iterdir() if p.name.endswith(".partial")] == [], directory


def test_persist_across_filesystems_copies_then_renames(mgr: TempFileManager, tmpfs: Callable[[int], Path]) -> None:
    out = tmpfs(4 * 1024 * 1024)
    dest, src = _old_destination_and_new_file(mgr, out / "out", b"old", b"N" * 100_000)
    mgr.persist(src, dest)
    assert dest.read_bytes() == b"N" * 100_000
    assert mode(dest) == 0o666 & ~current_umask()
    assert sorted(p.name for p in dest.parent.iterdir()) == ["final.mp4"]  # no .partial left
    assert not src.exists() and src not in mgr.temp_files
    assert leftovers(mgr) == [], "the staging record is gone too"


def test_persist_directory_across_filesystems(mgr: TempFileManager, tmpfs: Callable[[int], Path]) -> None:
    other = tmpfs(4 * 1024 * 1024)
    d = mgr.new_dir()
    (d / "x").mkdir()
    (d / "x" / "y.bin").write_bytes(b"y")
    dest = other / "published"
    mgr.persist(d, dest)
    assert (dest / "x" / "y.bin").read_bytes() == b"y"
    assert mode(dest) == mode(dest / "x") == 0o777 & ~current_umask()
    assert not d.exists() and d not in mgr.temp_dirs
    _no_staging_left(other)


def test_persist_directory_over_an_empty_directory(
    mgr: TempFileManager, tmp_path: Path, tmpfs: Callable[[int], Path]
) -> None:
    # rename(2) replaces an empty directory, on one filesystem or across two.
    for where in (tmp_path, tmpfs(4 * 1024 * 1024)):
        claimed = where / "episode"
        claimed.mkdir()
        staged = mgr.new_dir()
        (staged / "01.mp4").write_bytes(b"v")
        (staged / "manifest.json").write_text("{}")
        mgr.persist(staged, claimed)
        assert sorted(p.name for p in claimed.iterdir()) == ["01.mp4", "manifest.json"]
        assert not staged.exists() and staged not in mgr.temp_dirs
        _no_staging_left(where)
    assert leftovers(mgr) == []


def test_persist_crash_mid_copy_keeps_the_old_destination(
    mgr: TempFileManager, tmpfs: Callable[[int], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmpfs(4 * 1024 * 1024) / "out"
    dest, src = _old_destination_and_new_file(mgr, out, b"old complete video", b"new" * 50_000)

    def broken_fsync(fd: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "fsync", broken_fsync)  # the disk fails under the copy
    with pytest.raises(TempFileError, match="cannot copy"):
        mgr.persist(src, dest)
    monkeypatch.undo()
    assert dest.read_bytes() == b"old complete video"
    assert sorted(p.name for p in out.iterdir()) == ["final.mp4"]  # the partial copy is gone
    assert src.exists() and src in mgr.temp_files  # still ours, still cleaned up
    mgr.cleanup_all()
    assert not src.exists()


def test_persist_across_a_real_filesystem_boundary(mgr: TempFileManager, tmpfs: Callable[[int], Path]) -> None:
    other = tmpfs(16 * 1024 * 1024)
    assert os.stat(other).st_dev != os.stat(mgr.session_dir).st_dev
    src = mgr.new_file(suffix=".mp4")
    src.write_bytes(b"R" * 10_000)
    dest = other / "final.mp4"
    dest.write_bytes(b"old")
    mgr.persist(src, dest)
    assert dest.read_bytes() == b"R" * 10_000
    assert [p.name for p in other.iterdir()] == ["final.mp4"]
    assert not src.exists() and src not in mgr.temp_files
    d = mgr.new_dir()
    (d / "f").write_text("f")
    mgr.persist(d, other / "dir")
    assert (other / "dir" / "f").read_text() == "f" and not d.exists()


def test_persist_through_the_manager_forgets_a_scope_file(mgr: TempFileManager, tmp_path: Path) -> None:
    # Persisting a job's output through the manager must also forget it in the
    # scope that tracked it, or that scope would count a file that is gone.
    with mgr.scope("job") as scope:
        out = scope.new_file(suffix=".mp4")
        out.write_bytes(b"final")
        mgr.persist(out, tmp_path / "final.mp4")
        assert out not in scope.temp_files
        assert scope.stats().live_files == 0 and mgr.stats().live_files == 0
    assert (tmp_path / "final.mp4").read_bytes() == b"final"
