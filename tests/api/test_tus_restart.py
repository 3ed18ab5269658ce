"""A real ``langflix serve`` SIGKILLed mid-upload: the restarted server resumes the upload (tuspy), byte-identical."""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from tusclient.client import TusClient

from .helpers import processes_in_group
from .test_serve import ServerProcess, spawn_server

pytestmark = pytest.mark.slow

TUS = {"Tus-Resumable": "1.0.0"}


@pytest.fixture
def servers() -> Iterator[list[ServerProcess]]:
    started: list[ServerProcess] = []
    yield started
    for server in started:
        if server.proc.poll() is None:
            os.killpg(server.proc.pid, signal.SIGKILL)
            server.proc.wait(10)
        assert processes_in_group(server.proc.pid) == []


def test_sigkill_mid_upload_then_restart_and_resume(tmp_path: Path, servers: list[ServerProcess]) -> None:
    data = os.urandom(3 * 1024 * 1024)
    source = tmp_path / "episode.bin"
    source.write_bytes(data)
    first = spawn_server(tmp_path)
    servers.append(first)
    uploader = TusClient(f"{first.api}/uploads").uploader(str(source), chunk_size=1024 * 1024)
    uploader.upload_chunk()  # one whole request: its offset is committed
    url = uploader.url
    assert uploader.offset == 1024 * 1024

    # A second PATCH, cut by the server's death halfway through its body.
    parts = urlsplit(first.base_url)
    with socket.create_connection((parts.hostname, parts.port)) as sock:
        sock.sendall(
            (
                f"PATCH {urlsplit(url).path} HTTP/1.1\r\nHost: 127.0.0.1\r\nTus-Resumable: 1.0.0\r\n"
                f"Content-Type: application/offset+octet-stream\r\nUpload-Offset: {1024 * 1024}\r\n"
                f"Content-Length: {2 * 1024 * 1024}\r\n\r\n"
            ).encode()
            + data[1024 * 1024 : 1024 * 1024 + 700_000]
        )
        time.sleep(0.3)
        os.killpg(first.proc.pid, signal.SIGKILL)
        assert first.proc.wait(10) == -signal.SIGKILL

    second = spawn_server(tmp_path)  # same temp dir: the upload's state is on disk
    servers.append(second)
    second_url = url.replace(first.base_url, second.base_url)
    with httpx.Client(timeout=30) as client:
        head = client.head(second_url, headers=TUS)
        assert head.status_code == 200
        kept = int(head.headers["upload-offset"])
        # Never an offset the file lacks; at least the committed first request.
        assert 1024 * 1024 <= kept <= 1024 * 1024 + 700_000
        resumed = TusClient(f"{second.api}/uploads").uploader(str(source), url=second_url, chunk_size=1024 * 1024)
        assert resumed.offset == kept
        resumed.upload()
        assert client.head(second_url, headers=TUS).headers["upload-offset"] == str(len(data))
        [area] = [p for p in second.temp_dir.iterdir() if p.name.startswith("langflix_upload-")]
        assert hashlib.sha256((area / "data").read_bytes()).hexdigest() == hashlib.sha256(data).hexdigest()
        assert client.delete(second_url, headers=TUS).status_code == 204

    second.proc.send_signal(signal.SIGTERM)
    assert second.proc.wait(30) == 0, "".join(second.log)
    assert list(second.temp_dir.iterdir()) == []  # the dead session was swept at start, the upload deleted


def test_sigterm_mid_upload_stops_within_the_grace_and_keeps_the_upload(
    tmp_path: Path, servers: list[ServerProcess]
) -> None:
    data = os.urandom(2 * 1024 * 1024)
    source = tmp_path / "episode.bin"
    source.write_bytes(data)
    server = spawn_server(tmp_path, "--http-server", "granian")  # the faster receiver, with its own shutdown path
    servers.append(server)
    created = httpx.post(f"{server.api}/uploads", headers={**TUS, "Upload-Length": str(len(data))})
    url = server.base_url + created.headers["location"]  # created, nothing sent yet
    parts = urlsplit(server.base_url)
    with socket.create_connection((parts.hostname, parts.port)) as sock:
        sock.sendall(
            (
                f"PATCH {urlsplit(url).path} HTTP/1.1\r\nHost: 127.0.0.1\r\nTus-Resumable: 1.0.0\r\n"
                f"Content-Type: application/offset+octet-stream\r\nUpload-Offset: 0\r\n"
                f"Content-Length: {len(data)}\r\n\r\n"
            ).encode()
            + data[:300_000]
        )
        time.sleep(0.3)
        started = time.monotonic()
        server.proc.send_signal(signal.SIGTERM)  # a client still sending: the grace period ends it
        assert server.proc.wait(60) == 0, "".join(server.log)
        assert time.monotonic() - started < 45
    assert "Traceback" not in "".join(server.log), "".join(server.log)
    # The session went; the upload, owned by its expiry and not by the process, stays resumable.
    assert [p.name.split("-")[0] for p in server.temp_dir.iterdir()] == ["langflix_upload"]

    again = spawn_server(tmp_path)
    servers.append(again)
    again_url = url.replace(server.base_url, again.base_url)
    resumed = TusClient(f"{again.api}/uploads").uploader(str(source), url=again_url, chunk_size=1024 * 1024)
    assert 0 < resumed.offset <= 300_000
    resumed.upload()
    with httpx.Client(timeout=30) as client:
        assert client.head(again_url, headers=TUS).headers["upload-offset"] == str(len(data))
        assert client.delete(again_url, headers=TUS).status_code == 204
