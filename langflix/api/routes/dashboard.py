"""The dashboard at ``/``: server-rendered pages over the same store, runner and routes as the API.

Pages: ``/`` (upload), ``/jobs`` (the list, live), ``/jobs/{id}`` (a job, its
lessons and downloads), ``/temp`` (disk and temp files, the sweep button),
``/login``. The pages change nothing themselves: uploads, cancels and deletes
go to the API routes (``POST``/``DELETE /api/v1/jobs``) from the page's
scripts with the session cookie and the CSRF header; the sweep button posts
to ``/temp/sweep``, which does what ``POST /api/v1/temp/sweep`` does and
answers with the panel's HTML. A page without a login redirects to ``/login``.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any, Final
from urllib.parse import quote, urlsplit

import anyio
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from langflix.api.access import CSRF_FIELD, Access, Session
from langflix.api.deps import Services, ServicesDep
from langflix.api.episode import EpisodeView, episode_view
from langflix.api.guard import authorize_api, request_session, set_session_cookie
from langflix.api.pages import render, render_fragment
from langflix.api.report import service_report, sweep_now
from langflix.api.routes.downloads import published_path
from langflix.api.routes.jobs import job_json
from langflix.api.store import ACTIVE_STATUSES, JobNotFoundError, JobRecord
from langflix.api.upload_form import upload_fields
from langflix.errors import LangFlixError

__all__ = ["LoginRequiredError", "jobs_path", "login_redirect", "router", "row_context", "safe_next", "temp_context"]

logger = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)

_LOGIN_FORM_MAX_BYTES: Final[int] = 8 * 1024


class LoginRequiredError(LangFlixError):
    """A page was asked for without a login: the answer is a redirect to ``/login``."""

    def __init__(self, next_path: str) -> None:
        super().__init__(f"log in to see {next_path}")
        self.next_path = next_path


def _page_session(request: Request, services: ServicesDep) -> Session:
    """The visitor's session (a new anonymous one when there is none); LoginRequiredError when it may not see pages."""
    access = services.access
    session = request_session(request, access) or access.new_session(authenticated=False)
    if not access.allows(session):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequiredError(target)
    return session


PageSession = Annotated[Session, Depends(_page_session)]


def _api_access(request: Request, services: ServicesDep) -> None:
    authorize_api(request, services.access)


def jobs_path(request: Request) -> str:
    """The API's ``/jobs`` URL as the pages use it: relative to this server, whatever LANGFLIX_PUBLIC_URL says."""
    return str(request.scope.get("root_path", "")).rstrip("/") + str(request.app.url_path_for("list_jobs"))


def safe_next(target: str | None) -> str:
    """Where a login may send the browser: a path of this server, never another site (``//evil``, ``/\\evil``)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or any(ch in target for ch in "\r\n\t"):
        return "/"
    return target


def row_context(job: dict[str, Any]) -> dict[str, Any]:
    """What a job's row and status block need, from the API's own JSON of the job."""
    name = job["options"].get("episode_name") or job["id"][:12]
    return {"job": job, "name": name, "active": job["status"] in ACTIVE_STATUSES}


def temp_context(services: Services) -> dict[str, Any]:
    """The temp panel's figures: :func:`service_report`, the same the health route answers."""
    return {"report": service_report(services)}


# -- login ------------------------------------------------------------------------


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, services: ServicesDep, next: str = "/") -> Response:
    access = services.access
    if not access.enabled:
        return RedirectResponse("/", status_code=303)
    session = request_session(request, access) or access.new_session(authenticated=False)
    return render(request, "login.html", {"next": safe_next(next), "error": None}, access=access, session=session)


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request, services: ServicesDep) -> Response:
    access = services.access
    if not access.enabled:
        return RedirectResponse("/", status_code=303)
    length = request.headers.get("content-length", "")
    if not length.isdigit() or int(length) > _LOGIN_FORM_MAX_BYTES:
        return Response("the login form is at most 8 KiB", status_code=413)
    form = await request.form(max_files=0, max_fields=8)
    token = form.get("token")
    target = safe_next(str(form.get("next") or "/"))
    session = request_session(request, access)
    # The login form's own CSRF token: a page of another site cannot log a
    # visitor in as someone else (and SameSite=Strict already kept its cookie out).
    if session is None or not access.csrf_matches(session, str(form.get(CSRF_FIELD) or "")):
        fresh = access.new_session(authenticated=False)
        context = {"next": target, "error": "This form had expired; enter the token again."}
        return render(request, "login.html", context, access=access, session=fresh, status_code=403)
    if not access.token_matches(token if isinstance(token, str) else None):
        logger.warning("dashboard login refused for %s: wrong token", request.client.host if request.client else "?")
        context = {"next": target, "error": "That is not this server's token (LANGFLIX_API_TOKEN)."}
        return render(request, "login.html", context, access=access, session=session, status_code=401)
    response = RedirectResponse(target, status_code=303)
    # A new id on login: a session id someone planted before it is worth nothing after.
    _set_cookie(request, response, access, access.new_session(authenticated=True))
    return response


