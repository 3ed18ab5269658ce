"""``/jobs``: submit an episode, follow it, download its outputs, cancel or delete it.

Thin on purpose: uploads are parsed by :mod:`langflix.api.uploads`, state is in
:mod:`langflix.api.store`, work happens in :mod:`langflix.api.runner`, and
errors become status codes in :mod:`langflix.api.errors`.
"""

from __future__ import annotations

import contextlib
import logging
import mimetypes
import shutil
import uuid
from pathlib import Path
from typing import Any, Final, Literal

import anyio
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, Field
from starlette.requests import ClientDisconnect

from langflix.api.deps import Services, ServicesDep, StoreDep
from langflix.api.runner import QueuedJob
from langflix.api.store import JobNotFoundError, JobRecord, JobStateError
from langflix.api.uploads import (
    FORM_FIELDS,
    InvalidFieldError,
    JobUpload,
    probe_video,
    receive_job_upload,
)
from langflix.core.subtitles import load_subtitles
from langflix.errors import ConfigError, QueueFullError, SubtitleError
from langflix.pipeline import PipelineOptions, sanitize_episode_name

__all__ = ["JobAccepted", "JobView", "OutputView", "router"]

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/jobs", tags=["jobs"])


class OutputView(BaseModel):
    name: str
    size: int
    url: str


class JobView(BaseModel):
    """A job as the API shows it."""

    id: str
    status: Literal["queued", "running", "completed", "failed", "cancelled"]
    progress: float = Field(description="percent of the whole job done, 0..100")
    step: str | None = Field(description="current step (subtitles, cut, speech, ...)")
    message: str | None
    error: str | None
    options: dict[str, Any]
    outputs: list[OutputView]
    url: str
    created_at: float
    updated_at: float
    started_at: float | None
    finished_at: float | None


class JobAccepted(BaseModel):
    job_id: str
    url: str


class JobList(BaseModel):
    jobs: list[JobView]


def _view(request: Request, record: JobRecord) -> JobView:
    return JobView(
        id=record.id,
        status=record.status,
        progress=record.progress,
        step=record.step,
        message=record.message,
        error=record.error,
        options=dict(record.options),
        outputs=[
            OutputView(
                name=o.name,
                size=o.size,
                url=str(request.url_for("download_output", job_id=record.id, name=o.name)),
            )
            for o in record.outputs
        ],
        url=str(request.url_for("get_job", job_id=record.id)),
        created_at=record.created_at,
        updated_at=record.updated_at,
        started_at=record.started_at,
        finished_at=record.finished_at,
    )


def _form_properties() -> dict[str, Any]:
    """The schema of each option field, from PipelineOptions: one declaration of ranges and choices."""
    schema = PipelineOptions.model_json_schema()["properties"]
    properties: dict[str, Any] = {}
    for name in FORM_FIELDS:
        prop = {key: value for key, value in schema[name].items() if key != "title"}
        if "anyOf" in prop:  # an optional field: the form sends its value or nothing
            prop |= next(branch for branch in prop.pop("anyOf") if branch.get("type") != "null")
        if prop.get("default") is None:
            prop.pop("default", None)
        properties[name] = prop
    return properties


_UPLOAD_SCHEMA: Final[dict[str, Any]] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["video", "subtitle"],
                    "properties": {
                        "video": {"type": "string", "format": "binary", "description": "the episode's video"},
                        "subtitle": {
                            "type": "string",
                            "format": "binary",
                            "description": "subtitles: .srt .vtt .ass .ssa .smi .sami",
                        },
                        "translation": {
                            "type": "string",
                            "format": "binary",
                            "description": "optional: the same lines in the learner's language (e.g. the Korean "
                            "SRT), aligned by time; used where the subtitles are not bilingual, before the LLM",
                        },
                        **_form_properties(),
                    },
                }
            }
        },
    }
}


def _build_options(upload: JobUpload, services: Services) -> PipelineOptions:
    """The job's options from the form fields: one validation, a 422 naming the field."""
    values: dict[str, Any] = {name: value.strip() for name, value in upload.fields.items()}
    values.setdefault("tts", services.settings.tts)
    if not values.get("episode_name"):
        # The upload's temp name is random: name the episode after the client's file.
        values["episode_name"] = sanitize_episode_name(Path(upload.video_filename).stem) or "episode"
    options = PipelineOptions(**values, output_format=services.output_format, short_format=services.short_format)
    try:
        services.settings.speech(options.tts)  # a provider without its API key fails now, not mid-job
    except ConfigError as exc:
        raise InvalidFieldError("tts", str(exc)) from exc
    return options


async def _check_subtitles(upload: JobUpload) -> None:
    files = [("subtitle", upload.subtitles, upload.subtitle_filename)]
    if upload.translation is not None:
        files.append(("translation", upload.translation, upload.translation_filename or "translation"))
    for what, path, filename in files:
        try:
            subs = await anyio.to_thread.run_sync(load_subtitles, path)
        except SubtitleError as exc:
            # Name the client's file, not the server's temp path, in what the client reads.
            reason = str(exc).replace(str(path), filename)
            raise SubtitleError(f"{what} {filename!r} cannot be used: {reason}") from exc
        if not any(track.cues for track in subs.tracks):
            raise SubtitleError(f"{what} {filename!r} holds no cue; upload the episode's subtitles")


