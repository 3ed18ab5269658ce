"""Helpers of the API tests: a tiny generated episode and a real uvicorn server.

The in-process server runs uvicorn in a thread on 127.0.0.1, port 0, with its
own LANGFLIX temp/data/output dirs under ``tmp_path``; the crash and SIGTERM
tests start ``langflix serve`` as a subprocess instead (see test_serve.py).
Fixtures built on these live in ``conftest.py``.
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI
from support.media import make_media, pattern, sine
from support.procs import children, processes

from langflix.api.app import create_app
from langflix.api.serving import LangFlixServer, uvicorn_config
from langflix.config import Settings
from langflix.core.output_format import OutputFormat

SMALL = OutputFormat(width=320, height=240, fps=15, sample_rate=22050, preset="ultrafast")
"""Output format of the in-process server's jobs: tiny and fast, still H.264 + AAC."""

SRT = """1
00:00:00,300 --> 00:00:01,600
Let's break the ice, everybody.

2
00:00:02,000 --> 00:00:03,400
Relax, it's a piece of cake.
"""


@dataclass(frozen=True)
class Episode:
    video: Path
    subtitles: Path


def make_episode(directory: Path, *, seconds: float = 4.0, size: str = "320x240") -> Episode:
    """A test-pattern video with a tone, and an SRT with two idiomatic lines."""
    directory.mkdir(parents=True, exist_ok=True)
    video = make_media(
        directory / "episode.mp4",
        video=pattern(size, 15, seconds, name="testsrc2"),
        audio=sine(440, 22050, seconds),
        args=["-pix_fmt", "yuv420p", "-shortest"],
    )
    subtitles = directory / "episode.srt"
    subtitles.write_text(SRT, encoding="utf-8")
    return Episode(video, subtitles)


def make_settings(root: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "temp_dir": root / "temp",
        "data_dir": root / "data",
        "output_dir": root / "out",
        "min_free_bytes": 0,
        "workers": 2,
        "max_queue": 16,
        "google_api_key": None,  # whatever the environment says: tests expect no paid provider
        "lemonfox_api_key": None,
        # Small shorts: a job makes every output by default, and 1080x1920 would only cost time here.
        "shorts_width": 216,
        "shorts_height": 384,
    }
    values.update(overrides)
    (root / "temp").mkdir(parents=True, exist_ok=True)
    return Settings(**values)


