"""``/api/v1/uploads`` against a real tus client (tuspy) and raw sockets, on a real server on 127.0.0.1."""

from __future__ import annotations

import base64
import hashlib
import os
import socket
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from tusclient.client import TusClient
from tusclient.exceptions import TusCommunicationError

from .helpers import Episode, LiveServer

TUS = {"Tus-Resumable": "1.0.0"}
OCTETS = {**TUS, "Content-Type": "application/offset+octet-stream"}
TOKEN = "tus-test-token-0123456789abcdef"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def blob(tmp_path: Path, size: int, name: str = "blob.bin") -> tuple[Path, bytes]:
    data = os.urandom(size)
    path = tmp_path / name
    path.write_bytes(data)
    return path, data


def uploaded_bytes(server: LiveServer, url: str) -> bytes:
    """What the server holds for a completed upload, read through the temp API's claim (then left in place)."""
    with server.services.uploads.claim(url.rsplit("/", 1)[1]) as claim:
        return claim.path.read_bytes()


def create(server: LiveServer, length: int, **headers: str) -> str:
    answer = server.client.post(f"{server.api}/uploads", headers={**TUS, "Upload-Length": str(length), **headers})
    assert answer.status_code == 201, answer.text
    return server.base_url + answer.headers["location"]  # the server gives relative URLs


def offset(server: LiveServer, url: str) -> int:
    answer = server.client.head(url, headers=TUS)
    assert answer.status_code == 200, answer.status_code
    return int(answer.headers["upload-offset"])


def upload_areas(server: LiveServer) -> list[Path]:
    assert server.settings.temp_dir is not None
    return [p for p in server.settings.temp_dir.iterdir() if p.name.startswith("langflix_upload-")]


def cut_patch(server: LiveServer, url: str, at: int, data: bytes, *, send: int) -> None:
    """A PATCH declaring all of ``data`` whose connection drops after ``send`` bytes of it."""
    parts = urlsplit(server.base_url)
    with socket.create_connection((parts.hostname, parts.port)) as sock:
        head = (
            f"PATCH {urlsplit(url).path} HTTP/1.1\r\nHost: 127.0.0.1\r\nTus-Resumable: 1.0.0\r\n"
            f"Content-Type: application/offset+octet-stream\r\nUpload-Offset: {at}\r\n"
            f"Content-Length: {len(data)}\r\n\r\n"
        )
        sock.sendall(head.encode() + data[:send])
        time.sleep(0.2)  # let the server take the bytes before the connection goes


def wait_offset(server: LiveServer, url: str, expected: Callable[[int], bool], timeout: float = 20) -> int:
    deadline = time.monotonic() + timeout
    while True:
        now = offset(server, url)
        if expected(now) or time.monotonic() > deadline:
            return now
        time.sleep(0.05)


def test_discovery_and_the_version_check(server: LiveServer) -> None:
    options = server.client.options(f"{server.api}/uploads")
    assert options.status_code == 204
    assert options.headers["tus-version"] == "1.0.0"
    assert set(options.headers["tus-extension"].split(",")) >= {
        "creation", "creation-with-upload", "termination", "expiration", "checksum",
    }  # fmt: skip
    assert int(options.headers["tus-max-size"]) == server.settings.max_upload_bytes
    assert "sha1" in options.headers["tus-checksum-algorithm"].split(",")
    for headers in ({}, {"Tus-Resumable": "0.2.2"}):
        answer = server.client.post(f"{server.api}/uploads", headers={**headers, "Upload-Length": "10"})
        assert answer.status_code == 412
        assert answer.headers["tus-version"] == "1.0.0"
    assert upload_areas(server) == []


