"""The service's figures, computed by one function for ``/health``, ``/metrics`` and the dashboard.

:func:`service_report` is the only place tools, disk, temp files, sessions,
jobs and the queue are measured; the health route returns it as JSON, the
metrics collector turns it into Prometheus families, the dashboard's temp
panel renders it. So the three can never disagree on a figure.
:func:`sweep_now` is the dashboard's (and the API's) sweep: it reclaims what
dead processes left and adds the bytes to what the report counts as
reclaimed since start. No server path reaches the report (the setting names each area).
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
import time
from pathlib import Path
from typing import Any, Final

from langflix.api.deps import Services
from langflix.api.tools import REQUIRED_TOOLS
from langflix.temp import SweepReport, list_sessions, sweep_orphans

__all__ = ["DEAD_STATES", "DISK_SETTINGS", "LIVE_STATES", "public_health", "service_report", "sweep_now"]

logger = logging.getLogger(__name__)

DISK_SETTINGS: Final[dict[str, str]] = {
    "temp": "LANGFLIX_TEMP_DIR",
    "output": "LANGFLIX_OUTPUT_DIR",
    "data": "LANGFLIX_DATA_DIR",
}
"""Each disk area by the setting that places it: clients never see the server's paths (they are in its log)."""

LIVE_STATES: Final[frozenset[str]] = frozenset({"live"})
"""Sessions whose owner holds their lock (a "busy" one is being deleted by a sweeper: neither live nor dead)."""
DEAD_STATES: Final[frozenset[str]] = frozenset({"dead", "stale", "garbage"})
"""Sessions a sweep reclaims: the owner is provably gone (or the deletion was interrupted)."""


def _disk(path: Path, setting: str) -> dict[str, Any]:
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    usage = shutil.disk_usage(probe)
    return {"setting": setting, "free_bytes": usage.free, "total_bytes": usage.total}


def _problems(services: Services, tools: dict[str, str | None], temp_disk: dict[str, Any]) -> list[str]:
    """Why the service cannot do its work now, in words an operator acts on; empty when it can."""
    problems = [
        f"{name} is not installed: uploads are refused until it is (see LANGFLIX_FFMPEG_BINARY, "
        "LANGFLIX_FFPROBE_BINARY, LANGFLIX_ESPEAK_BINARY)"
        for name in REQUIRED_TOOLS
        if not tools.get(name)
    ]
    floor = services.settings.min_free_bytes
    if temp_disk["free_bytes"] <= floor:
        problems.append(
            f"the temp disk has {temp_disk['free_bytes']} bytes free, not above LANGFLIX_MIN_FREE_BYTES "
            f"({floor} bytes): every upload is refused with 507 until space is freed or the floor lowered"
        )
    return problems


def service_report(services: Services) -> dict[str, Any]:
    """Everything ``/health`` shows (and ``/metrics`` and the temp panel); plain data, and no server path."""
    manager = services.manager
    tools = services.tool_versions()
    areas = list_sessions(manager.base_dir, manager.prefix)
    if services.uploads.base_dir != manager.base_dir:  # scaled out: in the shared dir
        areas += list_sessions(services.uploads.base_dir, manager.prefix)
    sessions = [s for s in areas if s.area != "upload"]
    uploads = [s for s in areas if s.area == "upload"]
    stats = dataclasses.asdict(manager.stats())
    sweep = services.sweep
    runner = services.runner.stats()
    dirs = {"temp": manager.base_dir, "output": services.settings.output_dir, "data": services.settings.data_dir}
    disk = {area: _disk(path, DISK_SETTINGS[area]) for area, path in dirs.items()}
    problems = _problems(services, tools, disk["temp"])
    live = sum(1 for s in sessions if s.state in LIVE_STATES)
    dead = [s for s in sessions if s.state in DEAD_STATES]
    return {
        "status": "degraded" if problems else "ok",
        "problems": problems,
        "uptime_seconds": round(time.time() - services.started_at, 3),
        "tools": tools,
        "disk": disk,
        "temp": {
            "live_sessions": live,
            "dead_sessions": len(dead),
            "dead_bytes": sum(s.bytes for s in dead),
            "other_sessions": len(sessions) - live - len(dead),
            **stats,
            "budget_bytes": services.settings.temp_max_bytes,
            "min_free_bytes": services.settings.min_free_bytes,
            "reclaimed_at_start": None
            if sweep is None
            else {
                "sessions": sweep.removed,
                "bytes": sweep.bytes_freed,
                # Errors name paths: their count here, their text in the server log.
                "errors": len(sweep.errors),
                "skipped_live": sweep.skipped_live,
            },
            "reclaimed_since_start": services.sweeps.snapshot(),
            "uploads": {
                "resumable": sum(1 for u in uploads if u.state != "expired"),
                "expired": sum(1 for u in uploads if u.state == "expired"),
                "bytes": sum(u.bytes for u in uploads),
            },
        },
        "jobs": services.store.counts(),
        "queue": dataclasses.asdict(runner),
        "interrupted_at_start": len(services.interrupted),
    }


def public_health(report: dict[str, Any]) -> dict[str, Any]:
    """What ``/health`` tells a caller without the token: up or degraded, and nothing about the machine."""
    return {"status": report["status"]}


def sweep_now(services: Services) -> SweepReport:
    """Reclaim the temp sessions of dead processes under the server's base dir, and count what came back.

    Live sessions (this server's among them: it holds their lock) are never
    touched; blocking, so call it from a worker thread.
    """
    report = sweep_orphans(services.manager.base_dir, services.manager.prefix)
    services.sweeps.add(report)
    logger.info("sweep on request: %s", report.summary())
    for error in report.errors:
        logger.warning("sweep: %s", error)
    if services.uploads.base_dir != services.manager.base_dir:
        # Scaled out, the uploads are in the shared dir: their expiry is judged
        # there (leased staging beside them is the workers' and `temp sweep --shared`'s).
        uploads = sweep_orphans(services.uploads.base_dir, services.manager.prefix)
        services.sweeps.add(uploads)
        logger.info("sweep of the shared uploads: %s", uploads.summary())
    return report
