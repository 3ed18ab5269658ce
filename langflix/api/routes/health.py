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
import threading
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
from langflix.temp import list_sessions

__all__ = ["ServiceCollector", "health_report", "make_registry", "router"]

router = APIRouter(tags=["health"])

_TOOLS_TTL: Final[float] = 60.0
_REQUIRED_TOOLS: Final[tuple[str, ...]] = ("ffmpeg", "ffprobe", "espeak-ng")
_tools_lock = threading.Lock()
_tools_cache: tuple[float, dict[str, str | None]] | None = None


def _tool_versions() -> dict[str, str | None]:
    """Tool versions, cached for a minute: each probe spawns three processes."""
    global _tools_cache
    from langflix.core.ffmpeg import tool_versions

    with _tools_lock:
        now = time.monotonic()
        if _tools_cache is None or now - _tools_cache[0] > _TOOLS_TTL:
            _tools_cache = (now, tool_versions())
        return dict(_tools_cache[1])


def _disk(path: Path) -> dict[str, Any]:
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    usage = shutil.disk_usage(probe)
    return {"path": str(path), "free_bytes": usage.free, "total_bytes": usage.total}


def health_report(services: Services) -> dict[str, Any]:
    """Everything ``/health`` shows; plain data."""
    manager = services.manager
    tools = _tool_versions()
    sessions = list_sessions(manager.base_dir, manager.prefix)
    stats = dataclasses.asdict(manager.stats())
    sweep = services.sweep
    runner = services.runner.stats()
    ok = all(tools.get(name) for name in _REQUIRED_TOOLS)
    return {
        "status": "ok" if ok else "degraded",
        "uptime_seconds": round(time.time() - services.started_at, 3),
        "tools": tools,
        "disk": {
            "temp": _disk(manager.base_dir),
            "output": _disk(services.settings.output_dir),
            "data": _disk(services.settings.data_dir),
        },
        "temp": {
            "base_dir": str(manager.base_dir),
            "session_dir": str(manager.path),
            "live_sessions": sum(1 for s in sessions if getattr(s, "state", "live") == "live"),
            **stats,
            "reclaimed_at_start": None
            if sweep is None
            else {
                "sessions": sweep.removed,
                "bytes": sweep.bytes_freed,
                "skipped_live": sweep.skipped_live,
                "errors": list(sweep.errors),
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
