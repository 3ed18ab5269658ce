"""``/health`` (JSON) and ``/metrics`` (Prometheus text): the same figures twice.

Tools present, free disk, temp-file stats of the server's manager (live
sessions and bytes, what the start-up sweep reclaimed), job counts and the
queue. Metrics are computed at scrape time by a collector on a registry owned
by the app (not prometheus-client's global one, which two apps in one test
process would fight over).
"""

from __future__ import annotations

import dataclasses
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from langflix.api.deps import Services, ServicesDep
from langflix.api.tools import REQUIRED_TOOLS
from langflix.temp import list_sessions

__all__ = ["ServiceCollector", "health_report", "make_registry", "router"]

router = APIRouter(tags=["health"])


_DISK_SETTINGS: Final[dict[str, str]] = {
    "temp": "LANGFLIX_TEMP_DIR",
    "output": "LANGFLIX_OUTPUT_DIR",
    "data": "LANGFLIX_DATA_DIR",
}
"""Each disk area by the setting that places it: clients never see the server's paths (they are in its log)."""


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


def health_report(services: Services) -> dict[str, Any]:
    """Everything ``/health`` shows; plain data, and no server path (the setting names them)."""
    manager = services.manager
    tools = services.tool_versions()
    sessions = list_sessions(manager.base_dir, manager.prefix)
    stats = dataclasses.asdict(manager.stats())
    sweep = services.sweep
    runner = services.runner.stats()
    dirs = {"temp": manager.base_dir, "output": services.settings.output_dir, "data": services.settings.data_dir}
    disk = {area: _disk(path, _DISK_SETTINGS[area]) for area, path in dirs.items()}
    problems = _problems(services, tools, disk["temp"])
    return {
        "status": "degraded" if problems else "ok",
        "problems": problems,
        "uptime_seconds": round(time.time() - services.started_at, 3),
        "tools": tools,
        "disk": disk,
        "temp": {
            "live_sessions": sum(1 for s in sessions if getattr(s, "state", "live") == "live"),
            **stats,
            "reclaimed_at_start": None
            if sweep is None
            else {
                "sessions": sweep.removed,
                "bytes": sweep.bytes_freed,
                # Errors name paths: their count here, their text in the server log.
                "errors": len(sweep.errors),
                "skipped_live": sweep.skipped_live,
            },
        },
        "jobs": services.store.counts(),
        "queue": dataclasses.asdict(runner),
        "interrupted_at_start": len(services.interrupted),
    }


@router.get("/health", summary="Tools, disk, temp files, jobs")
def health(services: ServicesDep) -> JSONResponse:
    report = health_report(services)
    return JSONResponse(report, status_code=200 if report["status"] == "ok" else 503)


class ServiceCollector(Collector):
    """Prometheus view of :func:`health_report`, computed at each scrape."""

    def __init__(self, services: Services) -> None:
        self._services = services

    def collect(self) -> Iterator[Metric]:
        report = health_report(self._services)
        temp = report["temp"]

        def gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
            return GaugeMetricFamily(f"langflix_{name}", doc, value=value)

        def counter(name: str, doc: str, value: float) -> CounterMetricFamily:
            return CounterMetricFamily(f"langflix_{name}", doc, value=value)

        yield gauge("temp_live_sessions", "Live temp sessions under the base dir", temp["live_sessions"])
        yield gauge("temp_live_files", "Temp files tracked by the server", temp["live_files"])
        yield gauge("temp_live_dirs", "Temp dirs tracked by the server", temp["live_dirs"])
        yield gauge("temp_live_scopes", "Open temp scopes (jobs)", temp["live_scopes"])
        yield gauge("temp_live_bytes", "Bytes in the server's temp session", temp["live_bytes"])
        yield gauge("temp_peak_bytes", "Peak bytes in the server's temp session", temp["peak_bytes"])
        yield gauge("temp_reserved_bytes", "Disk bytes reserved ahead of work", temp["reserved_bytes"])
        yield counter("temp_created", "Temp paths created", temp["created"])
        yield counter("temp_cleaned", "Temp paths cleaned", temp["cleaned"])
        yield counter("temp_failures", "Temp cleanup failures", temp["failures"])
        reclaimed = temp["reclaimed_at_start"] or {"sessions": 0, "bytes": 0}
        yield gauge("temp_reclaimed_sessions_at_start", "Dead sessions reclaimed at start", reclaimed["sessions"])
        yield gauge("temp_reclaimed_bytes_at_start", "Bytes reclaimed from dead sessions at start", reclaimed["bytes"])

        jobs = GaugeMetricFamily("langflix_jobs", "Jobs in the store by status", labels=["status"])
        for status, count in sorted(report["jobs"].items()):
            jobs.add_metric([status], count)
        yield jobs
        queue = report["queue"]
        yield gauge("queue_depth", "Jobs waiting for a worker", queue["queued"])
        yield gauge("jobs_running", "Jobs running now", queue["running"])
        yield gauge("uploads_in_flight", "Queue places held by submissions still uploading", queue["reserved"])
        yield gauge("workers", "Worker threads", queue["workers"])
        yield gauge("queue_capacity", "Maximum queued jobs", queue["max_queue"])
        disk = GaugeMetricFamily("langflix_disk_free_bytes", "Free bytes per area", labels=["area"])
        for area, info in sorted(report["disk"].items()):
            disk.add_metric([area], info["free_bytes"])
        yield disk
        tools = GaugeMetricFamily("langflix_tool_available", "1 when the tool is installed", labels=["tool"])
        for tool, version in sorted(report["tools"].items()):
            tools.add_metric([tool], 1.0 if version else 0.0)
        yield tools


def make_registry(services: Services) -> CollectorRegistry:
    """A registry of its own for one app."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ServiceCollector(services))
    return registry


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
def metrics(services: ServicesDep) -> Response:
    return Response(generate_latest(make_registry(services)), media_type=CONTENT_TYPE_LATEST)
