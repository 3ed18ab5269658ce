"""Tests for ``langflix/temp/_persist.py`` through ``persist``: whole at the destination or not there.

EXDEV is produced for real on a tmpfs mounted under ``tmp_path`` (the tests run
as root, as in CI); links, device nodes, FIFOs and sockets are made for real, and
closes race persists from real threads.
"""

from __future__ import annotations

import errno
import os
import random
import re
import shutil
import socket
import stat
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from support.temp import leftovers

from langflix.errors import DestinationExistsError, TempFileError
from langflix.temp import TempArea, TempFileManager, TempScope


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

    real_fsync = os.fsync
    destination_disk = os.stat(out).st_dev

    def broken_fsync(fd: int) -> None:
        if os.fstat(fd).st_dev == destination_disk:
            raise OSError(errno.EIO, "Input/output error")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", broken_fsync)  # the destination's disk fails under the copy
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


# -- never through a link, never a special file ------------------------------------------


def test_a_symlink_source_is_refused_and_its_target_untouched(mgr: TempFileManager, tmp_path: Path) -> None:
    key = tmp_path / "id_ed25519"
    key.write_text("private key")
    key.chmod(0o600)
    link = mgr.session_dir / "innocent.mp4"
    link.symlink_to(key)
    with pytest.raises(TempFileError, match="is a symbolic link; persist never follows a link"):
        mgr.persist(link, tmp_path / "published.mp4")
    assert mode(key) == 0o600, "persist chmodded what the link points to"
    assert not os.path.lexists(tmp_path / "published.mp4")


def test_a_symlink_anywhere_in_a_tree_is_refused_before_anything_moves(
    mgr: TempFileManager, tmp_path: Path
) -> None:
    key = tmp_path / "secret"
    key.write_text("s")
    key.chmod(0o600)
    d = mgr.new_dir()
    (d / "ok.mp4").write_bytes(b"v")
    (d / "deep" / "er").mkdir(parents=True)
    (d / "deep" / "er" / "key").symlink_to(key)
    with pytest.raises(TempFileError, match=r"deep/er/key: it is a symbolic link"):
        mgr.persist(d, tmp_path / "tree")
    assert mode(key) == 0o600 and not os.path.lexists(tmp_path / "tree")
    assert (d / "ok.mp4").exists() and d in mgr.temp_dirs, "the tree stays the manager's, cleaned up as usual"


def test_a_directory_on_the_way_swapped_for_a_link_is_refused(mgr: TempFileManager, tmp_path: Path) -> None:
    # What whoever may rename entries of the base dir could do: put a link
    # where a job's directory was, pointing at a tree of private files laid
    # out like the job's. Persist must reach the source through no link.
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    with mgr.scope("job") as scope:
        out = scope.new_file(suffix=".mp4")
        (private / out.name).write_text("root's private file")
        (private / out.name).chmod(0o600)
        os.rename(scope.path, tmp_path / "moved-away")
        scope.path.symlink_to(private)
        with pytest.raises(TempFileError, match="never follows a link"):
            scope.persist(out, tmp_path / "published.mp4")
        assert mode(private / out.name) == 0o600 and (private / out.name).exists()
        assert not os.path.lexists(tmp_path / "published.mp4")
        scope.path.unlink()
        os.rename(tmp_path / "moved-away", scope.path)


def _special(kind: str, where: Path) -> Path:
    if kind == "character device":
        os.mknod(where, stat.S_IFCHR | 0o600, os.makedev(1, 5))  # /dev/zero: endless bytes
    elif kind == "named pipe (FIFO)":
        os.mkfifo(where, 0o600)
    else:
        # A socket's path is limited to 108 bytes: bind it by a name relative to its directory.
        here = os.getcwd()
        os.chdir(where.parent)
        try:
            with socket.socket(socket.AF_UNIX) as sock:
                sock.bind(where.name)
        finally:
            os.chdir(here)
    return where


