"""The app's life cycle: restart bookkeeping, one owner per store, caller-owned managers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from langflix.api.app import create_app
from langflix.api.store import INTERRUPTED_REASON, JobStore
from langflix.errors import ConfigError
from langflix.temp import TempFileManager

from .helpers import Episode, LiveServer, make_settings, start_server, upload_files


def test_jobs_left_by_a_dead_process_read_failed(live_server: Callable[..., LiveServer], tmp_path: Path) -> None:
    with JobStore(tmp_path / "srv0" / "data") as store:
        store.create("was-running", {})
        store.mark_running("was-running")
        store.create("was-queued", {})
    server = live_server()
    for job_id in ("was-running", "was-queued"):
        job = server.client.get(f"{server.api}/jobs/{job_id}").json()
        assert (job["status"], job["error"]) == ("failed", INTERRUPTED_REASON)
    assert server.client.get(f"{server.api}/health").json()["interrupted_at_start"] == 2


def test_a_second_server_on_the_same_data_dir_refuses_to_start(
    live_server: Callable[..., LiveServer], tmp_path: Path
) -> None:
    first = live_server()
    with pytest.raises(RuntimeError, match="did not start"):
        start_server(tmp_path / "srv0")  # same dirs as `first`
    assert first.client.get(f"{first.api}/health").status_code == 200
    assert [p for p in first.temp_entries()] == []


def test_shutdown_with_a_running_job_leaves_nothing(live_server: Callable[..., LiveServer], episode: Episode) -> None:
    server = live_server()
    response = server.client.post(f"{server.api}/jobs", files=upload_files(episode), data={"max_expressions": "2"})
    job_id = response.json()["job_id"]
    server.wait_for(job_id, ("running",))
    server.stop()  # the fixture then checks the temp dir is empty
    with JobStore(server.settings.data_dir) as store:
        job = store.get(job_id)
    assert job.status == "failed" and "server shutdown" in (job.error or "")
    assert not (server.settings.output_dir / job_id).exists()


def test_a_manager_passed_in_stays_open(tmp_path: Path) -> None:
    import anyio

    settings = make_settings(tmp_path)
    manager = TempFileManager(base_dir=tmp_path / "mine")
    app = create_app(settings, manager)

    async def cycle() -> None:
        async with app.router.lifespan_context(app):
            assert app.state.services.manager is manager

    anyio.run(cycle)
    assert not manager.closed and manager.path.is_dir()
    manager.close()
    assert list((tmp_path / "mine").iterdir()) == []


def test_the_jobs_video_format_comes_from_the_settings(tmp_path: Path) -> None:
    import anyio

    video = {"video_width": 640, "video_height": 360, "video_preset": "ultrafast"}
    settings = make_settings(tmp_path).model_copy(update=video)
    app = create_app(settings, TempFileManager(base_dir=tmp_path / "mine"))

    async def cycle() -> None:
        async with app.router.lifespan_context(app):
            fmt = app.state.services.output_format
            assert (fmt.width, fmt.height, fmt.preset) == (640, 360, "ultrafast")

    anyio.run(cycle)
    odd = settings.model_copy(update={"video_width": 641})
    app = create_app(odd, TempFileManager(base_dir=tmp_path / "odd"))

    async def refused() -> None:
        async with app.router.lifespan_context(app):
            pass

    with pytest.raises(ConfigError, match="LANGFLIX_VIDEO_WIDTH"):
        anyio.run(refused)
