"""``/api/v1/jobs`` against a real uvicorn server, the real pipeline and real ffmpeg.

Every test ends with the temp dir holding nothing but the server's own (empty)
session; the fixture also checks the temp dir is empty once the server stopped.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.hostile import hls_playlist, make_private_video, srt_and_hls_playlist
from support.media import make_media, sine

from ..helpers import Episode, LiveServer, ffmpeg_children, upload_files

pytestmark = pytest.mark.slow

FINAL = ("completed", "failed", "cancelled")


def ffprobe_streams(path: Path) -> set[str]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "stream=codec_type", "-of", "json", str(path)],
        capture_output=True, check=True, timeout=30,
    )  # fmt: skip
    return {s["codec_type"] for s in json.loads(out.stdout)["streams"]}


def assert_clean(server: LiveServer) -> None:
    """No temp file of any job, no job scope, nothing but the live session dir."""
    deadline = time.monotonic() + 5
    while server.temp_entries() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.temp_entries() == []
    stats = server.services.manager.stats()
    assert (stats.live_files, stats.live_scopes) == (0, 0)


def assert_no_server_paths(server: LiveServer, text: str) -> None:
    """No dir of the server (as set or resolved) and no temp session name (it holds the pid) in ``text``."""
    settings = server.settings
    assert settings.temp_dir is not None
    for path in (settings.temp_dir, settings.data_dir, settings.output_dir):
        for spelled in {str(path), str(path.resolve())}:
            assert spelled not in text, spelled
    assert "langflix_session-" not in text and str(os.getpid()) not in text


def test_full_flow_upload_poll_download(server: LiveServer, episode: Episode, tmp_path: Path) -> None:
    before = (episode.video.read_bytes(), episode.subtitles.read_bytes())
    response = server.client.post(
        f"{server.api}/jobs",
        files=upload_files(episode, video_name="Friends S01E01.mp4"),
        data={"max_expressions": "2", "repeat": "1", "language_level": "beginner"},
    )
    assert response.status_code == 202, response.text
    body = response.json()
    assert set(body) == {"job_id", "url"} and response.headers["location"] == body["url"]

    seen_steps, job = set(), {}
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        job = server.client.get(body["url"]).json()
        seen_steps.add(job["step"])
        if job["status"] in FINAL:
            break
        time.sleep(0.05)
    assert job["status"] == "completed", job["error"]
    assert job["progress"] == 100.0 and job["error"] is None
    assert job["options"] == {
        "max_expressions": 2, "repeat": 1, "tts": "espeak", "language_level": "beginner",
        "episode_name": "Friends_S01E01", "subtitles_style": "bilingual",
        "outputs": ["lessons", "shorts", "deck", "compilation"], "shorts_fit": "letterbox",
        "shorts_max_seconds": 60.0, "deck_with_shorts": False,
    }  # fmt: skip
    assert len(seen_steps - {"queued", "starting", "completed"}) >= 2, seen_steps  # progress was reported
    assert "English only" in job["message"], "the summary says there was no translation"
    names = [o["name"] for o in job["outputs"]]
    assert "compilation.mp4" in names and "manifest.json" in names and "compilation.png" in names
    # Every output by default: two lessons, their thumbnails and shorts, the compilation and its
    # thumbnail, the deck and its TSV, the upload metadata, the manifest.
    assert len(names) == 12, names
    assert {"deck.apkg", "deck.tsv", "metadata.json"} <= set(names)
    assert_clean(server)

    for output in job["outputs"]:
        download = server.client.get(output["url"])
        assert download.status_code == 200
        assert len(download.content) == output["size"]
        target = tmp_path / output["name"]
        target.write_bytes(download.content)
        if target.suffix == ".mp4":
            assert ffprobe_streams(target) == {"video", "audio"}
            assert download.headers["content-type"] == "video/mp4"
        if target.suffix == ".png":
            assert download.headers["content-type"] == "image/png"
            assert download.content[:8] == b"\x89PNG\r\n\x1a\n"
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert {e["file"] for e in manifest["expressions"]} <= set(names)
    # What a client reads names what it sent, never the server's paths.
    assert manifest["source"]["video"] == "Friends S01E01.mp4"
    assert manifest["source"]["subtitles"] == "episode.srt"
    assert_no_server_paths(server, json.dumps(job) + json.dumps(manifest))
    # The server's dir as its setting's name; then what the translations came from.
    assert job["message"].startswith(
        f"lessons, shorts, deck, compilation of 2 expressions in <LANGFLIX_OUTPUT_DIR>/{job['id']}/Friends_S01E01; "
    ), job["message"]

    # HEAD: an output's size and type without its bytes.
    head = server.client.head(job["outputs"][0]["url"])
    assert head.status_code == 200 and head.content == b""
    assert int(head.headers["content-length"]) == job["outputs"][0]["size"]
    assert server.client.head(f"{body['url']}/outputs/nothing.mp4").status_code == 404

    # Range requests, for video players seeking.
    video_url = next(o["url"] for o in job["outputs"] if o["name"] == "compilation.mp4")
    ranged = server.client.get(video_url, headers={"Range": "bytes=100-199"})
    assert ranged.status_code == 206 and len(ranged.content) == 100
    assert ranged.content == (tmp_path / "compilation.mp4").read_bytes()[100:200]
    assert ranged.headers["content-range"].startswith("bytes 100-199/")

    listed = server.client.get(f"{server.api}/jobs").json()["jobs"]
    assert [j["id"] for j in listed] == [body["job_id"]]
    assert server.client.get(f"{server.api}/jobs", params={"status": "failed"}).json()["jobs"] == []
    assert (episode.video.read_bytes(), episode.subtitles.read_bytes()) == before  # inputs untouched


KOREAN_SRT = """1
00:00:00,300 --> 00:00:01,600
자, 다들 어색한 분위기를 깨 봅시다.

