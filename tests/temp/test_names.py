"""Tests for ``langflix/temp/_names.py``: names from users never escape, names nobody can guess.

Every create path (files, dirs, scopes, the manager's own prefix) is driven with
hostile and odd user input; the result must be one component directly inside
its directory, within NAME_MAX, with private modes.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from support.temp import leftovers

from langflix.temp import TempFileManager


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def inside(path: Path, root: Path) -> bool:
    return path.resolve().is_relative_to(root.resolve())


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


def test_new_file_names_keep_the_guarantees(mgr: TempFileManager) -> None:
    # new_file builds names itself (not via mkstemp): the same guarantees, checked directly.
    p = mgr.new_file()
    assert p.parent == mgr.session_dir and p.name.startswith("langflix_") and mode(p) == 0o600
    assert p == Path(str(p)) and hash(p) == hash(Path(str(p)))  # a plain Path, usable as a key
    with pytest.raises(TypeError):
        mgr.new_file(suffix=None)  # type: ignore[arg-type]  # the wrong type on purpose: it is refused
    mgr.release(str(p))  # a str finds the tracked Path
    assert not p.exists() and len(mgr.temp_files) == 0


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


def test_scope_name_from_a_user_cannot_escape(mgr: TempFileManager) -> None:
    for name in ["../../../etc", "a/b", "/abs", "..", "x\0y", ""]:
        with mgr.scope(name) as scope:
            assert scope.path.parent == mgr.session_dir
            assert "/" not in scope.path.name and "\0" not in scope.path.name
    assert leftovers(mgr) == []


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
