"""Fixtures for the TTS tests: a real temp manager and a real HTTP server on 127.0.0.1.

The fake provider is ``support.fake_http.FakeServer``: a ``ThreadingHTTPServer`` on
port 0 that plays a script of replies (status, headers, body, delay) and records
every request, so the tests see exactly what went over the wire, retries included.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.fake_http import FakeServer
from support.media import tone_wav
from support.temp import temp_manager

from langflix.temp import TempFileManager


@pytest.fixture
def fake_provider() -> Iterator[FakeServer]:
    with FakeServer(name="fake-tts") as server:
        yield server


@pytest.fixture
def manager(tmp_path: Path) -> Iterator[TempFileManager]:
    with temp_manager(tmp_path, cleanup_all=True) as mgr:
        yield mgr


@pytest.fixture
def scope(manager: TempFileManager) -> Iterator[TempFileManager]:
    with manager.scope("tts-test") as job_scope:
        yield job_scope


@pytest.fixture
def wav_bytes() -> bytes:
    return tone_wav()


MP3_BYTES = b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x00" + bytes(400)
"""An ID3 header and one MPEG frame header: enough for the client's format check."""


@pytest.fixture
def mp3_bytes() -> bytes:
    return MP3_BYTES