2
00:00:02,000 --> 00:00:03,400
진정해, 식은 죽 먹기야.
"""


def test_a_translation_file_is_a_third_part_and_the_choices_are_the_clis(
    server: LiveServer, episode: Episode
) -> None:
    files = upload_files(episode) | {"translation": ("episode.ko.srt", KOREAN_SRT.encode(), "application/x-subrip")}
    data = {"max_expressions": "1", "repeat": "1", "tts": "none", "subtitles_style": "English"}
    response = server.client.post(f"{server.api}/jobs", files=files, data=data)
    assert response.status_code == 202, response.text
    job = server.wait_for(response.json()["job_id"], FINAL, timeout=90)
    assert job["status"] == "completed", job["error"]
    assert job["options"]["tts"] == "none" and job["options"]["subtitles_style"] == "english"
    assert "translations (ko): 1 of 1 expressions" in job["message"], job["message"]
    manifest = server.client.get(next(o["url"] for o in job["outputs"] if o["name"] == "manifest.json")).json()
    (lesson,) = manifest["expressions"]
    assert lesson["translation"] == "자, 다들 어색한 분위기를 깨 봅시다."
    assert lesson["translation_source"] == "translation_file"
    assert manifest["options"]["tts"] == "none" and manifest["options"]["subtitles_style"] == "english"
    assert manifest["source"]["translation_subtitles"] == "episode.ko.srt", "the client's name, not a temp path"
    assert_no_server_paths(server, json.dumps(job) + json.dumps(manifest))
    assert_clean(server)


def test_outputs_choose_what_a_job_makes(server: LiveServer, episode: Episode) -> None:
    data = {"max_expressions": "1", "repeat": "1", "tts": "none", "outputs": "deck,shorts", "shorts_fit": "crop",
            "deck_with_shorts": "true"}  # fmt: skip
    response = server.client.post(f"{server.api}/jobs", files=upload_files(episode), data=data)
    assert response.status_code == 202, response.text
    job = server.wait_for(response.json()["job_id"], FINAL, timeout=90)
    assert job["status"] == "completed", job["error"]
    assert job["options"]["outputs"] == ["shorts", "deck"] and job["options"]["deck_with_shorts"] is True
    names = {o["name"] for o in job["outputs"]}
    manifest = server.client.get(next(o["url"] for o in job["outputs"] if o["name"] == "manifest.json")).json()
    (item,) = manifest["expressions"]
    assert names == {item["short"]["file"], item["thumbnail"], "deck.apkg", "deck.tsv", "metadata.json",
                     "manifest.json"}  # fmt: skip
    assert manifest["options"]["shorts"]["fit"] == "crop" and manifest["compilation"] is None
    assert_clean(server)


def test_a_bad_translation_file_is_refused_like_a_bad_subtitle(
    live_server: Callable[..., LiveServer], episode: Episode
) -> None:
    server = live_server()
    good = upload_files(episode)
    notes = {**good, "translation": ("notes.txt", b"hi", "text/plain")}
    assert_refused(server, post(server, notes), 415, ".srt")
    garbage = {**good, "translation": ("ko.srt", b"\xff\xfe\x00garbage", "text/plain")}
    assert_refused(server, post(server, garbage), 422, "translation 'ko.srt' cannot be used")
    assert_refused(server, post(server, good, {"subtitles_style": "loud"}), 422, "unknown subtitles style")


def test_eight_jobs_at_once_with_identical_names(live_server: Callable[..., LiveServer], episode: Episode) -> None:
    server = live_server(workers=4)
    files = upload_files(episode)

    def submit(_: int) -> httpx.Response:
        data = {"max_expressions": "1", "repeat": "1", "outputs": "lessons,compilation"}
        return server.client.post(f"{server.api}/jobs", files=files, data=data)

    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(submit, range(8)))
    assert [r.status_code for r in responses] == [202] * 8, [r.text for r in responses]
    ids = [r.json()["job_id"] for r in responses]
    assert len(set(ids)) == 8
    jobs = [server.wait_for(job_id, FINAL, timeout=180) for job_id in ids]
    assert [j["status"] for j in jobs] == ["completed"] * 8, [j["error"] for j in jobs]
    paths = set()
    for job in jobs:
        record = server.services.store.get(job["id"])
        for output in record.outputs:
            path = Path(record.output_dir) / output.name
            assert path.stat().st_size == output.size
            paths.add(path)
    # A lesson, a compilation, their thumbnails, the upload metadata and a manifest each, none shared.
    assert len(paths) == 8 * 6
    assert_clean(server)


# -- errors, each leaving 0 temp files --------------------------------------------------


def post(server: LiveServer, files: dict[str, Any], data: dict[str, str] | None = None) -> httpx.Response:
    return server.client.post(f"{server.api}/jobs", files=files, data=data or {})


def assert_refused(server: LiveServer, response: httpx.Response, status: int, match: str) -> None:
    assert response.status_code == status, response.text
    assert match in response.text, response.text
    assert str(server.settings.temp_dir) not in response.text  # no server paths in answers
    assert server.client.get(f"{server.api}/jobs").json()["jobs"] == []  # no job was created
    assert_clean(server)


@pytest.fixture
def audio_only(tmp_path: Path) -> Path:
    return make_media(tmp_path / "audio.m4a", audio=sine(seconds=1), args=["-c:a", "aac"])


def test_upload_errors(live_server: Callable[..., LiveServer], episode: Episode, audio_only: Path) -> None:
    server = live_server()
    good = upload_files(episode)
    assert_refused(server, post(server, {**good, "subtitle": ("notes.txt", b"hi", "text/plain")}), 415, ".srt")
    garbage = ("episode.mp4", b"\x00garbage" * 1000, "video/mp4")
    assert_refused(server, post(server, {**good, "video": garbage}), 415, "not a readable video")
    song = ("song.mp4", audio_only.read_bytes(), "video/mp4")
    assert_refused(server, post(server, {**good, "video": song}), 415, "no video stream")
    plain = server.client.post(f"{server.api}/jobs", content=b"video", headers={"Content-Type": "text/plain"})
    assert_refused(server, plain, 415, "multipart/form-data")
    # JSON names completed resumable uploads; anything else in it is named back.
    assert_refused(server, server.client.post(f"{server.api}/jobs", json={"video": "x"}), 422, "video_upload")
    bad_srt = ("bad.srt", b"\xff\xfe\x00garbage", "text/plain")
    assert_refused(server, post(server, {**good, "subtitle": bad_srt}), 422, "bad.srt")
    for field, value, match in [
        ("max_expressions", "many", "must be an integer"),
        ("max_expressions", "0", "between 1 and"),
        ("repeat", "99", "between 1 and 20"),
        ("tts", "shout", "unknown TTS provider"),
        ("language_level", "expert", "language level"),
        ("colour", "red", "unknown field"),
        ("tts", "google", "LANGFLIX_GOOGLE_API_KEY"),  # known provider, but this server has no key
        ("episode_name", "../..", "episode_name"),
        ("outputs", "lessons,reels", "unknown output 'reels'; choose one or more of lessons,shorts,deck,compilation"),
        ("outputs", "", "no output chosen"),
        ("shorts_fit", "stretch", "unknown shorts fit"),
        ("shorts_max_seconds", "600", "between 5 and 180"),
        ("deck_with_shorts", "maybe", "deck_with_shorts"),
    ]:
        response = post(server, good, {field: value})
        assert_refused(server, response, 422, match)
        assert isinstance(response.json()["detail"], list)  # FastAPI's 422 shape
    assert_refused(server, post(server, {"video": good["video"]}), 422, "field required")


def test_too_large_by_content_length(live_server: Callable[..., LiveServer], episode: Episode) -> None:
    server = live_server(max_upload_bytes=1000)
    response = post(server, upload_files(episode))
    assert_refused(server, response, 413, "LANGFLIX_MAX_UPLOAD_BYTES")


@pytest.mark.parametrize("large", ["video", "translation"])
def test_too_large_while_streaming(live_server: Callable[..., LiveServer], episode: Episode, large: str) -> None:
    """Every file part counts against the same limit, the optional translation too."""
    # Chunked transfer: no Content-Length, so the limit can only bite mid-stream.
    server = live_server(max_upload_bytes=64 * 1024)
    boundary = "b0undary"

    def part(name: str, filename: str) -> str:
        return f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n\r\n'

    head = part("subtitle", "e.srt") + f"{episode.subtitles.read_text()}\r\n"
    if large == "translation":
        head += part("video", "e.mp4") + "\x00" * 1024 + "\r\n"
    head += part(large, "e.mp4" if large == "video" else "e.ko.srt")

    def body() -> Iterator[bytes]:
        yield head.encode()
        for _ in range(16):
            yield b"\x00" * 16 * 1024
        yield f"\r\n--{boundary}--\r\n".encode()

    response = server.client.post(
        f"{server.api}/jobs", content=body(), headers={"content-type": f"multipart/form-data; boundary={boundary}"}
    )
    assert_refused(server, response, 413, f"while receiving '{large}'")


@pytest.mark.parametrize(
    ("overrides", "match"),
    [({"temp_max_bytes": 10_000}, "QuotaExceededError"), ({"min_free_bytes": 2**62}, "InsufficientDiskSpaceError")],
)
def test_no_disk_budget_is_507(
    live_server: Callable[..., LiveServer], episode: Episode, overrides: dict[str, int], match: str
) -> None:
    server = live_server(**overrides)
    assert_refused(server, post(server, upload_files(episode)), 507, match)


def test_queue_full_is_503(live_server: Callable[..., LiveServer], episode: Episode) -> None:
    server = live_server(workers=1, max_queue=1)
    files = upload_files(episode)
    first = post(server, files, {"max_expressions": "1"})
    assert first.status_code == 202
    # Once the only worker has taken the first job, the queue holds exactly one more.
    server.wait_for(first.json()["job_id"], ("running",))
    second = post(server, files, {"max_expressions": "1"})
    third = post(server, files, {"max_expressions": "1"})
    assert second.status_code == 202
    assert third.status_code == 503 and third.headers["retry-after"] and "queue" in third.text
    assert len(server.client.get(f"{server.api}/jobs").json()["jobs"]) == 2
    for response in (first, second):  # cancel both: nothing left behind
        assert server.client.delete(response.json()["url"]).status_code in (200, 202)
    for response in (first, second):
        assert server.wait_for(response.json()["job_id"], FINAL)["status"] == "cancelled"
    assert_clean(server)


def test_client_dropping_mid_upload_leaves_nothing(server: LiveServer, episode: Episode) -> None:
    boundary = "dropboundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="subtitle"; filename="e.srt"\r\n\r\n'
        f"{episode.subtitles.read_text()}\r\n"
        f'--{boundary}\r\nContent-Disposition: form-data; name="video"; filename="e.mp4"\r\n\r\n'
    ).encode()
    host, port = server.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            (
                f"POST /api/v1/jobs HTTP/1.1\r\nHost: {host}\r\n"
                f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
                f"Content-Length: {len(head) + 50 * 1024 * 1024}\r\n\r\n"
            ).encode()
            + head
        )
        for _ in range(16):
            sock.sendall(b"\x01" * 64 * 1024)
        # Prove the upload was really streaming into the job's scope before the drop.
        deadline = time.monotonic() + 10
        while not any(p.is_file() and p.suffix == ".mp4" and p.stat().st_size > 0 for p in server.temp_entries()):
            assert time.monotonic() < deadline, "the upload never reached the disk"
            time.sleep(0.02)
    # Socket closed mid-body: the scope and its partial file must go.
    assert_clean(server)
    assert server.client.get(f"{server.api}/jobs").json()["jobs"] == []


def test_cancel_mid_encode_stops_ffmpeg(server: LiveServer, episode: Episode) -> None:
    response = post(server, upload_files(episode), {"max_expressions": "2", "repeat": "2"})
    assert response.status_code == 202
    url = response.json()["url"]
    deadline = time.monotonic() + 60
    while not ffmpeg_children():  # wait until an encode is really running
        assert time.monotonic() < deadline, "no ffmpeg ever started"
        assert server.client.get(url).json()["status"] in ("queued", "running")
        time.sleep(0.01)
    # ffmpeg runs in a worker's subprocess: the other endpoints answer meanwhile.
    started = time.monotonic()
    assert server.client.get(f"{server.api}/health").status_code == 200
    assert time.monotonic() - started < 5
    cancel = server.client.delete(url)
    assert cancel.status_code == 202, cancel.text
    job = server.wait_for(response.json()["job_id"], FINAL, timeout=30)
    assert (job["status"], job["error"]) == ("cancelled", "cancelled on request")
    deadline = time.monotonic() + 5
    while ffmpeg_children() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ffmpeg_children() == []
    assert not (server.settings.output_dir / job["id"]).exists()
    assert_clean(server)
    # A cancelled job is finished: a second DELETE forgets it.
    assert server.client.delete(url).status_code == 204
    assert server.client.get(url).status_code == 404


def test_outputs_download_rules_and_delete(server: LiveServer, episode: Episode) -> None:
    response = post(server, upload_files(episode), {"max_expressions": "1", "repeat": "1"})
    job = server.wait_for(response.json()["job_id"], FINAL)
    assert job["status"] == "completed"
    url = job["url"]
    assert server.client.get(f"{server.api}/jobs/{'0' * 32}").status_code == 404
    assert server.client.get(f"{url}/outputs/nothing.mp4").status_code == 404
    # Traversal, raw and encoded: never served, whatever exists on the disk.
    for name in ("../../data/jobs.db", "..%2F..%2Fdata%2Fjobs.db", "%2Fetc%2Fpasswd", "episode/../../jobs.db"):
        answer = server.client.get(f"{url}/outputs/{name}")
        assert answer.status_code == 404, (name, answer.status_code)
        assert b"SQLite" not in answer.content
    outputs_dir = Path(server.services.store.get(job["id"]).output_dir)
    assert outputs_dir.is_dir()
    assert server.client.delete(url).status_code == 204
    assert not outputs_dir.exists() and not (server.settings.output_dir / job["id"]).exists()
    assert server.client.get(url).status_code == 404
    assert server.client.delete(url).status_code == 404


def test_openapi_documents_the_upload(server: LiveServer) -> None:
    spec = server.client.get(f"{server.base_url}/openapi.json").json()
    post_spec = spec["paths"]["/api/v1/jobs"]["post"]
    schema = post_spec["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert set(schema["required"]) == {"video", "subtitle"}
    assert {"episode_name", "max_expressions", "repeat", "tts", "language_level"} <= set(schema["properties"])
    assert {"413", "415", "422", "503", "507"} <= set(post_spec["responses"])
    assert set(spec["paths"]["/api/v1/jobs/{job_id}/outputs/{name}"]) == {"get", "head"}


# -- hostile inputs -----------------------------------------------------------------


def test_a_playlist_uploaded_as_the_video_is_refused(server: LiveServer, episode: Episode, tmp_path: Path) -> None:
    """An HLS playlist named video.mp4 naming a private file outside the job: 415, and no job reads it."""
    private = make_private_video(tmp_path / "private")
    files = {**upload_files(episode), "video": ("video.mp4", hls_playlist(private), "video/mp4")}
    response = post(server, files, {"max_expressions": "1"})
    assert_refused(server, response, 415, "video 'video.mp4' is an HLS playlist (ffmpeg format 'hls'), not a video")
    assert str(private) not in response.text
    assert not server.settings.output_dir.exists() or list(server.settings.output_dir.rglob("*")) == []


def test_a_subtitle_that_is_really_a_playlist_is_refused(
    server: LiveServer, episode: Episode, tmp_path: Path
) -> None:
    """A file both a valid SRT and an HLS playlist: ffmpeg must never be handed it, so it is refused."""
    private = make_private_video(tmp_path / "private")
    files = {**upload_files(episode), "subtitle": ("episode.srt", srt_and_hls_playlist(private), "text/plain")}
    response = post(server, files, {"max_expressions": "1"})
    assert_refused(server, response, 415, "subtitle 'episode.srt' is an HLS playlist (ffmpeg format 'hls')")


def test_a_translation_that_is_really_a_playlist_is_refused(
    server: LiveServer, episode: Episode, tmp_path: Path
) -> None:
    """The optional third part is probed like the subtitles: ffmpeg is never handed a playlist through it."""
    private = make_private_video(tmp_path / "private")
    translation = ("episode.ko.srt", srt_and_hls_playlist(private), "text/plain")
    response = post(server, {**upload_files(episode), "translation": translation}, {"max_expressions": "1"})
    assert_refused(server, response, 415, "translation 'episode.ko.srt' is an HLS playlist (ffmpeg format 'hls')")
    assert str(private) not in response.text


def test_integer_fields_take_ascii_digits_only(server: LiveServer, episode: Episode) -> None:
    for value in ("\u0663", "1_0", "\uff13", "2.0", "0x2"):
        response = post(server, upload_files(episode), {"repeat": value})
        assert_refused(server, response, 422, "must be an integer written with the digits 0-9")
    accepted = post(server, upload_files(episode), {"repeat": " 2 ", "max_expressions": "+1"})
    assert accepted.status_code == 202, accepted.text
    assert server.client.delete(accepted.json()["url"]).status_code in (200, 202)
    server.wait_for(accepted.json()["job_id"], FINAL)


def test_the_cleaned_episode_name_is_stored(server: LiveServer, episode: Episode) -> None:
    response = post(server, upload_files(episode), {"episode_name": "My\x00Show\u202egpj.exe"})
    assert response.status_code == 202, response.text
    job = server.client.get(response.json()["url"]).json()
    assert job["options"]["episode_name"] == "My_Show_gpj.exe"
    assert server.client.delete(job["url"]).status_code in (200, 202)
    server.wait_for(job["id"], FINAL)


def test_urls_never_echo_the_host_header(live_server: Callable[..., LiveServer], episode: Episode) -> None:
    # Without a token a server refuses a foreign Host (tests/api/test_access.py); here it answers any.
    servers = (
        live_server(insecure_no_auth=True),
        live_server(public_url="https://langflix.example/app/", insecure_no_auth=True),
    )
    for server, base in zip(servers, ("", None), strict=True):
        expected = base if base is not None else "https://langflix.example/app"
        response = server.client.post(
            f"{server.api}/jobs", files=upload_files(episode), headers={"Host": "evil.example"}
        )
        assert response.status_code == 202, response.text
        job_id = response.json()["job_id"]
        assert response.headers["location"] == response.json()["url"] == f"{expected}/api/v1/jobs/{job_id}"
        listed = server.client.get(f"{server.api}/jobs", headers={"Host": "evil.example"})
        assert "evil.example" not in listed.text
        assert listed.json()["jobs"][0]["url"] == f"{expected}/api/v1/jobs/{job_id}"
        assert server.client.delete(f"{server.api}/jobs/{job_id}").status_code in (200, 202)
        server.wait_for(job_id, FINAL)


def test_integer_query_parameters_are_bounded(server: LiveServer) -> None:
    for query in ("offset=9223372036854775808", "offset=1000001", "offset=-1", "limit=0", "limit=10000000000"):
        response = server.client.get(f"{server.api}/jobs?{query}")
        assert response.status_code == 422, (query, response.status_code, response.text)
    assert server.client.get(f"{server.api}/jobs?offset=1000000").status_code == 200


def test_jobs_are_listed_a_page_at_a_time(server: LiveServer) -> None:
    store = server.services.store
    ids = [f"job-{n:02d}" for n in range(7)]
    for job_id in ids:
        store.create(job_id, {})
        store.finish(job_id, "failed", error="made for the listing")
    seen: list[str] = []
    cursor = None
    for _ in range(5):  # bounded: 7 jobs, 3 a page
        params = {"limit": "3"} | ({"cursor": cursor} if cursor else {})
        page = server.client.get(f"{server.api}/jobs", params=params).json()
        seen += [job["id"] for job in page["jobs"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(ids, key=lambda i: (-store.get(i).created_at, i))
    assert len(set(seen)) == 7
    forged = server.client.get(f"{server.api}/jobs", params={"cursor": "not-a-cursor"})
    assert forged.status_code == 422 and "next_cursor" in forged.text


def test_a_failed_job_names_no_server_path(
    live_server: Callable[..., LiveServer], episode: Episode, caplog: pytest.LogCaptureFixture
) -> None:
    """A real ffmpeg failure (every run times out): the job's error is in the client's words."""
    server = live_server(ffmpeg_timeout=0.01)
    with caplog.at_level(logging.WARNING, logger="langflix.api.runner"):
        response = post(server, upload_files(episode, video_name="My Episode.mp4"), {"max_expressions": "1"})
        assert response.status_code == 202, response.text
        job = server.wait_for(response.json()["job_id"], FINAL)
    assert job["status"] == "failed"
    assert "timed out after 0.01 s" in job["error"] and "My Episode.mp4" in job["error"], job["error"]
    assert_no_server_paths(server, json.dumps(job))
    # The operator still gets the whole command line, paths and all, in the server's log.
    assert server.settings.temp_dir is not None
    assert any(str(server.settings.temp_dir) in record.getMessage() for record in caplog.records)
