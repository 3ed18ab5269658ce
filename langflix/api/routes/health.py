"""``/health`` (JSON) and ``/metrics`` (Prometheus text): the figures of :func:`~langflix.api.report.service_report`.

Tools present, free disk, temp-file stats of the server's manager (live and
dead sessions, bytes, what was reclaimed), job counts and the queue.
``/health`` answers anyone (a load balancer has no token) but tells a caller
without the token only "ok" or "degraded"; ``/metrics`` needs the token.
Metrics are computed at scrape time by a collector on a registry owned by the
app (not prometheus-client's global one, which two apps in one test process
would fight over).
"""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from langflix.api.access import AuthenticationError
from langflix.api.deps import Services, ServicesDep
from langflix.api.guard import authorize_api
from langflix.api.report import public_health, service_report

__all__ = ["ServiceCollector", "make_registry", "metrics_access", "router"]

router = APIRouter(tags=["health"])


def _may_read_all(request: Request, services: Services) -> bool:
    try:
        authorize_api(request, services.access)
    except AuthenticationError:
        return False
    return True


@router.get("/health", summary="Tools, disk, temp files, jobs (without the token: only ok or degraded)")
def health(request: Request, services: ServicesDep) -> JSONResponse:
    report = service_report(services)
    status = 200 if report["status"] == "ok" else 503
    # A load balancer needs the status, not the machine: paths never appear, and
    # versions, disk and jobs only to a caller with the token.
    body = report if _may_read_all(request, services) else public_health(report)
    return JSONResponse(body, status_code=status)


def metrics_access(request: Request, services: ServicesDep) -> None:
    """``/metrics`` needs the token like the API, unless ``LANGFLIX_METRICS_PUBLIC`` opens it."""
    if not services.settings.metrics_public:
        authorize_api(request, services.access)


class ServiceCollector(Collector):
    """Prometheus view of :func:`~langflix.api.report.service_report`, computed at each scrape."""

    def __init__(self, services: Services) -> None:
        self._services = services

    def collect(self) -> Iterator[Metric]:
        report = service_report(self._services)
        temp = report["temp"]

        def gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
            return GaugeMetricFamily(f"langflix_{name}", doc, value=value)

        def counter(name: str, doc: str, value: float) -> CounterMetricFamily:
            return CounterMetricFamily(f"langflix_{name}", doc, value=value)

        yield gauge("temp_live_sessions", "Live temp sessions under the base dir", temp["live_sessions"])
        yield gauge("temp_dead_sessions", "Sessions of dead processes not yet reclaimed", temp["dead_sessions"])
        yield gauge("temp_dead_bytes", "Bytes in sessions of dead processes not yet reclaimed", temp["dead_bytes"])
        if temp["budget_bytes"] is not None:
            yield gauge("temp_budget_bytes", "The temp byte budget (LANGFLIX_TEMP_MAX_BYTES)", temp["budget_bytes"])
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
        since = temp["reclaimed_since_start"]
        yield counter("temp_reclaimed_sessions", "Dead sessions reclaimed since start", since["sessions"])
        yield counter("temp_reclaimed_bytes", "Bytes reclaimed from dead sessions since start", since["bytes"])

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


@router.get(
    "/metrics",
    summary="Prometheus metrics (the token, unless LANGFLIX_METRICS_PUBLIC)",
    response_class=Response,
    dependencies=[Depends(metrics_access)],
)
def metrics(services: ServicesDep) -> Response:
    return Response(generate_latest(make_registry(services)), media_type=CONTENT_TYPE_LATEST)
