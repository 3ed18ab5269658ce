"""One switch picks where jobs live: embedded needs no Redis (nor its packages), scaled out needs a live one."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from support.redis_server import free_port

from langflix.api.backend import open_job_backend
from langflix.api.runner import JobRunner
from langflix.api.store import JobStore
from langflix.config import Settings
from langflix.errors import BackendUnavailableError
from langflix.temp import TempFileManager


def test_the_embedded_default_serves_without_importing_redis_or_rq(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import sys
        from fastapi.testclient import TestClient
        import langflix.cli
        from langflix.api.app import create_app
        from langflix.config import Settings

        root = {str(tmp_path)!r}
        settings = Settings(temp_dir=root + "/t", data_dir=root + "/d", output_dir=root + "/o", min_free_bytes=0)
        with TestClient(create_app(settings), base_url="http://127.0.0.1") as client:
            assert client.get("/api/v1/health").status_code == 200, client.get("/api/v1/health").text
            assert client.get("/api/v1/jobs").json()["jobs"] == []
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("redis", "rq"))
        assert not loaded, loaded
        print("ok")
        """
    )
    (tmp_path / "t").mkdir()
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


def test_embedded_is_sqlite_and_threads(tmp_path: Path) -> None:
    settings = Settings(temp_dir=tmp_path / "t", data_dir=tmp_path / "d", output_dir=tmp_path / "o")
    with TempFileManager(base_dir=tmp_path / "t") as manager:
        backend = open_job_backend(settings, manager)
        try:
            assert isinstance(backend.store, JobStore) and isinstance(backend.runner, JobRunner)
            assert backend.where.endswith("jobs.db")
        finally:
            backend.close()


def test_scaled_out_refuses_to_start_without_a_live_redis(tmp_path: Path) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    settings = Settings(redis_url=url, shared_dir=tmp_path / "shared", temp_dir=tmp_path / "t")
    with TempFileManager(base_dir=tmp_path / "t") as manager:
        with pytest.raises(BackendUnavailableError, match=rf"cannot reach Redis at {url} \(LANGFLIX_REDIS_URL\)"):
            open_job_backend(settings, manager)
