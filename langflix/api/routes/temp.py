"""``/temp``: reclaim what dead processes left in the temp dir (the dashboard's sweep button does the same)."""

from __future__ import annotations

from typing import Any

import anyio
from fastapi import APIRouter

from langflix.api.deps import ServicesDep
from langflix.api.report import sweep_now

__all__ = ["router"]

router = APIRouter(prefix="/temp", tags=["temp"])


@router.post("/sweep", summary="Reclaim the temp sessions of dead processes (live ones are never touched)")
async def sweep(services: ServicesDep) -> dict[str, Any]:
    report = await anyio.to_thread.run_sync(sweep_now, services)
    return {
        "sessions": report.removed,
        "bytes": report.bytes_freed,
        "skipped_live": report.skipped_live,
        # Error texts name paths: their count here, their text in the server log.
        "errors": len(report.errors),
        "reclaimed_since_start": services.sweeps.snapshot(),
    }