def test_tuspy_uploads_in_chunks_with_checksums_byte_identical(server: LiveServer, tmp_path: Path) -> None:
    path, data = blob(tmp_path, 700_000)
    uploader = TusClient(f"{server.api}/uploads").uploader(
        str(path), chunk_size=256 * 1024, metadata={"filename": "blob.bin"}, upload_checksum=True
    )
    uploader.upload()
    head = server.client.head(uploader.url, headers=TUS)
    assert (head.headers["upload-offset"], head.headers["upload-length"]) == (str(len(data)), str(len(data)))
    assert head.headers["cache-control"] == "no-store"
    assert "upload-expires" in head.headers
    assert base64.b64decode(head.headers["upload-metadata"].split(" ")[1]) == b"blob.bin"
    assert sha256(uploaded_bytes(server, uploader.url)) == sha256(data)
    temp = server.client.get(f"{server.api}/health").json()["temp"]
    assert (temp["uploads"]["resumable"], temp["uploads"]["expired"]) == (1, 0)
    assert len(data) <= temp["uploads"]["bytes"] < len(data) + 4096  # its claim, and its small state files
    assert temp["live_sessions"] == 1  # an upload is not a session
    assert temp["live_bytes"] >= len(data)  # its claim counts as the server's temp bytes

    assert server.client.delete(uploader.url, headers=TUS).status_code == 204
    assert server.client.head(uploader.url, headers=TUS).status_code in (404, 410)
    assert upload_areas(server) == []


def test_a_cut_connection_resumes_from_heads_offset(server: LiveServer, tmp_path: Path) -> None:
    path, data = blob(tmp_path, 1_500_000)
    url = create(server, len(data), **{"Upload-Metadata": "filename " + base64.b64encode(b"blob.bin").decode()})
    cut_patch(server, url, 0, data, send=600_000)
    # The server keeps what arrived before the cut, and HEAD says so.
    kept = wait_offset(server, url, lambda n: n > 0)
    assert 0 < kept <= 600_000

    resumed = TusClient(f"{server.api}/uploads").uploader(str(path), url=url, chunk_size=400_000)
    assert resumed.offset == kept  # tuspy asked HEAD where to go on
    resumed.upload()
    assert offset(server, url) == len(data)
    assert sha256(uploaded_bytes(server, url)) == sha256(data)
    server.client.delete(url, headers=TUS)


def test_a_stalled_patch_is_answered_408_keeps_what_arrived_and_closes(
    live_server: Callable[..., LiveServer],
) -> None:
    server = live_server(upload_idle_timeout=0.5)
    data = os.urandom(2_000_000)
    url = create(server, len(data))
    parts = urlsplit(server.base_url)
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        head = (
            f"PATCH {urlsplit(url).path} HTTP/1.1\r\nHost: 127.0.0.1\r\nTus-Resumable: 1.0.0\r\n"
            f"Content-Type: application/offset+octet-stream\r\nUpload-Offset: 0\r\n"
            f"Content-Length: {len(data)}\r\n\r\n"
        )
        sock.sendall(head.encode() + data[:700_000])  # then silence, connection open
        answer = b""
        while chunk := sock.recv(65536):  # the server answers, then closes: the rest of the body is unread
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert b"LANGFLIX_UPLOAD_IDLE_TIMEOUT" in answer
    kept = offset(server, url)
    assert 0 < kept <= 700_000
    resumed = server.client.patch(url, headers={**OCTETS, "Upload-Offset": str(kept)}, content=data[kept:])
    assert (resumed.status_code, resumed.headers["upload-offset"]) == (204, str(len(data)))
    assert sha256(uploaded_bytes(server, url)) == sha256(data)
    server.client.delete(url, headers=TUS)


def test_wrong_offset_checksum_mismatch_and_past_the_length_are_refused(server: LiveServer) -> None:
    data = os.urandom(1000)
    url = create(server, len(data))
    patch = server.client.patch(url, headers={**OCTETS, "Upload-Offset": "100"}, content=data[:100])
    assert patch.status_code == 409  # the upload stands at 0
    assert patch.headers["tus-resumable"] == "1.0.0"

    wrong = base64.b64encode(hashlib.sha1(b"other bytes").digest()).decode()
    mismatch = server.client.patch(
        url, headers={**OCTETS, "Upload-Offset": "0", "Upload-Checksum": f"sha1 {wrong}"}, content=data[:500]
    )
    assert mismatch.status_code == 460
    assert offset(server, url) == 0  # nothing of the damaged chunk kept

    right = base64.b64encode(hashlib.sha1(data[:500]).digest()).decode()
    ok = server.client.patch(
        url, headers={**OCTETS, "Upload-Offset": "0", "Upload-Checksum": f"sha1 {right}"}, content=data[:500]
    )
    assert (ok.status_code, ok.headers["upload-offset"]) == (204, "500")

    too_long = server.client.patch(url, headers={**OCTETS, "Upload-Offset": "500"}, content=data[500:] + b"extra")
    assert too_long.status_code == 413
    assert offset(server, url) == 500

    not_octets = server.client.patch(url, headers={**TUS, "Upload-Offset": "500"}, content=data[500:])
    assert not_octets.status_code == 415
    unknown = server.client.patch(
        url, headers={**OCTETS, "Upload-Offset": "500", "Upload-Checksum": "crc99 AAAA"}, content=data[500:]
    )
    assert unknown.status_code == 400
    server.client.delete(url, headers=TUS)


