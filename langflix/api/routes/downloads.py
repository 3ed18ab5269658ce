"""A finished job's outputs: where each published file is, and the whole episode as one streamed zip.

:func:`published_path` is the one check of "may this name be served": only
names the job recorded, resolved inside the job's episode dir inside
``LANGFLIX_OUTPUT_DIR`` (a symlink swapped in afterwards points nowhere we serve).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from langflix.api.deps import ServicesDep
from langflix.api.disposition import content_disposition, download_name
from langflix.api.store import JobNotFoundError, JobRecord, JobStateError
from langflix.api.zipstream import zip_stream

__all__ = ["completed_record", "published_path", "router"]

router = APIRouter(prefix="/jobs", tags=["jobs"])


def completed_record(record: JobRecord) -> JobRecord:
    """``record`` when its outputs can be served; JobStateError (409) while it is not completed."""
    if record.status != "completed" or record.output_dir is None:
        raise JobStateError(f"job {record.id} is {record.status}; outputs exist only for completed jobs")
    return record


def published_path(record: JobRecord, name: str, output_root: Path) -> Path:
    """The file of output ``name`` of a completed job; JobNotFoundError when it is not one, or gone.

    Only names the job recorded are served: "../" or an absolute path can never
    match one, so there is no traversal to get wrong. The resolve() check is
    the belt to those braces (a symlink swapped in after the job finished).
    """
    completed_record(record)
    if name not in {o.name for o in record.outputs}:
        raise JobNotFoundError(f"job {record.id} has no output named {name!r}; see GET /api/v1/jobs/{record.id}")
    assert record.output_dir is not None
    root = Path(record.output_dir).resolve()
    path = (root / name).resolve()
    if not path.is_relative_to(root) or not root.is_relative_to(output_root.resolve()) or not path.is_file():
        raise JobNotFoundError(f"output {name!r} of job {record.id} is gone from the disk")
    return path


@router.get(
    "/{job_id}/archive",
    summary="Every output of a completed job as one zip, streamed (videos stored, text deflated)",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"application/zip": {}}, "description": "the zip, as it is written"},
        404: {"description": "no such job, or an output is gone"},
        409: {"description": "job not completed"},
    },
)
def download_archive(job_id: str, services: ServicesDep) -> StreamingResponse:
    record = completed_record(services.store.get(job_id))
    # Every file is checked before the first byte goes out: a missing one is a
    # clean 404, never a zip cut short.
    root = services.settings.output_dir
    files = [(o.name, published_path(record, o.name, root)) for o in record.outputs]
    episode = download_name(Path(record.output_dir or job_id).name, default=f"langflix-{job_id}")
    return StreamingResponse(
        zip_stream((f"{episode}/{name}", path) for name, path in files),
        media_type="application/zip",
        headers={"Content-Disposition": content_disposition(f"{episode}.zip")},
    )