@pytest.mark.parametrize("kind", ["character device", "named pipe (FIFO)", "socket"])
def test_special_files_are_refused_across_filesystems_and_on_one(
    mgr: TempFileManager, tmp_path: Path, tmpfs: Callable[..., Path], kind: str
) -> None:
    other = tmpfs(8 * 1024 * 1024)
    d = mgr.new_dir()
    (d / "lesson.mp4").write_bytes(b"v" * 1000)
    (d / "sub").mkdir()
    _special(kind, d / "sub" / "node")
    used = shutil.disk_usage(other).used
    for dest in (other / "published", tmp_path / "published"):
        with pytest.raises(TempFileError, match=rf"sub/node: it is a {re.escape(kind)}"):
            mgr.persist(d, dest)
        assert not os.path.lexists(dest)
    assert shutil.disk_usage(other).used == used, "nothing was copied from the special file"
    _no_staging_left(other)
    assert (d / "sub" / "node").exists() and d in mgr.temp_dirs


# -- replace=False ---------------------------------------------------------------------------


@pytest.mark.parametrize("cross_fs", [False, True], ids=["same-fs", "cross-fs"])
def test_replace_false_keeps_what_is_there(
    mgr: TempFileManager, tmp_path: Path, tmpfs: Callable[..., Path], cross_fs: bool
) -> None:
    out = tmpfs(4 * 1024 * 1024) if cross_fs else tmp_path / "out"
    out.mkdir(exist_ok=True)
    (out / "taken.mp4").write_bytes(b"theirs")
    (out / "taken-dir").mkdir()
    (out / "taken-dir" / "x").write_bytes(b"theirs")
    f = mgr.new_file()
    f.write_bytes(b"ours")
    d = mgr.new_dir()
    (d / "y").write_bytes(b"ours")
    for source, taken in ((f, out / "taken.mp4"), (d, out / "taken-dir")):
        with pytest.raises(DestinationExistsError, match="exists and must not be replaced"):
            mgr.persist(source, taken, replace=False)
        assert source.exists()
    assert (out / "taken.mp4").read_bytes() == b"theirs" and os.listdir(out / "taken-dir") == ["x"]
    assert mgr.persist(f, out / "free.mp4", replace=False).read_bytes() == b"ours"
    assert (mgr.persist(d, out / "free-dir", replace=False) / "y").read_bytes() == b"ours"
    _no_staging_left(out)


