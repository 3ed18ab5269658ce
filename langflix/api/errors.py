"""The one place where LangFlix errors become HTTP status codes.

Routes and services raise the :mod:`langflix.errors` family (plus the few
upload/job subclasses of it); this module maps each class to a status and a
JSON body ``{"detail": message, "error": class name}``. The most specific
class wins, so ``UploadTooLargeError`` (a ``QuotaExceededError``) is 413
while any other quota error is 507.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Final

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from langflix.api.access import AuthenticationError, ForbiddenError
from langflix.api.limits import ClientLimitError, UploadTimeoutError
from langflix.api.store import InvalidCursorError, JobNotFoundError, JobStateError, StoreLockedError
from langflix.api.uploads import InvalidFieldError, MalformedUploadError, UploadTooLargeError
from langflix.errors import (
    BackendUnavailableError,
    CancelledError,
    ConfigError,
    FFmpegError,
    InsufficientDiskSpaceError,
    InvalidOptionError,
    JobError,
    LangFlixError,
    QueueFullError,
    QuotaExceededError,
    SubtitleError,
    TempFileError,
    UnsupportedMediaError,
)

__all__ = ["PLAIN_SENTENCES", "STATUS_BY_ERROR", "error_response", "install_error_handlers", "status_for"]

logger = logging.getLogger(__name__)

STATUS_BY_ERROR: Final[dict[type[LangFlixError], int]] = {
    AuthenticationError: 401,
    ForbiddenError: 403,
    UploadTooLargeError: 413,
    UploadTimeoutError: 408,
    ClientLimitError: 429,
    InvalidCursorError: 422,
    UnsupportedMediaError: 415,
    InvalidFieldError: 422,
    InvalidOptionError: 422,  # a job's options out of range or choices
    MalformedUploadError: 400,
    ConfigError: 422,  # at request time only the client's choices are checked (tts, level...)
    SubtitleError: 422,  # the subtitle has a supported suffix but no usable content
    QuotaExceededError: 507,
    InsufficientDiskSpaceError: 507,
    TempFileError: 500,
    QueueFullError: 503,
    BackendUnavailableError: 503,  # Redis down (scaled out): nothing was staged, try again shortly
    StoreLockedError: 503,
    JobNotFoundError: 404,
    JobStateError: 409,
    CancelledError: 409,
    JobError: 400,
    FFmpegError: 500,
    LangFlixError: 500,
}
"""Status per error class; looked up along the exception's MRO (most specific first)."""

_RETRY_AFTER_SECONDS: Final[str] = "5"

PLAIN_SENTENCES: Final[dict[int, str]] = {
    400: "The upload reached the server damaged; send it again.",
    401: "Your session has ended; log in again.",
    403: "The server refused this request because it did not come from this page; reload it and try again.",
    404: "This job or file no longer exists.",
    408: "The upload stalled or came in too slowly, so the server dropped it.",
    409: "This job is not in a state that allows that.",
    413: "These files are larger than this server accepts.",
    415: "This file is not of a kind LangFlix can read.",
    422: "This value is not accepted.",
    429: "You already have as many uploads in flight as the server allows; wait for one to finish.",
    503: "The server is busy (its job queue is full) or shutting down; try again in a moment.",
    507: "The server has no disk space (or temp budget) left for this upload right now.",
}
"""What the dashboard says first for each status, before the server's own words: one table for every page."""


def status_for(exc: LangFlixError) -> int:
    """The HTTP status for ``exc``: its closest class in :data:`STATUS_BY_ERROR`."""
    for cls in type(exc).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]
    return 500


def error_response(exc: LangFlixError, redact: Callable[[str], str] | None = None) -> JSONResponse:
    """The JSON answer for ``exc``; 503s and 429s tell the client when to retry.

    ``redact`` rewrites server paths as the settings that name them: messages
    are written for an operator ("raise LANGFLIX_TEMP_MAX_BYTES under
    /srv/tmp"), and a client needs the advice, not the server's directory layout.
    """
    status = status_for(exc)
    message = redact(str(exc)) if redact is not None else str(exc)
    body: dict[str, object] = {"detail": message, "error": type(exc).__name__}
    if isinstance(exc, InvalidOptionError) and exc.problems:
        # Same shape as FastAPI's own 422s so one client parser handles both.
        body["detail"] = [
            {"loc": ["body", name], "msg": reason, "type": "value_error"} for name, reason in exc.problems
        ]
    headers: dict[str, str] = {}
    if status in (429, 503):
        headers["Retry-After"] = _RETRY_AFTER_SECONDS
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="langflix"'
    if status == 408:
        # The body stalled mid-way: nothing more on this connection can be trusted
        # to be a new request, so it is closed after the answer.
        headers["Connection"] = "close"
    if status >= 500 and status not in (503, 507):
        logger.error("request failed: %s", exc, exc_info=exc)
    return JSONResponse(body, status_code=status, headers=headers or None)


def install_error_handlers(app: FastAPI) -> None:
    """Route every :class:`LangFlixError` that escapes a route through :func:`error_response`."""

    async def _handle(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, LangFlixError)
        services = getattr(request.app.state, "services", None)
        return error_response(exc, services.redact if services is not None else None)

    app.add_exception_handler(LangFlixError, _handle)
