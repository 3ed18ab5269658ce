"""The LangFlix service: ``create_app()`` builds the FastAPI app and its life cycle.

Start (lifespan): reclaim temp sessions of dead processes, open the job store
(its owner lock proves no other server uses it), mark jobs a dead process left
queued/running as failed ("interrupted by restart"), start the worker pool.
Stop (SIGTERM/Ctrl-C through uvicorn, or the test's exit): take no new job,
cancel running ones (their ffmpeg is killed), close their scopes, close the
store, and close the temp manager the app created, which removes its session
directory: the temp dir is left empty.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Final

import anyio
from fastapi import Depends, FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from langflix.api.access import Access
from langflix.api.backend import JobBackend, open_job_backend
from langflix.api.deps import Services, ServicesDep
from langflix.api.errors import install_error_handlers
from langflix.api.events import JobEvents
from langflix.api.guard import RequestGuard, SecurityHeaders, authorize_api
from langflix.api.limits import BodyPace, ClientLedger, OpenUploads
from langflix.api.pages import STATIC_DIR, STATIC_PREFIX
from langflix.api.redact import Redactor, server_dirs
from langflix.api.report import sweep_now
from langflix.api.routes import dashboard, downloads, events, health, jobs, temp, uploads
from langflix.api.routes.dashboard import LoginRequiredError, login_redirect
from langflix.api.runner import PipelineFactory
from langflix.api.tally import SweepTally
from langflix.api.tools import ToolVersions
from langflix.config import Settings, get_settings
from langflix.core.output_format import OutputFormat, ShortFormat
from langflix.errors import TempFileError
from langflix.temp import ResumableUploads, TempFileManager, sweep_orphans

__all__ = ["API_PREFIX", "SHUTDOWN_TIMEOUT", "create_app"]

logger = logging.getLogger(__name__)

API_PREFIX: Final[str] = "/api/v1"
SHUTDOWN_TIMEOUT: Final[float] = 30.0
"""Seconds to wait for cancelled jobs to stop (ffmpeg is terminated, then killed)."""


def create_app(
    settings: Settings | None = None,
    manager: TempFileManager | None = None,
    *,
    pipeline_factory: PipelineFactory | None = None,
    output_format: OutputFormat | None = None,
    short_format: ShortFormat | None = None,
) -> FastAPI:
    """Build the app; ``settings``/``manager`` default to the environment and a new manager.

    A ``manager`` passed in stays the caller's (the app closes only its jobs'
    scopes); without one the app makes its own from the settings and closes it
    at shutdown. ``output_format`` (the jobs' video format) defaults to the
    ``LANGFLIX_VIDEO_*`` settings and ``short_format`` (the shorts' size) to
    ``LANGFLIX_SHORTS_*``; ``pipeline_factory`` exists for tests and embedding.
    """

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        cfg = settings or get_settings()
        base_dir = manager.base_dir if manager is not None else cfg.temp_dir
        # Before our own session exists: everything dead under base_dir is
        # someone else's SIGKILLed past, never ours.
        sweep = await anyio.to_thread.run_sync(lambda: sweep_orphans(base_dir))
        own = manager is None
        mgr = manager or TempFileManager(
            base_dir=cfg.temp_dir, max_bytes=cfg.temp_max_bytes, min_free_bytes=cfg.min_free_bytes
        )
        backend: JobBackend | None = None
        try:
            mgr.path  # create and lock the session now, so /health shows it  # noqa: B018
            backend = open_job_backend(cfg, mgr, pipeline_factory=pipeline_factory)
            store, runner = backend.store, backend.runner
            fmt = output_format or cfg.output_format()
            tools = cfg.ffmpeg_tools()
            job_events = JobEvents()
            store.add_listener(job_events.notify)
            clients = ClientLedger(max_bytes=cfg.client_max_bytes, max_uploads=cfg.upload_client_max_uploads)
            resumable = _resumable_uploads(cfg, mgr)
            app.state.services = Services(
                settings=cfg,
                manager=mgr,
                store=store,
                runner=runner,
                sweep=sweep,
                interrupted=backend.interrupted,
                started_at=time.time(),
                output_format=fmt,
                short_format=short_format or cfg.short_format(),
                tools=tools,
                tool_versions=ToolVersions(tools, cfg.espeak_binary),
                clients=clients,
                pace=BodyPace(min_rate=cfg.upload_min_rate, idle_timeout=cfg.upload_idle_timeout),
                redact=Redactor(server_dirs((mgr.path, mgr.base_dir), cfg.data_dir, cfg.output_dir, cfg.shared_dir)),
                access=Access(cfg.access_token(), max_age=cfg.session_max_age),
                events=job_events,
                sweeps=SweepTally(sweep),
                uploads=resumable,
                open_uploads=OpenUploads(clients, lambda upload_id: _unfinished(resumable, upload_id)),
            )
            # Clients see setting names, never these paths: the operator reads them here.
            logger.info(
                "temp sessions under %s (this server's: %s); jobs in %s; outputs in %s",
                mgr.base_dir, mgr.path, backend.where, cfg.output_dir.resolve(),
            )  # fmt: skip
            runner.start()
            async with anyio.create_task_group() as background:
                background.start_soon(_sweep_every, app.state.services)
                yield
                background.cancel_scope.cancel()
        finally:
            # Order matters: jobs stop (closing their scopes) before the store
            # closes (they record their final state) and before the manager goes.
            with anyio.CancelScope(shield=True):
                services = getattr(app.state, "services", None)
                if services is not None:
                    services.events.close()
                if backend is not None:
                    await anyio.to_thread.run_sync(lambda: backend.runner.shutdown(SHUTDOWN_TIMEOUT))
                    backend.close()
                if own:
                    await anyio.to_thread.run_sync(mgr.close)
                app.state.services = None

    app = FastAPI(
        title="LangFlix",
        version="0.1.0",
        summary="Turn an episode (video + subtitles) into short English-learning videos.",
        lifespan=lifespan,
        # Served below behind the token: the schema names the version, and the docs pages are for users.
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    install_error_handlers(app)
    app.add_exception_handler(LoginRequiredError, _login_required)
    # Outermost last: the security headers go on every answer, the guard's refusals included.
    app.add_middleware(RequestGuard)
    app.add_middleware(SecurityHeaders)
    api_access = [Depends(_api_access)]
    app.include_router(jobs.router, prefix=API_PREFIX, dependencies=api_access)
    app.include_router(downloads.router, prefix=API_PREFIX, dependencies=api_access)
    app.include_router(temp.router, prefix=API_PREFIX, dependencies=api_access)
    app.include_router(uploads.router, prefix=API_PREFIX, dependencies=api_access)
    app.include_router(health.router, prefix=API_PREFIX)  # /health is open (and says little), /metrics is not
    _add_docs(app)
    app.include_router(dashboard.router)
    app.include_router(events.router)
    app.mount(STATIC_PREFIX, StaticFiles(directory=STATIC_DIR), name="static")
    return app


def _resumable_uploads(settings: Settings, manager: TempFileManager) -> ResumableUploads:
    """Beside this server's sessions embedded; in the shared dir's staging scaled out.

    Scaled out, a job made of uploads is run by a worker on any host: its
    bytes must become leased staging in the shared dir, and a rename does
    that only from the same filesystem, so the uploads are written there from
    their first byte (and any API host can resume them).
    """
    if not settings.scaled_out:
        return ResumableUploads(manager, expiry=settings.upload_expiry)
    return ResumableUploads(
        manager, expiry=settings.upload_expiry, base_dir=settings.staging_dir(),
        max_bytes=settings.temp_max_bytes, min_free_bytes=settings.min_free_bytes,
    )  # fmt: skip


async def _sweep_every(services: Services) -> None:
    """Reclaim dead sessions and expired uploads every LANGFLIX_SWEEP_INTERVAL seconds while serving.

    Uploads expire while the server runs, not only across restarts: without
    this, an abandoned 2 GiB upload would hold its disk until the next start.
    """
    while True:
        await anyio.sleep(services.settings.sweep_interval)
        try:
            await anyio.to_thread.run_sync(sweep_now, services)
        except Exception:  # the next round must still run
            logger.exception("periodic temp sweep failed")


def _unfinished(uploads: ResumableUploads, upload_id: str) -> bool:
    """Whether the upload still waits for bytes (not complete, deleted, expired or made into a job)."""
    try:
        return not uploads.get(upload_id).complete
    except TempFileError:
        return False


def _api_access(request: Request, services: ServicesDep) -> None:
    authorize_api(request, services.access)


async def _login_required(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoginRequiredError)
    return login_redirect(exc)


def _add_docs(app: FastAPI) -> None:
    """``/openapi.json``, ``/docs`` and ``/redoc``, behind the same access as the API."""
    access = [Depends(_api_access)]

    @app.get("/openapi.json", include_in_schema=False, dependencies=access)
    def openapi() -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False, dependencies=access)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title="LangFlix API")

    @app.get("/redoc", include_in_schema=False, dependencies=access)
    def redoc() -> HTMLResponse:
        return get_redoc_html(openapi_url="/openapi.json", title="LangFlix API")
