"""``/health`` and ``/metrics`` on a real server, including what the start-up sweep reclaimed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from ..helpers import LiveServer


def make_dead_session(temp_dir: Path, nbytes: int) -> None:
    """A real process makes a session with a file in a scope, then is SIGKILLed."""
    code = textwrap.dedent(
        f"""
        import os, signal, sys
        from langflix.temp import TempFileManager
        mgr = TempFileManager(base_dir={str(temp_dir)!r})
        scope = mgr.scope("job-dead")
        scope.new_file(suffix=".mkv").write_bytes(b"x" * {nbytes})
        print("ready", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == -signal.SIGKILL and "ready" in result.stdout, result.stderr
    assert any(p.name.startswith("langflix_session-") for p in temp_dir.iterdir())


def test_health_reports_tools_disk_temp_and_reclaimed_sessions(
    live_server: Callable[..., LiveServer], tmp_path: Path
) -> None:
    temp_dir = tmp_path / "srv0" / "temp"
    temp_dir.mkdir(parents=True)
    make_dead_session(temp_dir, 123_456)
    server = live_server()
    # The dead session is gone; only the server's own live one remains.
    assert [p.name.startswith("langflix_session-") for p in temp_dir.iterdir()] == [True]
    assert server.services.manager.path.parent == temp_dir

    response = server.client.get(f"{server.api}/health")
    assert response.status_code == 200
    health = response.json()
    assert health["status"] == "ok"
    assert all(health["tools"][tool] for tool in ("ffmpeg", "ffprobe", "espeak-ng"))
    assert health["disk"]["temp"]["free_bytes"] > 0
    temp = health["temp"]
    assert temp["live_sessions"] == 1 and temp["live_files"] == 0 and temp["live_bytes"] == 0
    assert temp["reclaimed_at_start"]["sessions"] == 1
    assert temp["reclaimed_at_start"]["bytes"] >= 123_456
    assert health["jobs"] == {"queued": 0, "running": 0, "completed": 0, "failed": 0, "cancelled": 0}
    assert health["queue"]["workers"] == 2 and health["queue"]["accepting"] is True


def test_metrics_in_prometheus_format(server: LiveServer) -> None:
    response = server.client.get(f"{server.api}/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }
    assert samples[("langflix_temp_live_sessions", ())] == 1
    assert samples[("langflix_temp_live_bytes", ())] == 0
    assert samples[("langflix_jobs", (("status", "completed"),))] == 0
    assert samples[("langflix_workers", ())] == 2
    assert samples[("langflix_tool_available", (("tool", "ffmpeg"),))] == 1
    assert samples[("langflix_disk_free_bytes", (("area", "temp"),))] > 0
    assert ("langflix_temp_reclaimed_bytes_at_start", ()) in samples


def test_health_is_503_when_a_tool_is_missing(live_server: Callable[..., LiveServer]) -> None:
    # A missing binary cannot be staged without breaking the machine: point the
    # setting at a name that does not exist (the real lookup runs).
    server = live_server(espeak_binary="espeak-ng-not-installed-here")
    response = server.client.get(f"{server.api}/health")
    assert response.status_code == 503
    assert response.json()["status"] == "degraded" and response.json()["tools"]["espeak-ng"] is None
    assert response.json()["tools"]["ffmpeg"] is not None
    assert [p for p in response.json()["problems"] if p.startswith("espeak-ng is not installed")]


def test_health_shows_setting_names_never_server_paths(
    live_server: Callable[..., LiveServer], tmp_path: Path
) -> None:
    server = live_server()
    text = server.client.get(f"{server.api}/health").text
    settings = server.settings
    assert settings.temp_dir is not None
    for path in (settings.temp_dir, settings.data_dir, settings.output_dir, server.services.manager.path):
        assert str(path) not in text and str(path.resolve()) not in text
    assert "langflix_session-" not in text and f'"{os.getpid()}' not in text
    disk = server.client.get(f"{server.api}/health").json()["disk"]
    assert {area: info["setting"] for area, info in disk.items()} == {
        "temp": "LANGFLIX_TEMP_DIR", "output": "LANGFLIX_OUTPUT_DIR", "data": "LANGFLIX_DATA_DIR",
    }  # fmt: skip


def test_health_is_degraded_when_the_free_space_floor_refuses_every_upload(
    live_server: Callable[..., LiveServer],
) -> None:
    server = live_server(min_free_bytes=2**62)
    response = server.client.get(f"{server.api}/health")
    assert response.status_code == 503
    health = response.json()
    assert health["status"] == "degraded"
    [problem] = health["problems"]
    assert "LANGFLIX_MIN_FREE_BYTES" in problem and "every upload is refused with 507" in problem
    healthy = live_server()
    assert healthy.client.get(f"{healthy.api}/health").json()["problems"] == []


def test_tool_versions_are_measured_at_most_once_a_minute() -> None:
    from langflix.api.tools import ToolVersions
    from langflix.core.ffmpeg import FFmpegTools

    measured: list[float] = []
    now = [0.0]

    class Counted(FFmpegTools):
        def versions(self) -> dict[str, str | None]:
            measured.append(now[0])
            return super().versions()

    versions = ToolVersions(Counted(), "espeak-ng", ttl=60.0, clock=lambda: now[0])
    first = versions()
    assert set(first) == {"ffmpeg", "ffprobe", "espeak-ng"} and all(first.values())
    first["ffmpeg"] = "changed by a caller"
    now[0] = 59.0
    assert versions()["ffmpeg"] != "changed by a caller", "callers get a copy"
    assert measured == [0.0], "within the minute: no new processes"
    now[0] = 61.0
    versions()
    assert measured == [0.0, 61.0]
    assert ToolVersions(FFmpegTools(ffmpeg="no-such-ffmpeg"), "espeak-ng")()["ffmpeg"] is None
