"""``/jobs``: submit an episode, follow it, download its outputs, cancel or delete it.

Thin on purpose: uploads are parsed by :mod:`langflix.api.uploads`, state is in
:mod:`langflix.api.store`, work happens in :mod:`langflix.api.runner`, and
errors become status codes in :mod:`langflix.api.errors`.
"""

from __future__ import annotations

import contextlib
import logging
import mimetypes
import re
import shutil
import uuid
from pathlib import Path
from typing import Any, Final, Literal
from urllib.parse import quote

import anyio
from fastapi import APIRouter, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, Field
from starlette.requests import ClientDisconnect

from langflix.api.deps import Services, ServicesDep, StoreDep
from langflix.api.disposition import content_disposition
from langflix.api.limits import charged_body, paced_body
from langflix.api.redact import Redactor
from langflix.api.routes.downloads import published_path
from langflix.api.runner import QueuedJob, QueueSlot
from langflix.api.store import MAX_OFFSET, InvalidCursorError, JobRecord
from langflix.api.upload_jobs import MAX_JSON_BYTES, claim_uploads, parse_upload_request
from langflix.api.uploads import (
    FORM_FIELDS,
    InvalidFieldError,
    JobUpload,
    MalformedUploadError,
    body_ceiling,
    check_declared_length,
    probe_subtitles,
    probe_video,
    receive_job_upload,
)
from langflix.core.subtitles import load_subtitles
from langflix.errors import ConfigError, SubtitleError
from langflix.pipeline import PipelineOptions, sanitize_episode_name
from langflix.temp import TempArea

__all__ = ["JobAccepted", "JobList", "JobView", "OutputView", "job_json", "router"]

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/jobs", tags=["jobs"])

_ASCII_INTEGER: Final[re.Pattern[str]] = re.compile(r"[+-]?[0-9]+")


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
    next_cursor: str | None = Field(
        default=None, description="pass as ?cursor= for the next page; null after the last page"
    )


def _base_url(request: Request, services: Services) -> str:
    """Where URLs given to clients start: LANGFLIX_PUBLIC_URL, else nothing (relative URLs).

    Never the request's Host header: a client (or a cache in front of us) must
    not be able to make the server hand out links to a host of its choosing.
    """
    return services.settings.public_url or str(request.scope.get("root_path", "")).rstrip("/")


def _url(request: Request, services: Services, name: str, **params: str) -> str:
    return _base_url(request, services) + str(request.app.url_path_for(name, **params))


def job_json(record: JobRecord, jobs_url: str) -> dict[str, Any]:
    """A job as the API shows it (the shape of :class:`JobView`), as plain JSON values.

    Plain dicts, not models: a listing is one store query and one ``json.dumps``;
    building and re-validating a model per job and per output was what made
    ``GET /jobs`` cost ~0.25 ms of CPU per job. ``jobs_url`` is the URL of ``/jobs``.
    """
    url = f"{jobs_url}/{quote(record.id, safe='')}"
    return {
        "id": record.id,
        "status": record.status,
        "progress": record.progress,
        "step": record.step,
        "message": record.message,
        "error": record.error,
        "options": dict(record.options),
        "outputs": [{"name": o.name, "size": o.size, "url": f"{url}/outputs/{quote(o.name)}"} for o in record.outputs],
        "url": url,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
        "started_at": record.started_at,
        "finished_at": record.finished_at,
    }


def _view(request: Request, services: Services, record: JobRecord) -> dict[str, Any]:
    return job_json(record, _url(request, services, "list_jobs"))


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


_FORM_PROPERTIES: Final[dict[str, Any]] = _form_properties()
_INTEGER_FIELDS: Final[frozenset[str]] = frozenset(
    name for name, prop in _FORM_PROPERTIES.items() if prop.get("type") == "integer"
)

_UPLOAD_SCHEMA: Final[dict[str, Any]] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["video", "subtitle"],
                    "additionalProperties": False,
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
                        **_FORM_PROPERTIES,
                    },
                }
            }
        },
    }
}


