"""``/uploads``: resumable uploads over tus 1.0 (core, creation, creation-with-upload, termination,
expiration, checksum).

A client creates an upload of a declared length (``POST``), appends to it at
its offset (``PATCH``), asks for the offset after any interruption (``HEAD``)
and may drop it (``DELETE``); a job is then made of completed uploads by
``POST /jobs`` with JSON naming them. The bytes live in an area owned by the
upload's expiry (:class:`~langflix.temp.ResumableUploads`): not by this
process, so a restarted server resumes them.

The receive path moves the body straight into the file preallocated at
creation: off the socket by ``splice`` when the server offers it
(:mod:`langflix.api.direct_body`), else in batches of ASGI chunks, one
``pwritev`` each; a checksum is computed only when the request sends
``Upload-Checksum``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import select
import threading
import time
from typing import Final

import anyio
from fastapi import APIRouter, Request, Response
from starlette.requests import ClientDisconnect

from langflix.api.deps import Services, ServicesDep
from langflix.api.direct_body import DirectBody, direct_body
from langflix.api.errors import error_response
from langflix.api.limits import BodyPace, UploadTimeoutError
from langflix.api.tus import (
    OFFSET_CONTENT_TYPE,
    TUS_VERSION,
    TusHeaderError,
    check_version,
    checksum_of,
    declared_int,
    discovery_headers,
    parse_metadata,
    state_headers,
)
from langflix.api.uploads import UploadTooLargeError
from langflix.errors import LangFlixError, UnsupportedMediaError
from langflix.temp import UploadState, UploadWriter

__all__ = ["receive_into", "router"]

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/uploads", tags=["uploads"])

_BATCH_BYTES: Final[int] = 4 * 1024 * 1024
"""Bytes gathered before one write: large writes, few thread hand-offs (512 for 2 GiB)."""
_STOP_POLL: Final[float] = 0.25
"""Seconds at most between two looks of the body's worker thread at whether its request was cancelled."""
_BATCH_CHUNKS: Final[int] = 256
"""Chunks gathered at most before one write (``pwritev`` takes at most ``IOV_MAX`` buffers)."""

_TUS_ERRORS: Final[dict[int | str, dict[str, str]]] = {
    400: {"description": "a tus header is missing or malformed"},
    404: {"description": "no such upload (never made, deleted, reclaimed)"},
    409: {"description": "Upload-Offset is not the upload's offset, or another request is writing it"},
    410: {"description": "the upload expired (LANGFLIX_UPLOAD_EXPIRY)"},
    412: {"description": "no Tus-Resumable: 1.0.0 header"},
}


def _tus_error(exc: LangFlixError, services: Services) -> Response:
    response = error_response(exc, services.redact)
    response.headers["Tus-Resumable"] = TUS_VERSION
    if response.status_code == 412:
        response.headers["Tus-Version"] = TUS_VERSION
    return response


def _content_length(request: Request) -> int | None:
    return declared_int(request.headers, "Content-Length", required=False)


def _location(request: Request, services: Services, upload_id: str) -> str:
    base = services.settings.public_url or str(request.scope.get("root_path", "")).rstrip("/")
    return base + str(request.app.url_path_for("upload_offset", upload_id=upload_id))


async def receive_into(request: Request, writer: UploadWriter, pace: BodyPace, *, hashing: bool = False) -> None:
    """Write the request's body into ``writer`` as it arrives, within ``pace``'s deadlines.

    When the server offers the body off the socket (:func:`~langflix.api.direct_body.direct_body`,
    ``langflix serve``'s uvicorn) and no checksum needs its bytes (``hashing``),
    it goes socket to file by ``splice`` in one worker thread
    (:func:`_receive_direct`); otherwise through ASGI messages
    (:func:`_receive_messages`).
    """
    direct = direct_body(request.scope)
    if direct is not None and not hashing:
        await _receive_direct(direct, writer, pace)
    else:
        await _receive_messages(request, writer, pace)


class _Pumped:
    """What the worker thread moved off the socket so far (read by the loop after the thread ends)."""

    def __init__(self) -> None:
        self.consumed = 0
        self.stop = threading.Event()


def _pump(fd: int, remaining: int, writer: UploadWriter, pace: BodyPace, received: int, pumped: _Pumped) -> None:
    """Move ``remaining`` bytes from socket ``fd`` into ``writer``, waiting for data with ``pace``'s deadlines.

    Runs in a worker thread; wakes at least every :data:`_STOP_POLL` s to see
    whether the request was cancelled (shutdown), so it never outlives it.
    """
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    started = last = pace.clock()
    while pumped.consumed < remaining:
        if pumped.stop.is_set():
            return
        try:
            moved = writer.write_from(fd, remaining - pumped.consumed)
        except BlockingIOError:
            now = pace.clock()
            idle_left = last + pace.idle_timeout - now
            rate_left = pace.time_left(started, received, now)
            if idle_left <= 0 or rate_left <= 0:
                raise _too_slow(pace, received, now - started, stalled=idle_left <= 0) from None
            poller.poll(1000 * min(idle_left, rate_left, _STOP_POLL))
            continue
        except (ConnectionError, TimeoutError) as exc:
            raise ClientDisconnect() from exc
        if moved == 0:
            raise ClientDisconnect()
        pumped.consumed += moved
        received += moved
        last = pace.clock()


