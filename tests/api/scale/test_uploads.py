"""Scaled out, a job made of resumable uploads: its bytes become leased staging that a worker on any host runs.

A real redis-server, ``langflix serve`` and ``langflix worker`` subprocesses;
the worker has its own temp dir (as on its own host) and shares only
LANGFLIX_SHARED_DIR with the API. The uploads are written into the shared dir
from their first byte, so the job takes them by a rename there, whatever
filesystem the API's own temp dir is on, and never through it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.scale import Cluster, staging_areas, temp_entries
from tusclient.client import TusClient

from ..helpers import Episode

pytestmark = pytest.mark.slow

TUS = {"Tus-Resumable": "1.0.0"}


def _areas(shared: Path, infix: str) -> list[Path]:
    return [p for p in staging_areas(shared) if p.name.startswith(f"langflix_{infix}-")]


def test_a_job_from_uploads_runs_on_a_worker_from_leased_staging_and_leaves_nothing(
    cluster: Cluster, episode: Episode
) -> None:
    api = cluster.start_api()
    with cluster.client() as client:
        tus = TusClient(f"{cluster.api_url}/uploads")
        ids = {}
        for name, path in (("video", episode.video), ("subtitle", episode.subtitles)):
            uploader = tus.uploader(str(path), chunk_size=64 * 1024, metadata={"filename": path.name})
            uploader.upload()
            ids[name] = uploader.url.rsplit("/", 1)[1]
        # In the shared dir from the first byte; nothing in the API's own temp dir but its session.
        assert sorted(p.name for p in _areas(cluster.shared, "upload")) == sorted(
            f"langflix_upload-{i}" for i in ids.values()
        )
        assert temp_entries(api.temp_dir, live=[api.pid]) == []
        video_inode = os.stat(cluster.shared / "staging" / f"langflix_upload-{ids['video']}" / "data").st_ino

        answer = client.post(
            "/jobs",
            json={"video_upload": ids["video"], "subtitle_upload": ids["subtitle"], "max_expressions": 1, "repeat": 1},
        )
        assert answer.status_code == 202, answer.text + cluster.logs()
        job_id = answer.json()["job_id"]

        # No worker yet: the job waits, its inputs are the job's leased area (the upload's very
        # file, renamed, not copied) and the uploads are gone.
        [leased] = _areas(cluster.shared, "lease")
        assert leased.name.startswith(f"langflix_lease-{job_id}-")
        assert [os.stat(p).st_ino for p in leased.glob("video-*")] == [video_inode]
        assert _areas(cluster.shared, "upload") == []
        assert client.head(f"/uploads/{ids['video']}", headers=TUS).status_code == 404

        # Past the lease's TTL nobody renews it, yet the job can still run: the shared sweep keeps its inputs.
        time.sleep(float(cluster.settings["LANGFLIX_LEASE_TTL"]) + 0.5)
        sweep = subprocess.run(
            [sys.executable, "-m", "langflix", "temp", "sweep", "--shared"],
            env=cluster.env(cluster.root / "sweep-temp"), capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert sweep.returncode == 0, sweep.stderr
        assert "reclaimed 0 abandoned staging area(s)" in sweep.stdout and leased.is_dir(), sweep.stdout

        worker = cluster.start_worker("w1")  # another "host": its own temp dir, the shared dir in common
        job = cluster.wait(client, job_id, ("completed", "failed", "cancelled"))
        assert job["status"] == "completed", job["error"]
        published = sorted((cluster.shared / "outputs").glob("*/*/compilation.mp4"))
        assert len(published) == 1 and published[0].stat().st_size > 0

    # The job's end is its lease's: its staged inputs are gone, and nothing is left anywhere else.
    worker.wait_for_line(rf"Job OK \({job_id}\)", timeout=30)
    assert staging_areas(cluster.shared) == []
    assert temp_entries(api.temp_dir, live=[api.pid]) == []
    assert worker.stop() == 0
    assert list(worker.temp_dir.iterdir()) == []
