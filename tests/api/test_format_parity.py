"""The CLI and the service make the same video format from the same environment.

Both read ``LANGFLIX_VIDEO_*`` through ``Settings.output_format()``; this runs a real
``langflix process`` (a subprocess with that environment) and a real job on a real
server (built by the app factory in this process, under the same environment), and
compares what each one published: the manifests' format and the videos themselves.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from langflix.core.ffmpeg import FFmpegTools

from .helpers import Episode, LiveServer, upload_files

pytestmark = pytest.mark.slow

VIDEO_ENV = {
    "LANGFLIX_VIDEO_WIDTH": "320",
    "LANGFLIX_VIDEO_HEIGHT": "176",
    "LANGFLIX_VIDEO_FPS": "15",
    "LANGFLIX_VIDEO_CRF": "35",
    "LANGFLIX_VIDEO_PRESET": "ultrafast",
}
EXPECTED = {"width": 320, "height": 176, "fps": 15, "sample_rate": 44100, "crf": 35, "preset": "ultrafast"}


def _cli_manifest(episode: Episode, root: Path) -> tuple[dict[str, Any], Path]:
    env = {**os.environ, **VIDEO_ENV, "LANGFLIX_TEMP_DIR": str(root / "tmp"), "LANGFLIX_LLM_BASE_URL": ""}
    (root / "tmp").mkdir(parents=True)
    out = root / "out"
    command = [sys.executable, "-m", "langflix", "process", str(episode.video), str(episode.subtitles),
               "-o", str(out), "--episode-name", "cli", "-n", "1", "--repeat", "1", "--context", "1"]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    manifest = json.loads((out / "cli" / "manifest.json").read_text(encoding="utf-8"))
    return manifest, out / "cli" / manifest["expressions"][0]["file"]


def _service_manifest(server: LiveServer, episode: Episode) -> tuple[dict[str, Any], Path]:
    response = server.client.post(
        f"{server.api}/jobs", files=upload_files(episode), data={"max_expressions": "1", "repeat": "1"}
    )
    assert response.status_code == 202, response.text
    job = server.wait_for(response.json()["job_id"], ("completed", "failed", "cancelled"), timeout=180)
    assert job["status"] == "completed", job["error"]
    episode_dir = Path(server.services.store.get(job["id"]).output_dir)
    manifest = json.loads((episode_dir / "manifest.json").read_text(encoding="utf-8"))
    return manifest, episode_dir / manifest["expressions"][0]["file"]


def test_cli_and_service_make_the_same_format_from_the_same_environment(
    live_server: Callable[..., LiveServer], episode: Episode, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in VIDEO_ENV.items():
        monkeypatch.setenv(name, value)
    # output_format=None: the server takes its format from its settings, like a deployed one.
    server = live_server(output_format=None)
    assert server.services.output_format.model_dump() == EXPECTED

    cli, cli_video = _cli_manifest(episode, tmp_path / "cli")
    service, service_video = _service_manifest(server, episode)

    assert cli["options"]["format"] == service["options"]["format"] == EXPECTED
    probe = FFmpegTools().probe
    for video in (cli_video, service_video):
        info = probe(video)
        assert (info.width, info.height, info.video_codec) == (320, 176, "h264")
        assert info.fps == pytest.approx(15, rel=1e-3)
