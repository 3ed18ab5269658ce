"""Who gets in: the token on every API route, the dashboard's cookie and CSRF token, cross-site refusals.

Against a real server on 127.0.0.1 with ``LANGFLIX_API_TOKEN`` set; every
operation the API declares (read from its own OpenAPI description, so a new
route is covered the day it is added) is tried without a token and with a
wrong one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from langflix.api.access import SESSION_COOKIE, Access
from langflix.api.app import create_app

from .helpers import Episode, LiveServer, upload_files

TOKEN = "access-test-token-0123456789abcdef"
BEARER = {"Authorization": f"Bearer {TOKEN}"}

OPERATIONS = sorted(
    (method.upper(), path) for path, item in create_app().openapi()["paths"].items() for method in item
)
"""Every API operation the app declares."""
OPEN_OPERATIONS = {("GET", "/api/v1/health")}
DOCS = ("/openapi.json", "/docs", "/redoc")


@pytest.fixture
def guarded(live_server: Callable[..., LiveServer]) -> LiveServer:
    return live_server(api_token=TOKEN)


def _url(path: str) -> str:
    return path.replace("{job_id}", "0" * 32).replace("{name}", "manifest.json")


def _request(client: httpx.Client, method: str, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
    return client.request(method, _url(path), headers=headers or {})


def test_every_api_route_is_401_without_the_token_or_with_a_wrong_one(guarded: LiveServer) -> None:
    assert len(OPERATIONS) >= 9
    for method, path in OPERATIONS:
        if (method, path) in OPEN_OPERATIONS:
            continue
        missing = _request(guarded.client, method, path)
        wrong = _request(guarded.client, method, path, {"Authorization": "Bearer " + "x" * len(TOKEN)})
        malformed = _request(guarded.client, method, path, {"Authorization": TOKEN})
        for answer in (missing, wrong, malformed):
            assert answer.status_code == 401, (method, path, answer.status_code, answer.text)
            assert answer.headers["www-authenticate"] == 'Bearer realm="langflix"'
        # One answer for every way of not having the token: nothing tells a guess from no guess.
        assert missing.content == wrong.content == malformed.content
        right = _request(guarded.client, method, path, BEARER)
        assert right.status_code != 401, (method, path, right.text)
    for path in DOCS:
        assert guarded.client.get(path).status_code == 401
        assert guarded.client.get(path, headers=BEARER).status_code == 200


def test_a_missing_and_a_wrong_token_take_the_same_comparison() -> None:
    compared: list[tuple[int, int]] = []

    def compare(a: bytes, b: bytes) -> bool:
        compared.append((len(a), len(b)))
        return a == b

    access = Access(TOKEN, max_age=60, compare=compare)
    for header in (None, "", "Bearer", "Bearer wrong", f"Basic {TOKEN}", "Bearer " + "y" * 500):
        assert not access.bearer_matches(header)
    assert access.bearer_matches(f"Bearer {TOKEN}")
    # Every attempt, header or none, was one comparison of two 32-byte digests.
    assert compared == [(32, 32)] * 7
    compared.clear()
    assert not Access(None, max_age=60, compare=compare).token_matches(TOKEN)
    assert compared == [(32, 32)], "without a token the comparison still runs (against a digest nobody knows)"


def test_pages_redirect_to_the_login_and_streams_refuse(guarded: LiveServer) -> None:
    for page in ("/", "/jobs", "/temp", "/jobs/" + "0" * 32):
        answer = guarded.client.get(page)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/login?next=/"), page
    assert guarded.client.get("/events").status_code == 401
    assert guarded.client.post("/temp/sweep").status_code == 401
    assert guarded.client.get("/static/js/app.js").status_code == 200, "static files hold no secret"


def test_health_without_the_token_says_only_ok(guarded: LiveServer) -> None:
    public = guarded.client.get(f"{guarded.api}/health")
    assert public.status_code == 200 and public.json() == {"status": "ok"}
    full = guarded.client.get(f"{guarded.api}/health", headers=BEARER).json()
    assert {"tools", "disk", "temp", "jobs"} <= full.keys()
    assert guarded.client.get(f"{guarded.api}/health", headers={"Authorization": "Bearer nope"}).json() == {
        "status": "ok"
    }


def test_metrics_follow_the_token_unless_opened(live_server: Callable[..., LiveServer]) -> None:
    closed = live_server(api_token=TOKEN)
    assert closed.client.get(f"{closed.api}/metrics").status_code == 401
    assert closed.client.get(f"{closed.api}/metrics", headers=BEARER).status_code == 200
    opened = live_server(api_token=TOKEN, metrics_public=True)
    assert opened.client.get(f"{opened.api}/metrics").status_code == 200
    assert opened.client.get(f"{opened.api}/jobs").status_code == 401, "only /metrics is opened"


def _login(server: LiveServer, token: str = TOKEN) -> httpx.Response:
    page = server.client.get("/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf is not None
    return server.client.post("/login", data={"token": token, "csrf_token": csrf[1], "next": "/jobs"})


def _csrf(server: LiveServer) -> str:
    page = server.client.get("/jobs")
    assert page.status_code == 200
    match = re.search(r'<meta name="csrf-token" content="([^"]+)"', page.text)
    assert match is not None
    return match[1]


def test_the_login_sets_a_strict_httponly_signed_session(guarded: LiveServer) -> None:
    refused = _login(guarded, "wrong-token-but-long-enough")
    assert refused.status_code == 401 and "That is not this server" in refused.text
    answer = _login(guarded)
    assert answer.status_code == 303 and answer.headers["location"] == "/jobs"
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    for attribute in ("HttpOnly", "SameSite=strict", "Path=/", "Max-Age=43200"):
        assert attribute.lower() in cookie.lower(), attribute
    assert TOKEN not in cookie
    # The cookie is enough to read; a change needs the page's CSRF token as well.
    assert guarded.client.get(f"{guarded.api}/jobs").status_code == 200
    job = "0" * 32
    refused_change = guarded.client.delete(f"{guarded.api}/jobs/{job}")
    assert refused_change.status_code == 403 and "X-CSRF-Token" in refused_change.json()["detail"]
    wrong_csrf = guarded.client.delete(f"{guarded.api}/jobs/{job}", headers={"X-CSRF-Token": "forged"})
    assert wrong_csrf.status_code == 403
    with_csrf = guarded.client.delete(f"{guarded.api}/jobs/{job}", headers={"X-CSRF-Token": _csrf(guarded)})
    assert with_csrf.status_code == 404, "through the guard, to the route (no such job)"


def test_a_forged_or_tampered_cookie_is_no_login(guarded: LiveServer) -> None:
    assert _login(guarded).status_code == 303
    value = guarded.client.cookies[SESSION_COOKIE]
    body, signature = value.split(".")
    for forged in (f"{body}.{'A' * len(signature)}", f"{body[:-2]}xx.{signature}", "garbage", ""):
        guarded.client.cookies.set(SESSION_COOKIE, forged)
        assert guarded.client.get(f"{guarded.api}/jobs").status_code == 401, forged
    other = Access("another-servers-token-0123456789", max_age=60)
    guarded.client.cookies.set(SESSION_COOKIE, other.encode(other.new_session(authenticated=True)))
    assert guarded.client.get(f"{guarded.api}/jobs").status_code == 401, "a cookie signed with another token"


def test_a_session_expires_and_a_token_change_logs_everyone_out() -> None:
    now = [1000.0]
    access = Access(TOKEN, max_age=600, clock=lambda: now[0])
    cookie = access.encode(access.new_session(authenticated=True))
    assert access.allows(access.decode(cookie))
    now[0] += 600 + 61
    assert access.decode(cookie) is None
    now[0] = 1000.0
    assert Access(TOKEN, max_age=600, clock=lambda: now[0]).decode(cookie) is not None, "a restart keeps logins"
    assert Access(TOKEN + "-rotated", max_age=600, clock=lambda: now[0]).decode(cookie) is None
    # A session made while there was no token (its key was random) is nothing once there is one.
    tokenless = Access(None, max_age=600)
    guarded = Access(TOKEN, max_age=600)
    assert guarded.decode(tokenless.encode(tokenless.new_session(authenticated=True))) is None


def test_a_login_form_from_another_page_or_without_its_csrf_token_is_refused(guarded: LiveServer) -> None:
    guarded.client.get("/login")
    no_csrf = guarded.client.post("/login", data={"token": TOKEN})
    assert no_csrf.status_code == 403 and "form had expired" in no_csrf.text
    assert guarded.client.get(f"{guarded.api}/jobs").status_code == 401, "no login came of it"
    cross = guarded.client.post(
        "/login", data={"token": TOKEN}, headers={"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"}
    )
    assert cross.status_code == 403


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://evil.example"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
        {"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"},
    ],
)
def test_cross_site_form_posts_are_refused_even_without_a_token(
    live_server: Callable[..., LiveServer], episode: Episode, headers: dict[str, str]
) -> None:
    open_server = live_server()  # no token: only the guard stands between a web page and the jobs
    answer = open_server.client.post(f"{open_server.api}/jobs", files=upload_files(episode), headers=headers)
    assert answer.status_code == 403, answer.text
    assert "another site" in answer.json()["detail"]
    assert open_server.client.get(f"{open_server.api}/jobs").json()["jobs"] == []
    # A plain (urlencoded) form to the sweep, the login, a delete: the same refusal.
    for method, path in (("POST", "/temp/sweep"), ("POST", "/login"), ("DELETE", f"/api/v1/jobs/{'0' * 32}")):
        form = {"x": "1"} if method == "POST" else None
        refused = open_server.client.request(method, path, data=form, headers=headers)
        assert refused.status_code == 403, (method, path)


def test_a_same_origin_post_passes_the_guard(live_server: Callable[..., LiveServer], episode: Episode) -> None:
    open_server = live_server()
    origin = open_server.base_url
    answer = open_server.client.post(
        f"{open_server.api}/jobs",
        files=upload_files(episode),
        headers={"Origin": origin, "Sec-Fetch-Site": "same-origin"},
        data={"max_expressions": "1"},
    )
    assert answer.status_code == 202, answer.text
    open_server.wait_for(answer.json()["job_id"], ("completed", "failed"))


def test_without_a_token_only_this_machines_names_are_answered(live_server: Callable[..., LiveServer]) -> None:
    open_server = live_server()
    port = open_server.base_url.rsplit(":", 1)[1]
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", "127.0.0.2", f"[::1]:{port}"):
        assert open_server.client.get(f"{open_server.api}/jobs", headers={"Host": host}).status_code == 200, host
    rebound = open_server.client.get(f"{open_server.api}/jobs", headers={"Host": "attacker.example"})
    assert rebound.status_code == 403
    assert "attacker.example" not in rebound.text, "the Host is never echoed"
    assert "LANGFLIX_API_TOKEN" in rebound.json()["detail"]
    with_token = live_server(api_token=TOKEN)
    assert with_token.client.get(
        f"{with_token.api}/jobs", headers={"Host": "langflix.example", **BEARER}
    ).status_code == 200


def _scripts_and_handlers(html: str) -> Iterator[str]:
    for tag in re.findall(r"<script\b[^>]*>", html):
        if "src=" not in tag and 'type="application/json"' not in tag:
            yield f"inline script: {tag}"
    for attribute in re.findall(r"\son[a-z]+\s*=", html):
        yield f"event handler attribute: {attribute}"
    for attribute in re.findall(r'\sstyle\s*=\s*"', html):
        yield f"inline style: {attribute}"


def test_pages_carry_the_security_headers_and_no_inline_script(guarded: LiveServer) -> None:
    assert _login(guarded).status_code == 303
    pages: dict[str, Any] = {path: guarded.client.get(path) for path in ("/", "/jobs", "/temp", "/login")}
    pages["/login"] = httpx.get(f"{guarded.base_url}/login")
    for path, page in pages.items():
        assert page.status_code == 200, path
        csp = page.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp
        assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp
        assert page.headers["x-frame-options"] == "DENY"
        assert page.headers["x-content-type-options"] == "nosniff"
        assert page.headers["referrer-policy"] == "same-origin"
        assert page.headers["cache-control"] == "no-store"
        assert list(_scripts_and_handlers(page.text)) == [], path
    api = guarded.client.get(f"{guarded.api}/jobs", headers=BEARER)
    assert api.headers["x-content-type-options"] == "nosniff" and "content-security-policy" in api.headers


def test_download_names_are_sanitised(guarded: LiveServer) -> None:
    from langflix.api.disposition import content_disposition

    assert content_disposition("a.mp4") == 'attachment; filename="a.mp4"'
    header = content_disposition('x"; filename=evil.exe\r\nSet-Cookie: a=b.mp4')
    assert "\r" not in header and "\n" not in header and header.count('"') == 2
    assert header.startswith('attachment; filename="x_ filename_evil.exeSet-Cookie_ a_b.mp4"')
    korean = content_disposition("한국어 에피소드.mp4")
    assert korean == (
        "attachment; filename=\"download.mp4\"; filename*=UTF-8''"
        "%ED%95%9C%EA%B5%AD%EC%96%B4%20%EC%97%90%ED%94%BC%EC%86%8C%EB%93%9C.mp4"
    )
    assert content_disposition("../../etc/passwd") == 'attachment; filename="passwd"'
    assert content_disposition("\u202egnp.exe") == 'attachment; filename="gnp.exe"', "no right-to-left override"
    assert content_disposition("   ") == 'attachment; filename="download"'


def test_the_token_can_come_from_a_file(live_server: Callable[..., LiveServer], tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n", encoding="utf-8")
    server = live_server(api_token_file=token_file)
    assert server.client.get(f"{server.api}/jobs").status_code == 401
    assert server.client.get(f"{server.api}/jobs", headers=BEARER).status_code == 200