def test_creation_with_upload_and_a_claim_past_the_disk_is_507_before_a_byte(
    live_server: Callable[..., LiveServer],
) -> None:
    server = live_server()
    data = os.urandom(5000)
    created = server.client.post(
        f"{server.api}/uploads", headers={**OCTETS, "Upload-Length": str(len(data))}, content=data[:3000]
    )
    assert (created.status_code, created.headers["upload-offset"]) == (201, "3000")
    server.client.delete(created.headers["location"], headers=TUS)

    tight = live_server(temp_max_bytes=64 * 1024)
    refused = tight.client.post(f"{tight.api}/uploads", headers={**TUS, "Upload-Length": str(10 * 1024**2)})
    assert refused.status_code == 507
    assert upload_areas(tight) == []
    too_big = tight.client.post(
        f"{tight.api}/uploads", headers={**TUS, "Upload-Length": str(2 * tight.settings.max_upload_bytes)}
    )
    assert too_big.status_code == 413


def test_a_clients_unfinished_uploads_count_against_its_caps_until_they_end(
    live_server: Callable[..., LiveServer],
) -> None:
    server = live_server(upload_client_max_uploads=2, upload_client_max_bytes=10_000)
    first, second = create(server, 3000), create(server, 3000)
    refused = server.client.post(f"{server.api}/uploads", headers={**TUS, "Upload-Length": "10"})
    assert refused.status_code == 429  # two unfinished uploads, the most one client may hold
    assert "LANGFLIX_UPLOAD_CLIENT_MAX_UPLOADS" in refused.text
    assert len(upload_areas(server)) == 2  # refused before any disk was claimed

    done = server.client.patch(first, headers={**OCTETS, "Upload-Offset": "0"}, content=b"a" * 3000)
    assert done.status_code == 204  # complete: it no longer waits on its client
    third = create(server, 3000)
    server.client.delete(second, headers=TUS)  # deleted: its share goes back too
    too_many_bytes = server.client.post(f"{server.api}/uploads", headers={**TUS, "Upload-Length": "7001"})
    assert too_many_bytes.status_code == 429  # 3000 held by the third + 7001 > 10 000
    assert "LANGFLIX_UPLOAD_CLIENT_MAX_BYTES" in too_many_bytes.text
    with_body = server.client.post(
        f"{server.api}/uploads",
        headers={**OCTETS, "Upload-Length": "7000"},
        content=b"b" * 7000,  # creation-with-upload, complete at once
    )
    assert (with_body.status_code, with_body.headers["upload-offset"]) == (201, "7000")
    fourth = create(server, 7000)  # the one before completed: 3000 + 7000 fit
    for url in (first, third, fourth, server.base_url + with_body.headers["location"]):
        server.client.delete(url, headers=TUS)


def test_an_expired_upload_is_reclaimed_and_gone(live_server: Callable[..., LiveServer]) -> None:
    server = live_server(upload_expiry=1.0, sweep_interval=0.2)
    url = create(server, 4000)
    server.client.patch(url, headers={**OCTETS, "Upload-Offset": "0"}, content=b"x" * 1000)
    assert len(upload_areas(server)) == 1
    deadline = time.monotonic() + 20
    while upload_areas(server) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert upload_areas(server) == []  # the server's own periodic sweep took it
    assert server.client.head(url, headers=TUS).status_code in (404, 410)
    late = server.client.patch(url, headers={**OCTETS, "Upload-Offset": "1000"}, content=b"y" * 10)
    assert late.status_code in (404, 410)


