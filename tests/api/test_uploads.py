"""Streaming multipart parsing into a real temp scope: limits, formats, bad bodies."""

from __future__ import annotations

import asyncio
import tracemalloc
from collections.abc import AsyncIterator, Iterable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from langflix.api.uploads import (
    InvalidFieldError,
    MalformedUploadError,
    UnsupportedMediaError,
    UploadTooLargeError,
    receive_job_upload,
)
from langflix.temp import TempFileManager

BOUNDARY = "----langflixtestboundary7MA4YWxk"
CONTENT_TYPE = f"multipart/form-data; boundary={BOUNDARY}"
SRT = b"1\r\n00:00:00,000 --> 00:00:01,000\r\nHello there.\r\n"


def multipart(parts: Iterable[tuple[str, str | None, bytes]]) -> bytes:
    out = bytearray()
    for name, filename, data in parts:
        out += f"--{BOUNDARY}\r\n".encode()
        disposition = f'form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        out += f"Content-Disposition: {disposition}\r\n".encode()
        if filename is not None:
            out += b"Content-Type: application/octet-stream\r\n"
        out += b"\r\n" + data + b"\r\n"
    out += f"--{BOUNDARY}--\r\n".encode()
    return bytes(out)


async def chunked(body: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


@pytest.fixture
def manager(tmp_path: Path) -> Iterator[TempFileManager]:
    mgr = TempFileManager(base_dir=tmp_path / "tmp")
    yield mgr
    mgr.close()
    assert list((tmp_path / "tmp").iterdir()) == []


def run(coro):  # noqa: ANN001, ANN201 - tiny helper
    return asyncio.run(coro)


def receive(body: bytes, scope: TempFileManager, *, chunk: int = 1000, limit: int = 10**9, length: bool = True):  # noqa: ANN201
    return run(
        receive_job_upload(
            chunked(body, chunk),
            content_type=CONTENT_TYPE,
            content_length=len(body) if length else None,
            area=scope,
            max_upload_bytes=limit,
        )
    )


def test_files_land_in_the_scope_and_fields_are_returned(manager: TempFileManager) -> None:
    video = bytes(range(256)) * 300
    body = multipart(
        [
            ("episode_name", None, b"Ep 1"), ("video", "My Show.MKV", video),
            ("subtitle", "x.srt", SRT), ("repeat", None, b"3"),
        ]  # fmt: skip
    )
    with manager.scope("job") as scope:
        upload = receive(body, scope, chunk=777)
        assert upload.video.read_bytes() == video and upload.subtitles.read_bytes() == SRT
        assert upload.video.parent == scope.path and upload.video.suffix == ".mkv"
        assert upload.subtitles.suffix == ".srt"
        assert upload.fields == {"episode_name": "Ep 1", "repeat": "3"}
        assert (upload.video_filename, upload.subtitle_filename) == ("My Show.MKV", "x.srt")
        assert upload.bytes_received == len(video) + len(SRT)
    assert not scope.path.exists()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(chunk=st.integers(min_value=1, max_value=700), data=st.binary(min_size=0, max_size=3000))
def test_any_chunking_gives_the_same_files(manager: TempFileManager, chunk: int, data: bytes) -> None:
    # Boundaries split across network chunks are the classic streaming-parser bug.
    body = multipart([("video", "v.mp4", data + b"\r\n--" + BOUNDARY[:-3].encode()), ("subtitle", "s.vtt", SRT)])
    with manager.scope("job") as scope:
        upload = receive(body, scope, chunk=chunk)
        assert upload.video.read_bytes() == data + b"\r\n--" + BOUNDARY[:-3].encode()
        assert upload.subtitles.read_bytes() == SRT


def test_over_the_limit_while_streaming_removes_the_file(manager: TempFileManager) -> None:
    body = multipart([("subtitle", "s.srt", SRT), ("video", "v.mp4", b"x" * 50_000)])
    with manager.scope("job") as scope:
        # No Content-Length (chunked transfer): the limit is only known while streaming.
        with pytest.raises(UploadTooLargeError, match="LANGFLIX_MAX_UPLOAD_BYTES"):
            receive(body, scope, chunk=4096, limit=20_000, length=False)
        # The partial video is gone at once, not only when the scope closes.
        assert [p.suffix for p in scope.path.iterdir()] == [".srt"]


def test_content_length_over_the_limit_is_refused_before_reading(manager: TempFileManager) -> None:
    consumed = []

    async def body() -> AsyncIterator[bytes]:
        consumed.append(True)
        yield b""

    with manager.scope("job") as scope:
        with pytest.raises(UploadTooLargeError):
            run(receive_job_upload(
                body(), content_type=CONTENT_TYPE, content_length=10**7, area=scope, max_upload_bytes=10**6
            ))  # fmt: skip
        assert consumed == [] and list(scope.path.iterdir()) == []


def test_unsupported_subtitle_format_is_refused_before_its_bytes(manager: TempFileManager) -> None:
    body = multipart([("subtitle", "notes.txt", SRT), ("video", "v.mp4", b"v" * 100)])
    with manager.scope("job") as scope:
        with pytest.raises(UnsupportedMediaError, match=r"\.srt"):
            receive(body, scope)
        assert list(scope.path.iterdir()) == []


@pytest.mark.parametrize(
    ("parts", "error", "match"),
    [
        ([("video", "v.mp4", b"v")], InvalidFieldError, "subtitle: field required"),
        (
            [("video", "v.mp4", b"v"), ("subtitle", "s.srt", SRT), ("color", None, b"red")],
            InvalidFieldError,
            "unknown field",
        ),
        ([("video", "v.mp4", b"v"), ("video", "w.mp4", b"w")], InvalidFieldError, "more than once"),
        ([("video", None, b"v")], InvalidFieldError, "must be a file"),
        ([("repeat", None, b"\xff\xfe")], InvalidFieldError, "UTF-8"),
        ([("episode_name", None, b"e" * 5000)], MalformedUploadError, "longer than"),
    ],
)
def test_bad_forms(manager: TempFileManager, parts: list, error: type[Exception], match: str) -> None:
    with manager.scope("job") as scope:
        with pytest.raises(error, match=match):
            receive(multipart(parts), scope)


def test_truncated_body_is_malformed(manager: TempFileManager) -> None:
    body = multipart([("video", "v.mp4", b"v" * 5000), ("subtitle", "s.srt", SRT)])
    with manager.scope("job") as scope:
        with pytest.raises(MalformedUploadError, match="cut short"):
            receive(body[:3000], scope, length=False)


def test_not_multipart_is_unsupported(manager: TempFileManager) -> None:
    with manager.scope("job") as scope:
        with pytest.raises(UnsupportedMediaError, match="multipart/form-data"):
            run(receive_job_upload(
                chunked(b"{}", 2), content_type="application/json", content_length=2, area=scope, max_upload_bytes=10
            ))  # fmt: skip
        with pytest.raises(MalformedUploadError, match="boundary"):
            run(receive_job_upload(
                chunked(b"", 2), content_type="multipart/form-data", content_length=0, area=scope, max_upload_bytes=10
            ))  # fmt: skip


def test_client_file_names_cannot_escape_the_scope(manager: TempFileManager) -> None:
    body = multipart([("video", "../../../etc/passwd.mp4", b"v"), ("subtitle", "..\\..\\evil.SRT", SRT)])
    with manager.scope("job") as scope:
        upload = receive(body, scope)
        assert upload.video.parent == scope.path and upload.subtitles.parent == scope.path
        assert upload.subtitles.suffix == ".srt"


def test_memory_stays_flat_for_a_large_body(manager: TempFileManager) -> None:
    # 48 MiB through 64 KiB chunks: the reader must never hold more than a chunk or two.
    size, chunk = 48 * 1024 * 1024, 64 * 1024
    head = multipart([("subtitle", "s.srt", SRT)])[: -len(f"--{BOUNDARY}--\r\n")]
    head += f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="video"; filename="v.mp4"\r\n\r\n'.encode()
    tail = f"\r\n--{BOUNDARY}--\r\n".encode()
    block = b"\x00" * chunk

    async def body() -> AsyncIterator[bytes]:
        yield head
        for _ in range(size // chunk):
            yield block
        yield tail

    with manager.scope("job") as scope:
        tracemalloc.start()
        try:
            upload = run(receive_job_upload(
                body(), content_type=CONTENT_TYPE, content_length=None, area=scope, max_upload_bytes=size * 2
            ))  # fmt: skip
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert upload.video.stat().st_size == size
        assert peak < 4 * 1024 * 1024, f"peak {peak} bytes traced while streaming {size} bytes"