def _too_slow(pace: BodyPace, received: int, elapsed: float, *, stalled: bool) -> UploadTimeoutError:
    why = (
        f"stalled: no data for {pace.idle_timeout:g} s (LANGFLIX_UPLOAD_IDLE_TIMEOUT)"
        if stalled
        else f"came slower than LANGFLIX_UPLOAD_MIN_RATE ({pace.min_rate:g} bytes/s) over {elapsed:.1f} s"
    )
    return UploadTimeoutError(f"the upload {why} after {received} bytes; resume it from its offset (HEAD)")


async def _receive_direct(direct: DirectBody, writer: UploadWriter, pace: BodyPace) -> None:
    """The body socket to file: the bytes the server already read, then the rest in one worker thread.

    The thread runs until the body is in or the request fails (disconnect,
    deadline, cancellation); whatever stops it, the connection is given back
    with the count it moved, so the server either reads the next request on it
    or closes it.
    """
    loop = asyncio.get_running_loop()
    buffered, remaining = direct.start()
    pumped = _Pumped()
    try:
        if buffered:
            writer.write(buffered)
        if remaining:
            task = loop.run_in_executor(None, _pump, direct.fileno(), remaining, writer, pace, len(buffered), pumped)
            try:
                await asyncio.wait([task])
            finally:
                if not task.done():  # cancelled: the thread stops at its next wake-up, before the writer closes
                    pumped.stop.set()
                    with anyio.CancelScope(shield=True):
                        await asyncio.wait([task])
            task.result()
    finally:
        direct.finish(pumped.consumed)


async def _receive_messages(request: Request, writer: UploadWriter, pace: BodyPace) -> None:
    """The body through ASGI ``receive()`` messages, written in batches by a worker thread.

    Chunks are gathered into batches of :data:`_BATCH_BYTES` and each batch is
    written by one ``pwritev`` in a worker thread while the loop receives the
    next one: receiving and writing overlap, and per chunk the loop does only a
    ``receive`` and an append. At most two batches are in memory. The deadline
    is :func:`~langflix.api.limits.paced_body`'s, moved once per batch instead
    of wrapping each chunk in a timeout.
    """
    loop = asyncio.get_running_loop()
    receive = request.receive
    started = pace.clock()
    received = 0
    batch: list[bytes] = []
    batched = 0
    pending: asyncio.Future[None] | None = None
    try:
        with anyio.CancelScope(deadline=anyio.current_time() + pace.idle_timeout) as deadline:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise ClientDisconnect()
                body = message.get("body", b"")
                more = message.get("more_body", False)
                if body:
                    batch.append(body)
                    batched += len(body)
                if batched >= _BATCH_BYTES or len(batch) >= _BATCH_CHUNKS or (not more and batch):
                    if pending is not None:
                        await pending
                    pending = loop.run_in_executor(None, writer.write_many, batch)
                    received += batched
                    batch, batched = [], 0
                    allowed = pace.time_left(started, received, pace.clock())
                    deadline.deadline = anyio.current_time() + min(pace.idle_timeout, allowed)
                if not more:
                    break
        if deadline.cancelled_caught:
            raise UploadTimeoutError(
                f"the upload stalled or came slower than LANGFLIX_UPLOAD_MIN_RATE after {received} bytes "
                "(LANGFLIX_UPLOAD_IDLE_TIMEOUT); resume it from its offset (HEAD)"
            )
    finally:
        # Whatever stopped the body, the batch being written finishes before the
        # writer commits and closes: the committed offset never outruns the file.
        if pending is not None:
            with anyio.CancelScope(shield=True):
                await asyncio.wait([pending])
        # A body cut short keeps what arrived: the client resumes after it.
        if batch and (pending is None or pending.exception() is None):
            with contextlib.suppress(LangFlixError):
                writer.write_many(batch)
    if pending is not None:
        pending.result()  # a write error (past the declared length) surfaces here


async def _patch(request: Request, services: Services, upload_id: str, offset: int) -> UploadState:
    """Append the request's body at ``offset``; returns the state after it (offset moved)."""
    checksum = checksum_of(request.headers.get("upload-checksum"))
    uploads = services.uploads
    writer = await anyio.to_thread.run_sync(lambda: uploads.writer(upload_id, offset, checksum))
    try:
        length = _content_length(request)
        if length is not None and offset + length > writer.length:
            raise UploadTooLargeError(
                f"the request sends {length} bytes at offset {offset}, past upload {upload_id}'s declared "
                f"length of {writer.length} bytes; send at most Upload-Length minus Upload-Offset"
            )
        try:
            await receive_into(request, writer, services.pace, hashing=checksum is not None)
        except ClientDisconnect:
            # The client went away: what arrived is kept (committed below) and HEAD tells it where to resume.
            logger.info("client went away while sending upload %s; kept %d bytes", upload_id, writer.offset)
            raise
        writer.verify()
    finally:
        with anyio.CancelScope(shield=True):
            writer.close()
    before = writer.state
    return UploadState(upload_id, before.length, writer.offset, before.metadata, before.created, before.expires)