def _build_options(upload: JobUpload, services: Services) -> PipelineOptions:
    """The job's options from the form fields: one validation, a 422 naming the field."""
    values: dict[str, Any] = {name: value.strip() for name, value in upload.fields.items()}
    for name in _INTEGER_FIELDS & values.keys():
        # int() takes "٣", "1_0" and " 1 ": a form field is a number in ASCII digits, nothing else.
        if not _ASCII_INTEGER.fullmatch(values[name]):
            raise InvalidFieldError(name, f"must be an integer written with the digits 0-9, got {values[name]!r}")
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
        files.append(("translation", upload.translation, upload.client_names()[2]))
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
    summary="Submit an episode (multipart: video, subtitle, optional translation, options)",
    responses={
        400: {"description": "not a well-formed multipart body"},
        408: {"description": "the body stalled or came slower than LANGFLIX_UPLOAD_MIN_RATE"},
        413: {"description": "over LANGFLIX_MAX_UPLOAD_BYTES"},
        415: {"description": "unsupported subtitle format, unreadable video, or a playlist (refused)"},
        422: {"description": "bad field"},
        429: {"description": "this client already holds its share of uploads (LANGFLIX_UPLOAD_CLIENT_MAX_*)"},
        503: {"description": "queue full (LANGFLIX_MAX_QUEUE, uploads count from their first byte) or shutting down"},
        507: {"description": "no disk space / budget for the upload"},
    },
)
async def create_job(request: Request, services: ServicesDep) -> Response:
    job_id = uuid.uuid4().hex
    if request.headers.get("content-type", "").split(";")[0].strip().lower() == "application/json":
        return await _create_from_uploads(request, services, job_id)
    declared = _content_length(request)
    client = request.client.host if request.client else "unknown"
    # Held only while the body arrives: the queue place (until it becomes the
    # job's) and the client's share of its caps.
    holds = contextlib.ExitStack()
    # The job's scope: handed over to the runner with the job.
    resources = contextlib.ExitStack()
    handed_over = False
    try:
        check_declared_length(declared, services.settings.max_upload_bytes)
        # Refuse before reading a byte: a full queue must not cost a 2 GiB upload.
        # The place is held from here, so a burst of uploads cannot all pass this
        # check at once and all be written to disk before the queue is found full.
        slot = services.runner.reserve()
        holds.callback(slot.release)
        hold = holds.enter_context(services.clients.hold(client, declared or 0))
        # This server's scope embedded; a leased area of the shared dir scaled out.
        scope = resources.enter_context(services.runner.staging(job_id))
        upload = await receive_job_upload(
            charged_body(
                paced_body(request.stream(), services.pace), hold, body_ceiling(services.settings.max_upload_bytes)
            ),
            content_type=request.headers.get("content-type"),
            content_length=declared,
            area=scope,
            max_upload_bytes=services.settings.max_upload_bytes,
        )
        await _accept(job_id, upload, services, scope, resources, slot)
        handed_over = True
    except ClientDisconnect:
        # Not an error of ours: log one line instead of a traceback. Nobody
        # reads the answer; the finally below removes the partial upload.
        logger.info("client went away while uploading job %s; dropping its partial upload", job_id)
        return Response(status_code=499)
    finally:
        # Whatever stopped us (a bad field, a limit, a deadline, a client that
        # went away: Starlette's ClientDisconnect or a cancelled task) the job's
        # scope and the partial upload in it go first, then the queue place and
        # the client's share. Shielded: a cancelled request must still finish
        # the removal, in a thread to spare the loop.
        with anyio.CancelScope(shield=True):
            try:
                if not handed_over:
                    await anyio.to_thread.run_sync(resources.close)
            finally:
                holds.close()
    return _accepted(request, services, job_id)


async def _accept(
    job_id: str,
    upload: JobUpload,
    services: Services,
    scope: TempArea,
    resources: contextlib.ExitStack,
    slot: QueueSlot,
) -> None:
    """Validate and probe the inputs, record the job and hand it (with its scope) to the runner."""
    options = _build_options(upload, services)
    await probe_subtitles(upload, services.tools)
    await _check_subtitles(upload)
    await probe_video(upload, services.tools)
    services.store.create(job_id, options.stored())
    job = QueuedJob(
        job_id, upload.video, upload.subtitles, options, scope=scope, resources=resources,
        redact=_client_redactor(services, upload), source_names=upload.client_names(),
        translation=upload.translation,
    )  # fmt: skip
    try:
        services.runner.submit(job, slot)
    except BaseException:
        services.store.discard(job_id)
        raise


async def _json_body(request: Request) -> bytes:
    declared = _content_length(request)
    if declared is not None and declared > MAX_JSON_BYTES:
        raise MalformedUploadError(f"a job's JSON is at most {MAX_JSON_BYTES} bytes; this one declares {declared}")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_JSON_BYTES:
            raise MalformedUploadError(f"a job's JSON is at most {MAX_JSON_BYTES} bytes")
    return bytes(body)


