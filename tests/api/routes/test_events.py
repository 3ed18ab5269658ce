"""``/events``: the dashboard's one stream per page, read by a real client from a real server."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import httpx

from ..helpers import Episode, LiveServer, upload_files


def _messages(lines: Iterator[str]) -> Iterator[dict[str, str]]:
    message: dict[str, str] = {}
    for line in lines:
        if not line:
            if message:
                yield message
            message = {}
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(": ")
        message[field] = message[field] + "\n" + value if field in message else value


def _read_until(
    messages: Iterator[dict[str, str]], done: Callable[[dict[str, str]], bool], timeout: float = 60
) -> list[dict[str, str]]:
    seen: list[dict[str, str]] = []
    deadline = time.monotonic() + timeout
    for message in messages:
        seen.append(message)
        if done(message):
            return seen
        assert time.monotonic() < deadline, f"no such message within {timeout} s: {seen}"
    raise AssertionError(f"the stream ended first: {seen}")


def test_a_new_job_arrives_as_a_row_then_its_progress_then_its_end(server: LiveServer, episode: Episode) -> None:
    since = server.services.store.now()
    with httpx.Client(base_url=server.base_url, timeout=60) as client:
        with client.stream("GET", f"/events?view=rows&since={since}") as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            files = upload_files(episode)
            posted = server.client.post(f"{server.api}/jobs", files=files, data={"max_expressions": "1"})
            job_id = posted.json()["job_id"]

            def completed(message: dict[str, str]) -> bool:
                return message.get("event") == f"job-{job_id}" and 'data-status="completed"' in message["data"]

            seen = _read_until(_messages(stream.iter_lines()), completed)
    new = [m for m in seen if m.get("event") == "job-new"]
    assert len(new) == 1 and f'id="job-{job_id}"' in new[0]["data"]
    statuses = [m["data"].split('data-status="')[1].split('"')[0] for m in seen if m.get("event") == f"job-{job_id}"]
    assert statuses[-1] == "completed" and "running" in statuses
    assert all(float(m["id"]) >= since for m in seen if "id" in m)
    # Far fewer messages than progress updates: a burst becomes one message.
    assert len(statuses) < 40


def test_a_reconnecting_stream_gets_what_it_missed_and_a_deleted_job_goes(server: LiveServer, episode: Episode) -> None:
    before = server.services.store.now()
    posted = server.client.post(f"{server.api}/jobs", files=upload_files(episode), data={"max_expressions": "1"})
    job_id = posted.json()["job_id"]
    server.wait_for(job_id, ("completed",))
    with httpx.Client(base_url=server.base_url, timeout=60) as client:
        headers = {"Last-Event-ID": repr(before)}
        with client.stream("GET", "/events?view=rows", headers=headers) as stream:
            messages = _messages(stream.iter_lines())
            caught_up = _read_until(messages, lambda m: m.get("event") == f"job-{job_id}")
            assert 'data-status="completed"' in caught_up[-1]["data"]
            assert server.client.delete(f"{server.api}/jobs/{job_id}").status_code == 204
            gone = _read_until(messages, lambda m: m.get("event") == f"job-{job_id}")
    assert gone[-1]["data"] == "<!-- deleted -->"


def test_the_temp_panel_streams_and_a_stopping_server_ends_every_stream(
    live_server: Callable[..., LiveServer],
) -> None:
    server = live_server()
    client = httpx.Client(base_url=server.base_url, timeout=60)
    ended = threading.Event()
    panels: list[str] = []

    def listen() -> None:
        with client.stream("GET", "/events?view=none&temp=true") as stream:
            for message in _messages(stream.iter_lines()):
                if message.get("event") == "temp":
                    panels.append(message["data"])
        ended.set()

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    deadline = time.monotonic() + 30
    while len(panels) < 2:
        assert time.monotonic() < deadline, "the panel was not pushed twice"
        time.sleep(0.05)
    assert 'data-figure="temp.live_sessions"' in panels[0]
    assert server.services.events.listeners == 1
    started = time.monotonic()
    server.stop()  # uvicorn waits for open responses: the stream must end by itself now
    assert ended.wait(15), "the event stream held the shutdown"
    assert time.monotonic() - started < 15
    client.close()