@router.options("", summary="tus discovery: version, extensions, largest upload, checksum algorithms")
@router.options("/{upload_id}", include_in_schema=False)
def discover(services: ServicesDep) -> Response:
    return Response(status_code=204, headers=discovery_headers(services.settings.max_upload_bytes))


@router.post(
    "",
    status_code=201,
    summary="Create an upload of Upload-Length bytes (tus creation; a body starts it: creation-with-upload)",
    responses={
        **_TUS_ERRORS,
        413: {"description": "over LANGFLIX_MAX_UPLOAD_BYTES"},
        429: {"description": "the client holds too many unfinished uploads or bytes (LANGFLIX_UPLOAD_CLIENT_MAX_*)"},
        507: {"description": "no disk"},
    },
)
async def create_upload(request: Request, services: ServicesDep) -> Response:
    try:
        check_version(request.headers)
        if request.headers.get("upload-defer-length") is not None:
            raise TusHeaderError("this server needs Upload-Length at creation (no creation-defer-length); send it")
        length = declared_int(request.headers, "Upload-Length")
        assert length is not None
        limit = services.settings.max_upload_bytes
        if length > limit:
            raise UploadTooLargeError(
                f"the upload is {length} bytes, more than LANGFLIX_MAX_UPLOAD_BYTES ({limit} bytes); "
                "send a smaller file or raise the setting"
            )
        metadata = request.headers.get("upload-metadata", "")
        parse_metadata(metadata)  # refuse bad metadata now, not when a job reads it
        with_body = request.headers.get("content-type", "").startswith(OFFSET_CONTENT_TYPE)
        checksum_of(request.headers.get("upload-checksum"))  # a bad header costs no upload
        client = request.client.host if request.client else "unknown"
        await anyio.to_thread.run_sync(services.open_uploads.prune)
        with services.open_uploads.opening(client, length) as keep:
            state = await anyio.to_thread.run_sync(lambda: services.uploads.create(length, metadata))
            keep(state.id)
        headers = state_headers(state)
        headers["Location"] = _location(request, services, state.id)
        if with_body:
            try:
                state = await _patch(request, services, state.id, 0)
            except ClientDisconnect:
                return Response(status_code=499)
            headers |= state_headers(state)
            if state.complete:
                services.open_uploads.forget(state.id)
        return Response(status_code=201, headers=headers)
    except LangFlixError as exc:
        return _tus_error(exc, services)


@router.head(
    "/{upload_id}",
    name="upload_offset",
    summary="Where an upload stands: Upload-Offset, Upload-Length, Upload-Metadata",
    responses=_TUS_ERRORS,
)
async def upload_offset(upload_id: str, request: Request, services: ServicesDep) -> Response:
    try:
        check_version(request.headers)
        state = await anyio.to_thread.run_sync(lambda: services.uploads.get(upload_id))
    except LangFlixError as exc:
        return _tus_error(exc, services)
    headers = state_headers(state) | {"Upload-Length": str(state.length)}
    if state.metadata:
        headers["Upload-Metadata"] = state.metadata
    return Response(status_code=200, headers=headers)


@router.patch(
    "/{upload_id}",
    summary="Append the body (application/offset+octet-stream) at Upload-Offset",
    responses={
        **_TUS_ERRORS,
        413: {"description": "past the upload's declared length"},
        415: {"description": "not application/offset+octet-stream"},
        460: {"description": "the body does not match its Upload-Checksum (nothing kept)"},
    },
)
async def append_upload(upload_id: str, request: Request, services: ServicesDep) -> Response:
    started = time.monotonic()
    try:
        check_version(request.headers)
        if not request.headers.get("content-type", "").startswith(OFFSET_CONTENT_TYPE):
            raise UnsupportedMediaError(f"a tus PATCH body is {OFFSET_CONTENT_TYPE}; send that Content-Type")
        offset = declared_int(request.headers, "Upload-Offset")
        assert offset is not None
        state = await _patch(request, services, upload_id, offset)
        if state.complete:
            services.open_uploads.forget(upload_id)
    except ClientDisconnect:
        return Response(status_code=499)
    except LangFlixError as exc:
        return _tus_error(exc, services)
    logger.debug("upload %s: %d bytes in %.2f s", upload_id, state.offset - offset, time.monotonic() - started)
    return Response(status_code=204, headers=state_headers(state))


@router.delete(
    "/{upload_id}", status_code=204, summary="Drop an upload and its bytes (tus termination)", responses=_TUS_ERRORS
)
async def delete_upload(upload_id: str, request: Request, services: ServicesDep) -> Response:
    try:
        check_version(request.headers)
        await anyio.to_thread.run_sync(lambda: services.uploads.delete(upload_id))
        services.open_uploads.forget(upload_id)
    except LangFlixError as exc:
        return _tus_error(exc, services)
    return Response(status_code=204, headers={"Tus-Resumable": TUS_VERSION})
