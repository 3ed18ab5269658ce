"""One function's figures on /health, /metrics and the temp panel; the sweep adds to "reclaimed since start"."""

from __future__ import annotations

import re

import httpx
from prometheus_client.parser import text_string_to_metric_families
from support.temp import dead_session

from .helpers import LiveServer


def _metrics(server: LiveServer) -> dict[str, float]:
    text = server.client.get(f"{server.api}/metrics").text
    return {s.name: s.value for family in text_string_to_metric_families(text) for s in family.samples if not s.labels}


def _panel(server: LiveServer) -> dict[str, str]:
    # A browser of its own: the page's session cookie would make the API client's changes need a CSRF token.
    page = httpx.get(f"{server.base_url}/temp").text
    return dict(re.findall(r'data-figure="([^"]+)" data-value="([^"]*)"', page))


def test_the_panel_health_and_metrics_agree_and_the_sweep_is_counted(server: LiveServer) -> None:
    temp_dir = server.settings.temp_dir
    assert temp_dir is not None
    dead_session(temp_dir, files={"left.mkv": 150_000})
    health = server.client.get(f"{server.api}/health").json()
    panel = _panel(server)
    metrics = _metrics(server)
    temp = health["temp"]
    assert temp["dead_sessions"] == 1 and temp["dead_bytes"] >= 150_000 and temp["live_sessions"] == 1
    for figure in ("live_sessions", "dead_sessions", "live_bytes", "reserved_bytes", "min_free_bytes"):
        assert panel[f"temp.{figure}"] == str(temp[figure]), figure
    assert panel["temp.budget_bytes"] == "" and temp["budget_bytes"] is None
    assert metrics["langflix_temp_dead_sessions"] == 1 and metrics["langflix_temp_live_sessions"] == 1
    assert panel["temp.reclaimed_since_start.bytes"] == "0" == str(temp["reclaimed_since_start"]["bytes"])

    answer = server.client.post(f"{server.api}/temp/sweep")
    assert answer.status_code == 200, answer.text
    swept = answer.json()
    assert swept["sessions"] == 1 and swept["bytes"] >= 150_000 and swept["skipped_live"] == 1
    assert swept["reclaimed_since_start"] == {"sessions": 1, "bytes": swept["bytes"], "sweeps": 1}
    after = server.client.get(f"{server.api}/health").json()["temp"]
    assert after["dead_sessions"] == 0 and after["reclaimed_since_start"]["bytes"] == swept["bytes"]
    assert _panel(server)["temp.reclaimed_since_start.bytes"] == str(swept["bytes"])
    assert _metrics(server)["langflix_temp_reclaimed_bytes_total"] == swept["bytes"]
    assert server.temp_entries() == [], "the server's own live session was left alone, and holds nothing"


def test_a_budget_is_shown_where_one_is_set(live_server) -> None:  # type: ignore[no-untyped-def]
    server = live_server(temp_max_bytes=5 * 1024**3)
    assert server.client.get(f"{server.api}/health").json()["temp"]["budget_bytes"] == 5 * 1024**3
    assert _panel(server)["temp.budget_bytes"] == str(5 * 1024**3)
    assert _metrics(server)["langflix_temp_budget_bytes"] == 5 * 1024**3
