"""Tests for ``langflix/utils/temp_file_manager.py``: the ticket's module and the API its sketch uses.

Code written to the ticket imports from this path and uses ``TempFileManager(prefix=,
base_dir=)``, ``create_temp_file``, ``create_temp_dir``, ``register_file``,
``temp_files``/``temp_dirs`` as lists, ``cleanup_all`` and ``get_temp_manager``;
these tests use exactly that. What the package does beyond the sketch is tested
in ``tests/temp/``.
"""

from __future__ import annotations

import os
import stat
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.temp import leftovers, temp_manager
from support.threads import race

import langflix.temp
from langflix.utils import temp_file_manager
from langflix.utils.temp_file_manager import (
    DEFAULT_PREFIX,
    TempFileManager,
    close_temp_manager,
    get_temp_manager,
)


@pytest.fixture
def mgr(tmp_path: Path) -> Iterator[TempFileManager]:
    with temp_manager(tmp_path) as manager:
        yield manager


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


def test_the_ticket_module_is_the_temp_package_under_the_tickets_path() -> None:
    for name in ("TempFileManager", "get_temp_manager", "TempScope", "TempArea", "sweep_orphans"):
        assert getattr(temp_file_manager, name) is getattr(langflix.temp, name)
    assert temp_file_manager.__all__ == langflix.temp.__all__


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


def test_the_sketchs_job_route_usage(mgr: TempFileManager) -> None:
    """The route writes the upload and its subtitles into two temp files and works inside both blocks."""
    job_id = "job-42"
    with mgr.create_temp_file(suffix=".mkv", prefix=f"{job_id}_video") as video:
        with mgr.create_temp_file(suffix=".srt", prefix=f"{job_id}_subtitle") as subtitle:
            video.write_bytes(b"video bytes")
            subtitle.write_text("1\n00:00:01,000 --> 00:00:02,000\nHello\n")
            assert video.name.startswith("job-42_video") and subtitle.name.startswith("job-42_subtitle")
            assert {video, subtitle} <= set(mgr.temp_files)
        assert not subtitle.exists() and video.exists()
    assert not video.exists() and leftovers(mgr) == []
    with pytest.raises(RuntimeError, match="processing failed"):
        with mgr.create_temp_file(suffix=".mkv", prefix=f"{job_id}_video") as video:
            raise RuntimeError("processing failed")
    assert not video.exists() and len(mgr.temp_files) == 0


def test_concurrent_jobs_never_collide(mgr: TempFileManager) -> None:
    """Eight jobs with the same job-id prefix at once: distinct files, each job reads back its own bytes."""
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []
    seen: list[Path] = []

    def job(index: int) -> None:
        try:
            barrier.wait()
            for round_ in range(25):
                with mgr.create_temp_file(suffix=".mkv", prefix="same-job_video") as video:
                    payload = f"{index}-{round_}".encode()
                    video.write_bytes(payload)
                    seen.append(video)
                    assert video.read_bytes() == payload
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=job, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(set(seen)) == 200 and leftovers(mgr) == [] and len(mgr.temp_files) == 0


# -- get_temp_manager ------------------------------------------------------------------


@pytest.fixture
def fresh_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The process-wide manager, made afresh under its own base dir and closed afterwards."""
    base = tmp_path / "default-base"
    monkeypatch.setenv("LANGFLIX_TEMP_DIR", str(base))
    close_temp_manager()
    yield base
    close_temp_manager()


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
