"""Fixtures for the TTS tests: a real temp manager and a real HTTP server on 127.0.0.1.

The fake provider is a ``ThreadingHTTPServer`` on port 0 that plays a script of
replies (status, headers, body, delay) and records every request, so the tests
see exactly what went over the wire, retries included.
"""

from __future__ import annotations

import io
import json
import math
import struct
import threading
import wave
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from langflix.utils.temp_file_manager import TempFileManager


@dataclass
class Reply:
    """One scripted answer of the fake provider."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Request:
    """What the client sent, as the server saw it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class FakeProvider:
    """A scripted HTTP server; ``url`` is its base URL, ``requests`` what it received."""

    def __init__(self) -> None:
        self.replies: list[Reply] = []
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        # Set at teardown so a handler sleeping out a "timeout" reply ends at once
        # instead of outliving the test.
        self._stop = threading.Event()
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                split = urlsplit(self.path)
                with provider._lock:
                    provider.requests.append(
                        Request(
                            "POST",
                            split.path,
                            parse_qs(split.query),
                            {k.lower(): v for k, v in self.headers.items()},
                            body,
                        )
                    )
                    reply = provider.replies.pop(0) if provider.replies else Reply(599, b"unscripted")
                if reply.delay and provider._stop.wait(reply.delay):
                    return
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test): nothing to answer

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = False
        self._server.block_on_close = True
        host, port = self._server.server_address[:2]
        self.url = f"http://{host}:{port}"
        # A short poll interval: shutdown() waits for it, once per test.
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.02,), name="fake-tts", daemon=True
        )
        self._thread.start()

    def add(
        self,
        status: int = 200,
        body: bytes = b"",
        *,
        headers: dict[str, str] | None = None,
        delay: float = 0.0,
    ) -> FakeProvider:
        """Queue one reply; replies are used in order, one per request."""
        with self._lock:
            self.replies.append(Reply(status, body, dict(headers or {}), delay))
        return self

    def add_json(self, status: int, data: Any, *, delay: float = 0.0) -> FakeProvider:
        body = json.dumps(data).encode()
        return self.add(status, body, headers={"Content-Type": "application/json"}, delay=delay)

    def close(self) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()  # joins the handler threads
        self._thread.join(5)


@pytest.fixture
def fake_provider() -> Iterator[FakeProvider]:
    server = FakeProvider()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def manager(tmp_path: Path) -> Iterator[TempFileManager]:
    mgr = TempFileManager(base_dir=tmp_path / "tmp")
    try:
        yield mgr
    finally:
        mgr.cleanup_all()
        close = getattr(mgr, "close", None)
        if close is not None:
            close()


@pytest.fixture
def scope(manager: TempFileManager) -> Iterator[TempFileManager]:
    with manager.scope("tts-test") as job_scope:
        yield job_scope


def make_wav(seconds: float = 0.2, rate: int = 16000) -> bytes:
    """A small real WAV (a 440 Hz tone), as a provider would send."""
    frames = int(seconds * rate)
    pcm = b"".join(
        struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / rate))) for i in range(frames)
    )
    buf = io.BytesIO()
    with wave.open(buf, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(pcm)
    return buf.getvalue()


@pytest.fixture
def wav_bytes() -> bytes:
    return make_wav()


MP3_BYTES = b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x00" + bytes(400)
"""An ID3 header and one MPEG frame header: enough for the client's format check."""


@pytest.fixture
def mp3_bytes() -> bytes:
    return MP3_BYTES
