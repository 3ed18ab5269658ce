"""The dashboard in a real browser: Debian's headless Chromium, driven by Selenium, against a real server.

One browser and one server (with a token) for the whole module; the tests run
in order, as a person would use the dashboard: log in, be told about a bad
file next to its field, upload the sample episode and watch the progress reach
100%, cancel a second job, play a lesson, delete a finished job, read the temp
panel and sweep. Every page is screenshotted into the test's tmp dir, no page
logs a console error (a CSP violation is one), and the temp dir holds nothing
once the jobs are done.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from support.browser import console_errors, open_browser, screenshot, wait_until
from support.temp import dead_session

from langflix.core.output_format import OutputFormat
from langflix.demo import make_sample_episode

from ..helpers import LiveServer, start_server

pytestmark = pytest.mark.slow

TOKEN = "browser-test-token-0123456789"
XSS_NAME = "<img src=x onerror=alert(1)>.mp4"
XSS_LINE = "<img src=x onerror=alert`2`//"
"""Markup the subtitle cleaning keeps (an unclosed tag: a closed one is stripped as leftover markup)."""
MAX_UPLOAD = 4 * 1024 * 1024
CHUNK = 64 * 1024  # the dashboard's tus chunks: several per file, so one can be cut
SAMPLE_FORMAT = OutputFormat(width=320, height=240, fps=25, sample_rate=22050, preset="ultrafast")


@dataclass
class Session:
    server: LiveServer
    driver: WebDriver
    shots: Path
    media: Path
    jobs: dict[str, str] = field(default_factory=dict)

    def get(self, path: str) -> None:
        self.driver.get(self.server.base_url + path)

    def find(self, selector: str) -> Any:
        return self.driver.find_element(By.CSS_SELECTOR, selector)

    def finds(self, selector: str) -> list[Any]:
        return self.driver.find_elements(By.CSS_SELECTOR, selector)

    def shot(self, name: str) -> Path:
        return screenshot(self.driver, self.shots / f"{name}.png")

    def accept_confirmation(self) -> str:
        alert = wait_until(lambda: _alert(self.driver), 10, "the confirmation dialog")
        text: str = alert.text
        alert.accept()
        return text

    def no_console_errors(self, *expected_statuses: int) -> None:
        """No console error since the last check but the refusals the test asked for (a CSP violation is one)."""
        expected = [f"the server responded with a status of {status}" for status in expected_statuses]
        assert [e for e in console_errors(self.driver) if not any(text in e for text in expected)] == []

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        return self.server.client.request(method, f"{self.server.api}{path}", headers=headers, **kwargs)


def _alert(driver: WebDriver) -> Any:
    try:
        return driver.switch_to.alert
    except NoAlertPresentException:
        return None


@pytest.fixture(scope="module")
def ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    root = tmp_path_factory.mktemp("dashboard")
    media = root / "media"
    # The sample episode's own frame rate, kept: small and fast to encode.
    server = start_server(
        root / "srv", api_token=TOKEN, workers=1, output_format=SAMPLE_FORMAT, max_upload_bytes=MAX_UPLOAD,
        upload_chunk_bytes=CHUNK,
    )  # fmt: skip
    driver = open_browser(root / "chromium-profile")
    shots = root / "screenshots"
    shots.mkdir()
    try:
        yield Session(server, driver, shots, media)
    finally:
        driver.quit()
        server.stop()
    assert server.settings.temp_dir is not None
    assert list(server.settings.temp_dir.iterdir()) == [], "temp files left after the browser run"


@pytest.fixture(scope="module")
def sample(ui: Session) -> tuple[Path, Path]:
    """The sample episode of langflix.demo, tiny; its video named like an attack, a subtitle line holding one."""
    video, subtitles = make_sample_episode(
        ui.media, duration=6.0, width=320, height=240, lines=(
            "Hi everyone, let's break the ice before the meeting.",
            "Honestly, this test is a piece of cake.",
        ),
        manager=ui.server.services.manager,
    )  # fmt: skip
    hostile = video.with_name(XSS_NAME)
    video.rename(hostile)
    text = subtitles.read_text(encoding="utf-8")
    subtitles.write_text(text.replace("the meeting.", f"the meeting. {_entity(XSS_LINE)}"), encoding="utf-8")
    return hostile, subtitles


def _entity(html: str) -> str:
    """``html`` as SRT text that decodes to it: the way markup survives a subtitle parser that strips tags."""
    return html.replace("<", "&lt;").replace(">", "&gt;")


def test_pages_ask_for_the_token_first(ui: Session) -> None:
    ui.get("/jobs")
    wait_until(lambda: ui.finds("#token"), what="the login form")
    assert "/login" in ui.driver.current_url
    ui.find("#token").send_keys("not-the-token-at-all")
    ui.find("#login-button").click()
    error = wait_until(lambda: ui.finds("#login-error"), what="the refusal")[0]
    assert "not this server's token" in error.text
    ui.shot("login")
    ui.no_console_errors(401)
    ui.find("#token").send_keys(TOKEN)
    ui.find("#login-button").click()
    wait_until(lambda: ui.finds("#jobs-table"), what="the jobs page after logging in")
    cookie = ui.driver.get_cookie("langflix_session")
    assert cookie is not None and cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert ui.driver.execute_script("return document.cookie") == "", "no script can read the session"
    ui.no_console_errors()


def test_a_refused_file_is_named_next_to_its_field_as_text(ui: Session) -> None:
    ui.get("/")
    bad = ui.media / "<b onmouseover=alert(3)>notes.txt"
    ui.media.mkdir(exist_ok=True)
    bad.write_text("not subtitles", encoding="utf-8")
    video = ui.media / "tiny.mp4"
    video.write_bytes(b"\0" * 64)  # refused before it matters: the subtitles come first and are refused
    ui.find("#field-video").send_keys(str(video))
    ui.find("#field-subtitle").send_keys(str(bad))
    ui.find("#start-button").click()
    error = wait_until(lambda: ui.find("#error-subtitle").text, what="the 415 next to the subtitle field")
    assert error.startswith("This file is not of a kind LangFlix can read.")
    assert "'<b onmouseover=alert(3)>notes.txt'" in error, "the file name is shown as text, tags and all"
    assert ui.finds("#error-subtitle b") == [], "and never as markup"
    assert ui.find("#error-video").text == ""
    ui.no_console_errors(415)


def test_refusals_of_options_and_size_are_next_to_their_fields(ui: Session, sample: tuple[Path, Path]) -> None:
    video, subtitles = sample
    ui.get("/")
    ui.find("#field-video").send_keys(str(video))
    ui.find("#field-subtitle").send_keys(str(subtitles))
    # The server's 422: a provider without its API key, refused before any work, next to its field.
    ui.driver.execute_script("document.getElementById('field-tts').value = 'google';")
    ui.find("#start-button").click()
    error = wait_until(lambda: ui.find("#error-tts").text, what="the 422 next to the tts field")
    assert error.startswith("This value is not accepted.") and "GOOGLE_API_KEY" in error
    assert ui.find("#error-form").text == ""
    ui.no_console_errors(422)
    # Over LANGFLIX_MAX_UPLOAD_BYTES: said before a byte is sent, next to the file that makes it so.
    ui.driver.execute_script("document.getElementById('field-tts').value = 'espeak';")
    big = ui.media / "big.mp4"
    big.write_bytes(b"\0" * (MAX_UPLOAD + 1))
    ui.find("#field-video").send_keys(str(big))
    ui.find("#start-button").click()
    error = wait_until(lambda: ui.find("#error-video").text, what="the 413 next to the video field")
    assert error.startswith("These files are larger than this server accepts.") and "LANGFLIX_MAX_UPLOAD_BYTES" in error
    assert ui.api("GET", "/jobs").json()["jobs"] == [], "nothing was submitted"


def test_a_full_disk_is_told_next_to_the_start_button(ui: Session, sample: tuple[Path, Path]) -> None:
    # A second server whose free-space floor no disk can meet: every upload is refused with 507.
    full = start_server(ui.media.parent / "full", min_free_bytes=2**62)
    try:
        video, subtitles = sample
        # By another name: cookies ignore ports, and this server's session must not replace the first one's.
        ui.driver.get(full.base_url.replace("127.0.0.1", "localhost") + "/")
        ui.driver.find_element(By.ID, "field-video").send_keys(str(video))
        ui.driver.find_element(By.ID, "field-subtitle").send_keys(str(subtitles))
        ui.driver.find_element(By.ID, "start-button").click()
        error = wait_until(lambda: ui.driver.find_element(By.ID, "error-form").text, what="the 507 by the button")
        assert error.startswith("The server has no disk space (or temp budget) left for this upload right now.")
        assert "LANGFLIX_MIN_FREE_BYTES" in error
        assert ui.driver.find_element(By.ID, "error-video").text == ""
        ui.no_console_errors(507)
    finally:
        full.stop()


def _network(ui: Session, *, offline: bool = False, upload_rate: int = -1) -> None:
    ui.driver.execute_cdp_cmd(
        "Network.emulateNetworkConditions",
        {"offline": offline, "latency": 0, "downloadThroughput": -1, "uploadThroughput": upload_rate},
    )


def test_a_chunk_cut_by_a_dropped_connection_is_resumed_from_the_servers_offset(
    ui: Session, sample: tuple[Path, Path]
) -> None:
    video, subtitles = sample
    assert video.stat().st_size > 3 * CHUNK, "the sample must take several chunks"
    ui.get("/")
    ui.driver.execute_cdp_cmd("Network.enable", {})
    _network(ui, upload_rate=48 * 1024)  # slow enough to cut a chunk halfway
    try:
        ui.find("#field-video").send_keys(str(video))
        ui.find("#field-subtitle").send_keys(str(subtitles))
        ui.find("#start-button").click()
        wait_until(lambda: 5 <= int(ui.find("#upload-progress").get_attribute("value")) < 90, what="some chunks sent")
        _network(ui, offline=True)  # the connection drops mid-chunk
        time.sleep(1.5)
    finally:
        _network(ui)
    wait_until(lambda: ui.find("#upload-done").is_displayed(), timeout=60, what="the upload to finish after the cut")
    assert int(ui.find("#upload-form").get_attribute("data-resumes")) >= 1, "it went on from the server's offset"
    assert "went on from the" in ui.find("#upload-note").text
    assert ui.find("#upload-progress").get_attribute("value") == "100"
    job_id = ui.find("#upload-form").get_attribute("data-job-id")
    # The resumed video is whole: the job was accepted (ffprobe read it); stop it and forget it.
    ui.api("DELETE", f"/jobs/{job_id}")
    final = wait_until(
        lambda: (s := ui.api("GET", f"/jobs/{job_id}").json()["status"]) in ("cancelled", "completed", "failed") and s,
        timeout=60,
        what="the job to stop",
    )
    assert final in ("cancelled", "completed"), final
    assert ui.api("DELETE", f"/jobs/{job_id}").status_code == 204
    console_errors(ui.driver)  # the cut's network errors were expected; later checks start clean


def test_upload_shows_progress_to_100_and_the_job_runs_live(ui: Session, sample: tuple[Path, Path]) -> None:
    video, subtitles = sample
    ui.get("/")
    ui.find("#field-video").send_keys(str(video))
    ui.find("#field-subtitle").send_keys(str(subtitles))
    ui.find("#field-max_expressions").clear()
    ui.find("#field-max_expressions").send_keys("2")
    ui.find("#start-button").click()
    wait_until(lambda: ui.find("#upload-done").is_displayed(), what="the upload to finish")
    assert ui.find("#upload-progress").get_attribute("value") == "100"
    assert ui.find("#upload-percent").text == "100%"
    ui.shot("upload")
    job_id = ui.find("#upload-form").get_attribute("data-job-id")
    ui.jobs["lesson"] = job_id
    # A second job, queued behind the first (one worker): the one to cancel.
    second = ui.api("POST", "/jobs", files={
        "video": ("second.mp4", video.read_bytes(), "video/mp4"),
        "subtitle": ("second.srt", subtitles.read_bytes(), "application/x-subrip"),
    })  # fmt: skip
    assert second.status_code == 202, second.text
    ui.jobs["cancel"] = second.json()["job_id"]

    ui.find("#job-link").click()
    wait_until(lambda: ui.finds("#job-status-block"), what="the job page")
    # Pushed by the page's one event stream: no reload, no polling.
    final = wait_until(
        lambda: ui.find("#job-status-block").get_attribute("data-status") in ("completed", "failed", "cancelled")
        and ui.find("#job-status-block").get_attribute("data-status"),
        timeout=180,
        what="the job to finish on its page",
    )
    assert final == "completed", ui.find("#job-status-block").text
    wait_until(lambda: ui.finds("video.lesson-video"), what="the lessons once it completed")
    assert ui.find("#job-status-block progress").get_attribute("value") == "100"


def test_cancel_a_second_job_from_the_list(ui: Session) -> None:
    job_id = ui.jobs["cancel"]
    ui.get("/jobs")
    row = f"#job-{job_id}"
    wait_until(lambda: ui.finds(f"{row} button.cancel"), what="the second job's cancel button")
    status = ui.find(row).get_attribute("data-status")
    assert status in ("queued", "running"), f"the second job finished before it could be cancelled: {status}"
    # The live list may re-render the row between the look and the click: look again then.
    wait_until(lambda: ui.find(f"{row} button.cancel").click() or True, 30, "a click on the cancel button")
    assert "Cancel the job" in ui.accept_confirmation()
    wait_until(lambda: ui.find(row).get_attribute("data-status") == "cancelled", what="the row to read cancelled")
    lesson_row = f"#job-{ui.jobs['lesson']}"
    assert ui.find(lesson_row).get_attribute("data-status") == "completed"
    assert ui.find(f"{lesson_row} .percent").text == "100%"
    ui.shot("jobs")
    ui.no_console_errors()


def test_a_lesson_plays_and_names_show_as_text(ui: Session) -> None:
    ui.get(f"/jobs/{ui.jobs['lesson']}")
    video = wait_until(lambda: ui.finds("video.lesson-video"), what="a lesson video")[0]
    ui.driver.execute_script("arguments[0].muted = true; return arguments[0].play();", video)
    duration = wait_until(lambda: ui.driver.execute_script("return arguments[0].duration;", video), what="a duration")
    assert duration > 1.0
    start = ui.driver.execute_script("return arguments[0].currentTime;", video)
    wait_until(
        lambda: ui.driver.execute_script("return arguments[0].currentTime;", video) > start + 0.3,
        what="the lesson to play on",
    )
    # The hostile names are text on the page, and nothing ran.
    assert ui.find("#source-video").text == XSS_NAME
    assert any(XSS_LINE in line.text for line in ui.finds("dd.line"))
    assert ui.finds("main img:not(.thumbnail)") == []
    # Every output by default: each lesson's vertical short plays beside it, the deck has its button.
    short = ui.finds("video.short")[0]
    assert wait_until(lambda: ui.driver.execute_script("return arguments[0].duration;", short), what="a short") > 1.0
    assert ui.find("#deck-download").get_attribute("href").endswith("/deck.apkg")
    assert _alert(ui.driver) is None
    ui.shot("job")
    ui.no_console_errors()


def test_delete_a_finished_job_from_its_page(ui: Session) -> None:
    job_id = ui.jobs["lesson"]
    output = ui.server.settings.output_dir / job_id
    assert output.is_dir()
    ui.find("#job-status-block button.delete").click()
    assert "cannot be undone" in ui.accept_confirmation()
    wait_until(lambda: ui.driver.current_url.endswith("/jobs"), what="the list after the delete")
    wait_until(lambda: not ui.finds(f"#job-{job_id}"), what="the deleted job's row to go")
    assert ui.api("GET", f"/jobs/{job_id}").status_code == 404
    assert not output.exists()
    # The lesson still playing on the page may have asked for more of its file once it was gone.
    ui.no_console_errors(404)


def test_temp_panel_shows_the_health_figures_and_sweeps(ui: Session) -> None:
    temp_dir = ui.server.settings.temp_dir
    assert temp_dir is not None
    dead_session(temp_dir, files={"left-behind.mkv": 200_000})
    ui.get("/temp")
    wait_until(lambda: ui.find('[data-figure="temp.dead_sessions"]').get_attribute("data-value") == "1",
               what="the dead session on the panel")  # fmt: skip
    health = ui.api("GET", "/health").json()
    for figure in ("temp.live_sessions", "temp.dead_sessions", "jobs.completed", "jobs.cancelled"):
        section, name = figure.split(".")
        shown = ui.find(f'[data-figure="{figure}"]').get_attribute("data-value")
        assert shown == str(health[section][name]), figure
    ui.find("#sweep-button").click()
    summary = wait_until(lambda: ui.finds("#sweep-summary"), what="the sweep's answer")[0]
    assert summary.get_attribute("data-sessions") == "1" and int(summary.get_attribute("data-bytes")) >= 200_000
    reclaimed = ui.find('[data-figure="temp.reclaimed_since_start.bytes"]')
    assert int(reclaimed.get_attribute("data-value")) >= 200_000
    assert ui.find('[data-figure="temp.dead_sessions"]').get_attribute("data-value") == "0"
    assert ui.api("GET", "/health").json()["temp"]["reclaimed_since_start"]["bytes"] >= 200_000
    ui.shot("temp")
    ui.no_console_errors()


def test_every_page_was_screenshotted_and_nothing_is_left_in_temp(ui: Session) -> None:
    for name in ("login", "upload", "jobs", "job", "temp"):
        data = (ui.shots / f"{name}.png").read_bytes()
        assert data.startswith(b"\x89PNG") and len(data) > 1000, name
    wait_until(lambda: ui.server.temp_entries() == [], what="the temp dir to hold nothing but the session")
