"""The dashboard's pages over HTTP: the upload form from the API's schema, escaping, the job page, the zip."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable
from pathlib import Path

import httpx

from langflix.api.app import create_app
from langflix.api.routes.dashboard import safe_next
from langflix.api.upload_form import upload_fields
from langflix.pipeline import PipelineOptions

from ..helpers import SRT, Episode, LiveServer, upload_files

XSS_NAME = "<img src=x onerror=alert(1)>.mp4"
XSS_LINE = "<img src=x onerror=alert`2`//"
"""Markup the subtitle cleaning keeps (an unclosed tag: a closed one is stripped as leftover markup)."""
XSS_SRT = SRT.replace("everybody.", "everybody. " + XSS_LINE.replace("<", "&lt;").replace(">", "&gt;"))
"""The test episode's subtitles with markup in a line (as entities: the parser strips tags, decodes entities)."""


def test_the_upload_form_offers_what_the_api_takes() -> None:
    app = create_app()
    fields = {f.name: f for f in upload_fields(app.openapi(), "/api/v1/jobs")}
    assert [f.name for f in upload_fields(app.openapi(), "/api/v1/jobs")][:2] == ["video", "subtitle"]
    assert fields["video"].kind == fields["subtitle"].kind == "file"
    assert fields["video"].required and fields["subtitle"].required
    assert ".smi" in fields["subtitle"].accept and fields["video"].accept.startswith("video/")
    # The optional translation subtitles (a third multipart part) come after the required files.
    assert [f.name for f in upload_fields(app.openapi(), "/api/v1/jobs")][2] == "translation"
    assert fields["translation"].kind == "file" and not fields["translation"].required
    assert fields["translation"].accept == fields["subtitle"].accept
    assert fields["subtitles_style"].kind == "select" and "bilingual" in fields["subtitles_style"].choices
    for name in ("max_expressions", "repeat"):
        low, high = PipelineOptions.bounds(name)
        assert (fields[name].minimum, fields[name].maximum) == (low, high), name
        assert fields[name].default == str(PipelineOptions.model_fields[name].default)
    assert fields["language_level"].choices == ("beginner", "intermediate", "advanced")
    assert fields["tts"].kind == "select" and "espeak" in fields["tts"].choices
    assert fields["outputs"].kind == "text" and fields["outputs"].default == "lessons,shorts,deck,compilation"
    assert fields["shorts_fit"].choices == ("letterbox", "crop")
    assert (fields["deck_with_shorts"].kind, fields["deck_with_shorts"].choices) == ("select", ("false", "true"))
    assert fields["deck_with_shorts"].default == "false"
    # A field added to the API's form appears on the page with nothing else to change.
    schema = app.openapi()
    body = schema["paths"]["/api/v1/jobs"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    body["properties"]["glossary"] = {"type": "string", "format": "binary", "description": "a word list"}
    body["properties"]["style"] = {"type": "string", "enum": ["plain", "boxed"], "default": "boxed"}
    grown = {f.name: f for f in upload_fields(schema, "/api/v1/jobs")}
    assert grown["glossary"].kind == "file" and not grown["glossary"].required
    assert grown["glossary"].accept == fields["subtitle"].accept
    assert (grown["style"].kind, grown["style"].default) == ("select", "boxed")


def test_the_upload_page_renders_the_fields_with_the_servers_tts(live_server: Callable[..., LiveServer]) -> None:
    server = live_server()
    page = server.client.get("/")
    assert page.status_code == 200
    names = ("video", "subtitle", "translation", "max_expressions", "repeat", "language_level", "tts",
             "subtitles_style", "episode_name")  # fmt: skip
    for name in names:
        assert f'name="{name}"' in page.text, name
        assert f'id="error-{name}"' in page.text, f"{name} has its error slot"
    assert re.search(r'<option value="espeak" selected>', page.text)
    assert 'id="upload-config"' in page.text and 'type="application/json"' in page.text


def _completed_hostile_job(server: LiveServer, episode: Episode, tmp_path: Path) -> str:
    subtitles = tmp_path / "hostile.srt"
    subtitles.write_text(XSS_SRT, encoding="utf-8")
    files = upload_files(Episode(episode.video, subtitles), video_name=XSS_NAME)
    response = server.client.post(f"{server.api}/jobs", files=files, data={"max_expressions": "2"})
    assert response.status_code == 202, response.text
    job_id: str = response.json()["job_id"]
    job = server.wait_for(job_id, ("completed", "failed"))
    assert job["status"] == "completed", job
    return job_id


def test_an_xss_payload_in_a_file_name_and_a_subtitle_line_shows_as_text(
    live_server: Callable[..., LiveServer], episode: Episode, tmp_path: Path
) -> None:
    server = live_server()
    job_id = _completed_hostile_job(server, episode, tmp_path)
    page = server.client.get(f"/jobs/{job_id}")
    assert page.status_code == 200
    text = page.text
    assert "&lt;img src=x onerror=alert(1)&gt;.mp4" in text, "the file name, escaped"
    assert "&lt;img src=x onerror=alert`2`//" in text, "the subtitle line, escaped"
    assert "<img src=x" not in text and "onerror=alert" not in text.replace("onerror=alert(1)&gt;", "").replace(
        "onerror=alert`2`//", ""
    )
    assert 'class="lesson-video"' in text and "Download everything" in text
    rows = server.client.get("/jobs").text
    assert "<img src=x" not in rows


def test_the_job_page_plays_what_the_manifest_lists_and_the_zip_holds_every_output(
    live_server: Callable[..., LiveServer], episode: Episode
) -> None:
    server = live_server()
    response = server.client.post(f"{server.api}/jobs", files=upload_files(episode), data={"max_expressions": "2"})
    job = server.wait_for(response.json()["job_id"], ("completed", "failed"))
    assert job["status"] == "completed", job
    page = server.client.get(f"/jobs/{job['id']}").text
    outputs = {o["name"]: o for o in job["outputs"]}
    for name in outputs:
        if name.endswith(".mp4"):
            assert f'src="{outputs[name]["url"]}"' in page, name
    # Every output a job makes by default: the shorts play as vertical videos of their lessons,
    # the deck, its TSV and the upload metadata have their own downloads.
    shorts = [name for name in outputs if name.endswith(".short.mp4")]
    assert len(shorts) == 2 and page.count('class="lesson-extra short"') == 2
    assert f'id="deck-download" href="{outputs["deck.apkg"]["url"]}"' in page
    assert "Anki deck (.apkg, 2 notes)" in page
    assert f'id="deck-tsv" href="{outputs["deck.tsv"]["url"]}"' in page
    assert f'id="metadata-download" href="{outputs["metadata.json"]["url"]}"' in page
    assert page.count('class="thumbnail"') >= 2, "each lesson's thumbnail"
    # Range requests, as <video> makes them.
    lesson = next(o for name, o in outputs.items() if name.startswith("01-"))
    part = server.client.get(lesson["url"], headers={"Range": "bytes=0-99"})
    assert part.status_code == 206 and len(part.content) == 100
    assert part.headers["content-disposition"] == f'attachment; filename="{lesson["name"]}"'

    with server.client.stream("GET", f"{job['url']}/archive") as archive:
        assert archive.status_code == 200 and archive.headers["content-type"] == "application/zip"
        assert archive.headers["content-disposition"] == 'attachment; filename="episode.zip"'
        assert "content-length" not in archive.headers, "streamed as it is written"
        data = b"".join(archive.iter_bytes())
    with zipfile.ZipFile(io.BytesIO(data)) as zipped:
        assert zipped.testzip() is None
        infos = {info.filename: info for info in zipped.infolist()}
        assert set(infos) == {f"episode/{name}" for name in outputs}
        for name, output in outputs.items():
            info = infos[f"episode/{name}"]
            assert info.file_size == output["size"]
            expected = zipfile.ZIP_STORED if name.endswith((".mp4", ".png", ".apkg")) else zipfile.ZIP_DEFLATED
            assert info.compress_type == expected, name
    assert server.temp_entries() == [], "no temp copy of the archive"
    unfinished = server.client.get(f"{server.api}/jobs/{'0' * 32}/archive")
    assert unfinished.status_code == 404


def test_a_login_never_sends_the_browser_to_another_site() -> None:
    assert safe_next("/jobs?cursor=x") == "/jobs?cursor=x"
    for hostile in ("//evil.example/x", "/\\evil.example", "https://evil.example/", "evil", "", None, "/a\r\nb"):
        assert safe_next(hostile) == "/", hostile


def test_a_job_page_of_no_job_is_a_404_page(server: LiveServer) -> None:
    page = server.client.get("/jobs/<img src=x onerror=alert(1)>")
    assert page.status_code == 404 and "&lt;img src=x onerror=alert(1)&gt;" in page.text and "<img" not in page.text


def test_static_files_are_served_with_their_content_hash(server: LiveServer) -> None:
    page = server.client.get("/").text
    scripts = re.findall(r'<script src="([^"]+)"', page)
    assert len(scripts) == 4 and all("?v=" in src for src in scripts)
    for src in scripts:
        answer = httpx.get(f"{server.base_url}{src}")
        assert answer.status_code == 200 and "javascript" in answer.headers["content-type"]