async def _create_from_uploads(request: Request, services: Services, job_id: str) -> Response:
    """``POST /jobs`` naming completed resumable uploads: their bytes are renamed into the job's scope."""
    wanted = parse_upload_request(await _json_body(request))
    slot = services.runner.reserve()
    resources = contextlib.ExitStack()
    handed_over = False
    try:
        # This server's scope embedded; a leased area of the shared dir scaled out (same filesystem needed).
        scope = resources.enter_context(services.runner.staging(job_id))
        # The claims close first: a refused job's bytes go back to their uploads before the scope goes.
        with contextlib.ExitStack() as claims:
            upload, held = await anyio.to_thread.run_sync(
                lambda: claim_uploads(claims, services.uploads, wanted, scope)
            )
            await _accept(job_id, upload, services, scope, resources, slot)
            handed_over = True
            for claim in held:
                claim.consume()
    finally:
        with anyio.CancelScope(shield=True):
            try:
                if not handed_over:
                    await anyio.to_thread.run_sync(resources.close)
            finally:
                slot.release()
    return _accepted(request, services, job_id)


def _accepted(request: Request, services: Services, job_id: str) -> JSONResponse:
    """The 202 both ways of creating a job answer: the job's id and where to follow it."""
    url = _url(request, services, "get_job", job_id=job_id)
    return JSONResponse({"job_id": job_id, "url": url}, status_code=202, headers={"Location": url})


def _client_redactor(services: Services, upload: JobUpload) -> Redactor:
    """What the job's record may show: the client's own file names for the upload's temp files."""
    # Each temp file by its path and by its bare name (progress messages name the latter).
    names = zip(upload.files(), upload.client_names(), strict=True)
    return services.redact.extended({spelled: name for path, name in names for spelled in (str(path), path.name)})


def _content_length(request: Request) -> int | None:
    """The declared body length; None when absent or not plain ASCII digits (a chunked body)."""
    length = request.headers.get("content-length")
    return int(length) if length and length.isascii() and length.isdigit() else None


@router.get("", response_model=JobList, summary="List jobs, newest first, a page at a time")
def list_jobs(
    request: Request,
    services: ServicesDep,
    status: Literal["queued", "running", "completed", "failed", "cancelled"] | None = None,
    limit: int = Query(100, ge=1, le=1000, description="jobs per page"),
    cursor: str | None = Query(
        None, max_length=512, description="the next_cursor of the previous page; leave out for the newest jobs"
    ),
    offset: int = Query(0, ge=0, le=MAX_OFFSET, description="jobs to skip (the cursor is the better way to page)"),
) -> Response:
    try:
        records, next_cursor = services.store.list_page(status=status, limit=limit, cursor=cursor, offset=offset)
    except InvalidCursorError as exc:
        # FastAPI's own 422 shape, like any other bad query parameter.
        raise RequestValidationError([{"loc": ("query", "cursor"), "msg": str(exc), "type": "value_error"}]) from exc
    jobs_url = _url(request, services, "list_jobs")
    return JSONResponse({"jobs": [job_json(r, jobs_url) for r in records], "next_cursor": next_cursor})


@router.get(
    "/{job_id}",
    response_model=JobView,
    summary="A job's status, progress and outputs",
    responses={404: {"description": "no such job"}},
)
def get_job(request: Request, job_id: str, services: ServicesDep) -> Response:
    return JSONResponse(_view(request, services, services.store.get(job_id)))


_OUTPUT_PATH: Final[str] = "/{job_id}/outputs/{name:path}"
_OUTPUT_ERRORS: Final[dict[int | str, dict[str, Any]]] = {
    404: {"description": "no such job or output"},
    409: {"description": "job not completed"},
}


@router.get(
    _OUTPUT_PATH,
    summary="Download an output (range requests supported)",
    response_class=FileResponse,
    responses=_OUTPUT_ERRORS,
)
@router.head(
    _OUTPUT_PATH,
    name="head_output",
    operation_id="head_output",
    summary="An output's size and type, without its bytes",
    response_class=FileResponse,
    responses=_OUTPUT_ERRORS,
)
def download_output(job_id: str, name: str, store: StoreDep, services: ServicesDep) -> FileResponse:
    path = published_path(store.get(job_id), name, services.settings.output_dir)
    media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return FileResponse(path, media_type=media_type, headers={"Content-Disposition": content_disposition(name)})


@router.delete(
    "/{job_id}",
    summary="Cancel a queued or running job, or delete a finished job and its outputs",
    responses={
        404: {"description": "no such job"},
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
            view = _view(request, services, store.get(job_id))
            return JSONResponse(view | {"cancelling": True}, status_code=202)
        if outcome == "not-active":
            # Not in the runner: it finished meanwhile, or was never handed over
            # (the instant between store.create and submit). Mark it; no-op if final.
            store.finish(job_id, "cancelled", error="cancelled on request")
        record = store.get(job_id)
        if record.status == "cancelled":
            return JSONResponse(_view(request, services, record), status_code=200)
    # Finished: remove the outputs this job published, then forget the job.
    job_dir = services.settings.output_dir / job_id
    await anyio.to_thread.run_sync(lambda: shutil.rmtree(job_dir, ignore_errors=True))
    store.delete(job_id)
    return Response(status_code=204)