@router.post(
    "",
    status_code=202,
    response_model=JobAccepted,
    openapi_extra=_UPLOAD_SCHEMA,
    summary="Submit an episode (multipart: video, subtitle, options)",
    responses={
        413: {"description": "over LANGFLIX_MAX_UPLOAD_BYTES"},
        415: {"description": "unsupported subtitle format or unreadable video"},
        422: {"description": "bad field"},
        503: {"description": "queue full or server shutting down"},
        507: {"description": "no disk space / budget for the upload"},
    },
)
async def create_job(request: Request, services: ServicesDep) -> Response:
    runner = services.runner
    # Refuse before reading a byte: a full queue must not cost a 2 GiB upload.
    if not runner.has_room():
        raise QueueFullError("the job queue is full or the server is shutting down; try again later")
    job_id = uuid.uuid4().hex
    resources = contextlib.ExitStack()
    # A short name: espeak-ng silently writes nothing to a path over ~200 chars,
    # and the pipeline nests its own scope inside this one.
    scope = resources.enter_context(services.manager.scope(f"job-{job_id[:12]}"))
    handed_over = False
    try:
        length = request.headers.get("content-length")
        upload = await receive_job_upload(
            request.stream(),
            content_type=request.headers.get("content-type"),
            content_length=int(length) if length and length.isdigit() else None,
            area=scope,
            max_upload_bytes=services.settings.max_upload_bytes,
        )
        options = _build_options(upload, services)
        await _check_subtitles(upload)
        await probe_video(upload, services.tools)
        services.store.create(job_id, options.stored())
        try:
            runner.submit(
                QueuedJob(
                    job_id, upload.video, upload.subtitles, options, scope=scope, resources=resources,
                    translation=upload.translation,
                )  # fmt: skip
            )
        except BaseException:
            services.store.discard(job_id)
            raise
        handed_over = True
    except ClientDisconnect:
        # Not an error of ours: log one line instead of a traceback. Nobody
        # reads the answer; the finally below removes the partial upload.
        logger.info("client went away while uploading job %s; dropping its partial upload", job_id)
        return Response(status_code=499)
    finally:
        if not handed_over:
            # Whatever stopped us (a bad field, a limit, a client that went away:
            # Starlette's ClientDisconnect or a cancelled task) the job's scope
            # and the partial upload in it go now. Shielded: a cancelled request
            # must still finish the removal, in a thread to spare the loop.
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(resources.close)
    url = str(request.url_for("get_job", job_id=job_id))
    return JSONResponse({"job_id": job_id, "url": url}, status_code=202, headers={"Location": url})


@router.get("", response_model=JobList, summary="List jobs, newest first")
def list_jobs(
    request: Request,
    store: StoreDep,
    status: Literal["queued", "running", "completed", "failed", "cancelled"] | None = None,
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0),
) -> JobList:
    return JobList(jobs=[_view(request, r) for r in store.list_jobs(status=status, limit=limit, offset=offset)])


@router.get("/{job_id}", response_model=JobView, summary="A job's status, progress and outputs")
def get_job(request: Request, job_id: str, store: StoreDep) -> JobView:
    return _view(request, store.get(job_id))


@router.get(
    "/{job_id}/outputs/{name:path}",
    summary="Download an output (range requests supported)",
    response_class=FileResponse,
    responses={404: {"description": "no such job or output"}, 409: {"description": "job not completed"}},
)
def download_output(job_id: str, name: str, store: StoreDep, services: ServicesDep) -> FileResponse:
    record = store.get(job_id)
    if record.status != "completed" or record.output_dir is None:
        raise JobStateError(f"job {job_id} is {record.status}; outputs exist only for completed jobs")
    # Only names the job recorded are served: "../" or an absolute path can never
    # match one, so there is no traversal to get wrong. The resolve() check is the
    # belt to those braces (a symlink swapped in after the job finished).
    if name not in {o.name for o in record.outputs}:
        raise JobNotFoundError(f"job {job_id} has no output named {name!r}; see GET /api/v1/jobs/{job_id}")
    root = Path(record.output_dir).resolve()
    path = (root / name).resolve()
    output_root = services.settings.output_dir.resolve()
    if not path.is_relative_to(root) or not root.is_relative_to(output_root) or not path.is_file():
        raise JobNotFoundError(f"output {name!r} of job {job_id} is gone from the disk")
    media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return FileResponse(path, media_type=media_type, filename=Path(name).name)


@router.delete(
    "/{job_id}",
    summary="Cancel a queued or running job, or delete a finished job and its outputs",
    responses={
        200: {"description": "a queued job was cancelled"},
        202: {"description": "a running job was asked to stop; poll it until it reads cancelled"},
        204: {"description": "a finished job and its outputs were deleted"},
    },
)
async def delete_job(request: Request, job_id: str, services: ServicesDep) -> Response:
    store, runner = services.store, services.runner
    record = store.get(job_id)
    if not record.finished:
        outcome = await anyio.to_thread.run_sync(runner.cancel, job_id)
        if outcome == "cancelling":
            view = _view(request, store.get(job_id))
            return JSONResponse(view.model_dump() | {"cancelling": True}, status_code=202)
        if outcome == "not-active":
            # Not in the runner: it finished meanwhile, or was never handed over
            # (the instant between store.create and submit). Mark it; no-op if final.
            store.finish(job_id, "cancelled", error="cancelled on request")
        record = store.get(job_id)
        if record.status == "cancelled":
            return JSONResponse(_view(request, record).model_dump(), status_code=200)
    # Finished: remove the outputs this job published, then forget the job.
    job_dir = services.settings.output_dir / job_id
    await anyio.to_thread.run_sync(lambda: shutil.rmtree(job_dir, ignore_errors=True))
    store.delete(job_id)
    return Response(status_code=204)