def test_replace_false_loses_the_race_to_a_name_taken_after_the_look(tmp_path: Path) -> None:
    # The look for the name and the rename are two steps: the rename itself
    # must refuse a name taken in between (a directory that is not empty, a file).
    from langflix.temp._persist import _move

    src = tmp_path / "src"
    (src / "d").mkdir(parents=True)
    (src / "d" / "f").write_bytes(b"ours")
    (src / "file").write_bytes(b"ours")
    (tmp_path / "taken-dir").mkdir()
    (tmp_path / "taken-dir" / "x").write_bytes(b"theirs")
    (tmp_path / "taken-file").write_bytes(b"theirs")
    fd = os.open(src, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for name, taken in (("d", "taken-dir"), ("file", "taken-file"), ("d", "taken-file")):
            with pytest.raises(DestinationExistsError):
                _move(fd, name, tmp_path / taken, replace=False, what=src / name)
    finally:
        os.close(fd)
    assert (tmp_path / "taken-file").read_bytes() == b"theirs" and os.listdir(tmp_path / "taken-dir") == ["x"]
    assert (src / "file").read_bytes() == b"ours" and (src / "d" / "f").exists()


# -- persist racing a close --------------------------------------------------------------------


FILES_IN_TREE = 400


@pytest.mark.parametrize("cross_fs", [False, True], ids=["same-fs", "cross-fs"])
@pytest.mark.parametrize("closer", ["scope.close", "manager.cleanup_all"])
def test_persist_racing_a_close_publishes_everything_or_raises(
    mgr: TempFileManager, tmp_path: Path, tmpfs: Callable[..., Path], cross_fs: bool, closer: str
) -> None:
    out = tmpfs(64 * 1024 * 1024) if cross_fs else tmp_path / "out"
    rng = random.Random(16)
    outcomes: Counter[str] = Counter()
    for trial in range(12):
        scope = mgr.scope("job")
        tree = scope.new_dir()
        for i in range(FILES_IN_TREE):
            (tree / f"{i:04}.bin").write_bytes(b"x" * 64)
        dest = out / f"published-{trial}"
        go = threading.Event()

        def close(scope: TempScope, go: threading.Event, delay: float) -> None:
            go.wait()
            time.sleep(delay)
            scope.close() if closer == "scope.close" else mgr.cleanup_all()

        closing = threading.Thread(target=close, args=(scope, go, rng.uniform(0, 0.02)))
        closing.start()
        go.set()
        try:
            scope.persist(tree, dest)
        except TempFileError as exc:
            assert "closed" in str(exc), exc
            assert not os.path.lexists(dest), f"a failed persist left {dest} behind"
            outcomes["raised"] += 1
        else:
            assert len(os.listdir(dest)) == FILES_IN_TREE, "persist returned with part of the tree"
            outcomes["published"] += 1
        closing.join(30)
        assert not closing.is_alive(), "the close never finished"
        scope.close()
        assert not scope.path.exists()
    _no_staging_left(out)
    assert leftovers(mgr) == []
    assert sum(outcomes.values()) == 12, outcomes


def test_a_long_korean_name_still_fits_its_staging_dir(mgr: TempFileManager, tmpfs: Callable[..., Path]) -> None:
    other = tmpfs(4 * 1024 * 1024)
    name = "에" * 80 + ".mp4"  # 244 bytes: a valid name, whose staging dir must be shorter than it
    src = mgr.new_file()
    src.write_bytes(b"v")
    assert mgr.persist(src, other / name).read_bytes() == b"v"
    _no_staging_left(other)


SUBDIRS, FILES_EACH = 48, 4


@pytest.mark.parametrize("closer", ["scope.close", "manager.cleanup_all", "release"])
def test_a_persist_started_while_its_source_is_being_deleted_publishes_nothing(
    mgr: TempFileManager, tmp_path: Path, closer: str
) -> None:
    # The other order of the race: the close has already begun deleting the
    # tree when the persist starts (through the manager, which still accepts a
    # path inside its own directory). A rename then would hand the deletion,
    # still walking by fds, the published tree.
    out = tmp_path / "out"
    outcomes: Counter[str] = Counter()
    for trial in range(4):
        scope = mgr.scope("job")
        area = scope if closer == "scope.close" else mgr
        tree = area.new_dir()
        for d in range(SUBDIRS):
            (tree / f"{d:02}").mkdir()
            for i in range(FILES_EACH):
                (tree / f"{d:02}" / f"{i:02}.bin").write_bytes(b"")
        dest = out / f"published-{trial}"

        def close(scope: TempScope = scope, area: TempArea = area, tree: Path = tree) -> None:
            if closer == "scope.close":
                scope.close()
            elif closer == "manager.cleanup_all":
                mgr.cleanup_all()
            else:
                area.release(tree)

        closing = threading.Thread(target=close)
        closing.start()
        # A directory's link count is 2 + its subdirectories: it drops once the deletion is under way.
        while tree.exists() and os.stat(tree).st_nlink == 2 + SUBDIRS:
            time.sleep(0.0002)
        try:
            mgr.persist(tree, dest)
        except TempFileError as exc:
            assert "closed (or cleaned up) while" in str(exc) or "does not exist" in str(exc), exc
            assert not os.path.lexists(dest), f"a failed persist left {dest} behind"
            outcomes["raised"] += 1
        else:
            closing.join(30)
            published = sum(len(files) for _, _, files in os.walk(dest))
            assert published == SUBDIRS * FILES_EACH, "persist returned, and the close then emptied what it published"
            outcomes["published"] += 1
        closing.join(30)
        assert not closing.is_alive(), "the close never finished"
        scope.close()
    assert outcomes["raised"] == 4, outcomes