def test_a_job_from_completed_uploads_takes_their_bytes_without_a_copy(server: LiveServer, episode: Episode) -> None:
    client = TusClient(f"{server.api}/uploads")
    ids = {}
    translation = episode.subtitles.with_name("episode.ko.srt")
    translation.write_text(
        "1\n00:00:00,300 --> 00:00:01,600\n여러분, 어색한 분위기를 깨 봅시다.\n\n"
        "2\n00:00:02,000 --> 00:00:03,400\n진정해, 식은 죽 먹기야.\n",
        encoding="utf-8",
    )
    for name, path in (("video", episode.video), ("subtitle", episode.subtitles), ("translation", translation)):
        uploader = client.uploader(str(path), chunk_size=64 * 1024, metadata={"filename": path.name})
        uploader.upload()
        ids[name] = uploader.url.rsplit("/", 1)[1]
    with server.services.uploads.claim(ids["video"]) as claim:
        inode = os.stat(claim.path).st_ino

    # A refused job costs no upload: the bytes go back and stay usable.
    bad = server.client.post(
        f"{server.api}/jobs", json={"video_upload": ids["video"], "subtitle_upload": ids["subtitle"], "repeat": 999}
    )
    assert bad.status_code == 422, bad.text
    assert offset(server, f"{server.api}/uploads/{ids['video']}") == episode.video.stat().st_size

    answer = server.client.post(
        f"{server.api}/jobs",
        json={
            "video_upload": ids["video"],
            "subtitle_upload": ids["subtitle"],
            "translation_upload": ids["translation"],
            "max_expressions": 1,
        },
    )
    assert answer.status_code == 202, answer.text
    # The job's input is the upload's very file (same inode): renamed into the job's scope, not copied.
    inputs = list(server.services.manager.path.glob("job-*/video-*.mp4"))
    assert [os.stat(p).st_ino for p in inputs] == [inode]
    job = server.wait_for(answer.json()["job_id"], ("completed", "failed"))
    assert job["status"] == "completed", job["error"]
    assert job["options"]["episode_name"] == "episode"
    assert upload_areas(server) == []  # consumed: nothing of the uploads is left
    assert server.client.head(f"{server.api}/uploads/{ids['video']}", headers=TUS).status_code == 404


def test_a_job_naming_an_unfinished_missing_or_playlist_upload_is_refused(server: LiveServer, episode: Episode) -> None:
    sub = TusClient(f"{server.api}/uploads").uploader(str(episode.subtitles), metadata={"filename": "episode.srt"})
    sub.upload()
    sub_id = sub.url.rsplit("/", 1)[1]
    half = create(server, 100, **{"Upload-Metadata": "filename " + base64.b64encode(b"v.mp4").decode()})
    half_id = half.rsplit("/", 1)[1]

    unfinished = server.client.post(f"{server.api}/jobs", json={"video_upload": half_id, "subtitle_upload": sub_id})
    assert unfinished.status_code == 409, unfinished.text
    missing = server.client.post(f"{server.api}/jobs", json={"video_upload": "0" * 32, "subtitle_upload": sub_id})
    assert missing.status_code == 404
    unknown = server.client.post(
        f"{server.api}/jobs", json={"video_upload": half_id, "subtitle_upload": sub_id, "x": 1}
    )
    assert unknown.status_code == 422

    playlist = b"#EXTM3U\n#EXTINF:1,\n/etc/passwd\n"
    p = server.client.post(
        f"{server.api}/uploads",
        headers={
            **OCTETS,
            "Upload-Length": str(len(playlist)),
            "Upload-Metadata": "filename " + base64.b64encode(b"list.m3u8").decode(),
        },
        content=playlist,
    )
    refused = server.client.post(
        f"{server.api}/jobs", json={"video_upload": p.headers["location"].rsplit("/", 1)[1], "subtitle_upload": sub_id}
    )
    assert refused.status_code == 415, refused.text
    # Every refusal gave the uploads back intact.
    assert offset(server, sub.url) == episode.subtitles.stat().st_size
    for url in (sub.url, half, p.headers["location"]):
        assert server.client.delete(url, headers=TUS).status_code == 204


def test_uploads_need_the_token(live_server: Callable[..., LiveServer], tmp_path: Path) -> None:
    server = live_server(api_token=TOKEN)
    path, data = blob(tmp_path, 2000)
    with pytest.raises(TusCommunicationError):
        TusClient(f"{server.api}/uploads").uploader(str(path)).upload()
    assert server.client.head(f"{server.api}/uploads/{'0' * 32}", headers=TUS).status_code == 401
    uploader = TusClient(f"{server.api}/uploads", headers={"Authorization": f"Bearer {TOKEN}"}).uploader(str(path))
    uploader.upload()
    assert server.client.delete(uploader.url, headers={**TUS, "Authorization": f"Bearer {TOKEN}"}).status_code == 204
