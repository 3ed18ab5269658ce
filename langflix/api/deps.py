"""``Annotated`` dependency aliases: what a route may ask for, in one place.

The services live on ``app.state.services`` (built by the app's lifespan), so
a test can build an app around its own manager and settings and every route
sees them; routes never reach for a global.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from langflix.api.access import Access
from langflix.api.events import JobEvents
from langflix.api.limits import BodyPace, ClientLedger, OpenUploads
from langflix.api.redact import Redactor
from langflix.api.runner import JobRunnerProtocol
from langflix.api.store import JobStoreProtocol
from langflix.api.tally import SweepTally
from langflix.api.tools import ToolVersions
from langflix.config import Settings
from langflix.core.ffmpeg import FFmpegTools
from langflix.core.output_format import OutputFormat, ShortFormat
from langflix.temp import ResumableUploads, SweepReport, TempFileManager

__all__ = [
    "AccessDep",
    "ManagerDep",
    "RunnerDep",
    "Services",
    "ServicesDep",
    "SettingsDep",
    "StoreDep",
    "get_services",
]


@dataclass
class Services:
    """Everything the routes use; one instance per running app."""

    settings: Settings
    manager: TempFileManager
    store: JobStoreProtocol
    """SQLite embedded, Redis scaled out: the same interface."""
    runner: JobRunnerProtocol
    """Threads of this process embedded, RQ work horses on any host scaled out."""
    sweep: SweepReport | None
    interrupted: tuple[str, ...]
    started_at: float
    output_format: OutputFormat
    short_format: ShortFormat
    tools: FFmpegTools
    tool_versions: ToolVersions
    clients: ClientLedger
    pace: BodyPace
    redact: Redactor
    """Server paths -> what a client may read (its names, setting names)."""
    access: Access
    """The token, the session cookie's key and the CSRF tokens."""
    events: JobEvents
    """Job changes, told to the dashboard's event streams."""
    sweeps: SweepTally
    """What this server reclaimed since it started (the start-up sweep and the sweep button)."""
    uploads: ResumableUploads
    """The resumable (tus) uploads, owned by their expiry: beside the sessions, or in the shared dir scaled out."""
    open_uploads: OpenUploads
    """Unfinished resumable uploads, each counted against the client that made it (``clients``' caps)."""


def get_services(request: Request) -> Services:
    """The running app's services (set by its lifespan)."""
    services: Services | None = getattr(request.app.state, "services", None)
    if services is None:  # only when the app is served without its lifespan
        raise RuntimeError("LangFlix services are not started; run the app with lifespan enabled")
    return services


def _settings(services: Annotated[Services, Depends(get_services)]) -> Settings:
    return services.settings


def _manager(services: Annotated[Services, Depends(get_services)]) -> TempFileManager:
    return services.manager


def _store(services: Annotated[Services, Depends(get_services)]) -> JobStoreProtocol:
    return services.store


def _runner(services: Annotated[Services, Depends(get_services)]) -> JobRunnerProtocol:
    return services.runner


def _access(services: Annotated[Services, Depends(get_services)]) -> Access:
    return services.access


ServicesDep = Annotated[Services, Depends(get_services)]
AccessDep = Annotated[Access, Depends(_access)]
SettingsDep = Annotated[Settings, Depends(_settings)]
ManagerDep = Annotated[TempFileManager, Depends(_manager)]
StoreDep = Annotated[JobStoreProtocol, Depends(_store)]
RunnerDep = Annotated[JobRunnerProtocol, Depends(_runner)]