@router.post("/logout")
async def logout(request: Request, services: ServicesDep) -> Response:
    access = services.access
    session = request_session(request, access)
    form = await request.form(max_files=0, max_fields=4)
    if session is not None and not access.csrf_matches(session, str(form.get(CSRF_FIELD) or "")):
        return RedirectResponse("/", status_code=303)
    response = RedirectResponse("/login" if access.enabled else "/", status_code=303)
    _set_cookie(request, response, access, access.new_session(authenticated=False))
    return response


def _set_cookie(request: Request, response: Response, access: Access, session: Session) -> None:
    public_url = request.app.state.services.settings.public_url or ""
    set_session_cookie(
        response, access, session, secure=request.url.scheme == "https" or public_url.startswith("https://")
    )


# -- pages ------------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
def upload_page(request: Request, services: ServicesDep, session: PageSession) -> Response:
    endpoint = jobs_path(request)
    path = str(request.app.url_path_for("create_job"))
    fields = upload_fields(request.app.openapi(), path, {"tts": services.settings.tts})
    config = {
        "endpoint": endpoint,
        "jobPage": "/jobs/",
        "maxUploadBytes": services.settings.max_upload_bytes,
        "fields": [f.name for f in fields],
        "fileFields": [f.name for f in fields if f.kind == "file"],
    }
    context = {"fields": fields, "config": config, "max_upload_bytes": services.settings.max_upload_bytes}
    return render(request, "upload.html", context, access=services.access, session=session)


@router.get("/jobs", response_class=HTMLResponse)
def jobs_page(
    request: Request,
    services: ServicesDep,
    session: PageSession,
    cursor: str | None = Query(None, max_length=512),
) -> Response:
    since = services.store.now()
    try:
        records, next_cursor = services.store.list_page(limit=50, cursor=cursor)
    except LangFlixError:
        records, next_cursor = services.store.list_page(limit=50)
    url = jobs_path(request)
    rows = [row_context(job_json(r, url)) for r in records]
    context = {"rows": rows, "next_cursor": next_cursor, "since": since, "first_page": cursor is None}
    return render(request, "jobs.html", context, access=services.access, session=session)


def _episode(request: Request, services: Services, record: JobRecord) -> EpisodeView | None:
    if record.status != "completed":
        return None
    outputs = {o["name"]: o["url"] for o in job_json(record, jobs_path(request))["outputs"]}
    root = services.settings.output_dir
    return episode_view(record, outputs, lambda name: published_path(record, name, root))


@router.get("/jobs/{job_id}", response_class=HTMLResponse)
def job_page(request: Request, job_id: str, services: ServicesDep, session: PageSession) -> Response:
    since = services.store.now()
    try:
        record = services.store.get(job_id)
    except JobNotFoundError:
        missing = {"job_id": job_id}
        return render(request, "missing.html", missing, access=services.access, session=session, status_code=404)
    job = job_json(record, jobs_path(request))
    context: dict[str, Any] = {
        **row_context(job),
        "episode": _episode(request, services, record),
        "archive_url": f"{job['url']}/archive",
        "since": since,
    }
    return render(request, "job.html", context, access=services.access, session=session)


@router.get("/temp", response_class=HTMLResponse)
async def temp_page(request: Request, services: ServicesDep, session: PageSession) -> Response:
    context = await anyio.to_thread.run_sync(temp_context, services)
    return render(request, "temp.html", context, access=services.access, session=session)


@router.post("/temp/sweep", response_class=HTMLResponse, dependencies=[Depends(_api_access)])
async def sweep(services: ServicesDep) -> HTMLResponse:
    """The sweep button: reclaim dead sessions, answer with what came back and the panel's new figures."""
    report = await anyio.to_thread.run_sync(sweep_now, services)
    context = await anyio.to_thread.run_sync(temp_context, services)
    html = render_fragment("_sweep_result.html", {"sweep": report, **context})
    return HTMLResponse(html)


def login_redirect(exc: LoginRequiredError) -> RedirectResponse:
    """The answer to a page asked for without a login."""
    return RedirectResponse(f"/login?next={quote(safe_next(exc.next_path), safe='/')}", status_code=303)