@dataclass
class LiveServer:
    """A uvicorn server in a thread, with the app's settings and a client."""

    settings: Settings
    app: FastAPI
    server: uvicorn.Server
    thread: threading.Thread
    base_url: str
    client: httpx.Client
    stopped: bool = False

    @property
    def api(self) -> str:
        return f"{self.base_url}/api/v1"

    @property
    def services(self) -> Any:
        return self.app.state.services

    def temp_entries(self) -> list[Path]:
        """Every path under the temp base dir except the live session dir and its .owner."""
        base = self.settings.temp_dir
        assert base is not None
        entries = []
        for path in base.rglob("*"):
            if path.name == ".owner":
                continue
            if path.parent == base and path.name.startswith("langflix_session-"):
                continue
            entries.append(path)
        return entries

    def wait_for(self, job_id: str, statuses: tuple[str, ...], timeout: float = 90.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            job = self.client.get(f"{self.api}/jobs/{job_id}").json()
            if job["status"] in statuses:
                return job
            if time.monotonic() > deadline:
                raise AssertionError(f"job {job_id} still {job['status']} after {timeout} s: {job}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.stopped:
            return
        self.stopped = True
        self.client.close()
        self.server.should_exit = True
        self.thread.join(60)
        assert not self.thread.is_alive(), "uvicorn did not stop"


def start_server(root: Path, *, output_format: OutputFormat | None = SMALL, **overrides: Any) -> LiveServer:
    settings = make_settings(root, **overrides)
    app = create_app(settings, output_format=output_format)
    config = uvicorn_config(app, host="127.0.0.1", port=0, lifespan="on", log_level="warning")
    server = LangFlixServer(config, app)  # ends the dashboard's event streams first when it stops

    def serve() -> None:
        with contextlib.suppress(SystemExit):  # uvicorn exits(3) when the lifespan fails
            server.run()

    thread = threading.Thread(target=serve, name="test-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    base_url = f"http://127.0.0.1:{port}"
    # The API gives relative URLs (never the Host header back): the client resolves them.
    return LiveServer(settings, app, server, thread, base_url, httpx.Client(base_url=base_url, timeout=60))


def upload_files(
    episode: Episode, *, video_name: str = "episode.mp4", subtitle_name: str = "episode.srt"
) -> dict[str, Any]:
    return {
        "video": (video_name, episode.video.read_bytes(), "video/mp4"),
        "subtitle": (subtitle_name, episode.subtitles.read_bytes(), "application/x-subrip"),
    }


def ffmpeg_children() -> list[int]:
    """PIDs of ffmpeg/ffprobe/espeak processes that are children of this test process."""
    return [p.pid for p in children() if p.comm in ("ffmpeg", "ffprobe", "espeak-ng")]


def processes_in_group(pgid: int) -> list[tuple[int, str]]:
    """(pid, comm) of every live process of a process group (zombies excluded)."""
    return [(p.pid, p.comm) for p in processes() if p.pgid == pgid and p.state != "Z"]


# -- a client that does what httpx never would: headers now, the body later or never ----------

BOUNDARY = "langflixtestboundary"


def multipart_head(subtitles: bytes, *, video_name: str = "episode.mp4") -> bytes:
    """A job submission's body up to the first byte of the video (its last part)."""
    return (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="subtitle"; filename="episode.srt"\r\n\r\n'.encode()
        + subtitles
        + f'\r\n--{BOUNDARY}\r\nContent-Disposition: form-data; name="video"; filename="{video_name}"\r\n'
        "Content-Type: video/mp4\r\n\r\n".encode()
    )


MULTIPART_TAIL = f"\r\n--{BOUNDARY}--\r\n".encode()


def multipart_body(subtitles: bytes, video: bytes, *, video_name: str = "episode.mp4") -> bytes:
    """A job submission's body, byte for byte."""
    return multipart_head(subtitles, video_name=video_name) + video + MULTIPART_TAIL


@dataclass
class RawAnswer:
    status: int
    headers: dict[str, str]
    body: bytes


class RawUpload:
    """``POST /api/v1/jobs`` over a plain socket: the headers at once, the body when the test says.

    ``answer`` waits (bounded) for the server's response without sending more,
    which is how a test proves a refusal came before the body.
    """

    def __init__(self, server: LiveServer, length: int, *, extra_headers: str = "") -> None:
        host, port = server.base_url.removeprefix("http://").split(":")
        self.sock = socket.create_connection((host, int(port)), timeout=30)
        self.sock.sendall(
            (
                "POST /api/v1/jobs HTTP/1.1\r\n"
                f"Host: {host}:{port}\r\n"
                f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
                f"Content-Length: {length}\r\n{extra_headers}\r\n"
            ).encode()
        )
        self._buffer = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def answer(self, timeout: float) -> RawAnswer | None:
        """The response, or None when none came within ``timeout`` seconds (or the server closed silently)."""
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in self._buffer:
            if not self._read(deadline):
                return None
        head, _, rest = self._buffer.partition(b"\r\n\r\n")
        status_line, *lines = head.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
        length = int(headers.get("content-length", "0"))
        while len(rest) < length:
            before = len(self._buffer)
            if not self._read(deadline):
                break
            rest += self._buffer[before:]
        return RawAnswer(int(status_line.split()[1]), headers, rest[:length])

    def _read(self, deadline: float) -> bool:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        ready, _, _ = select.select([self.sock], [], [], remaining)
        if not ready:
            return False
        try:
            chunk = self.sock.recv(65536)
        except OSError:
            return False
        self._buffer += chunk
        return bool(chunk)

    def close(self) -> None:
        self.sock.close()


class TempPeak(threading.Thread):
    """Samples the bytes of every file under a dir every few ms; ``stop()`` gives the peak.

    Measured from outside the code under test: what the disk really held.
    """

    def __init__(self, root: Path, interval: float = 0.005) -> None:
        super().__init__(daemon=True, name="temp-peak")
        self.root, self.interval, self.peak = root, interval, 0
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            total = 0
            for directory, _, files in os.walk(self.root):
                for name in files:
                    with contextlib.suppress(OSError):
                        total += os.lstat(os.path.join(directory, name)).st_size
            self.peak = max(self.peak, total)
            time.sleep(self.interval)

    def stop(self) -> int:
        self._halt.set()
        self.join(10)
        return self.peak
