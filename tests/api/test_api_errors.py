"""The one mapping from LangFlix errors to HTTP status codes."""

from __future__ import annotations

import json

import pytest

import langflix.errors as errors
from langflix.api.errors import STATUS_BY_ERROR, error_response, status_for
from langflix.api.limits import ClientLimitError, UploadTimeoutError
from langflix.api.redact import Redactor
from langflix.api.store import InvalidCursorError, JobNotFoundError, JobStateError, StoreLockedError
from langflix.api.uploads import InvalidFieldError, MalformedUploadError, UnsupportedMediaError, UploadTooLargeError


@pytest.mark.parametrize(
    ("exc", "status"),
    [
        (UploadTooLargeError("big"), 413),
        (UploadTimeoutError("stalled"), 408),
        (ClientLimitError("greedy"), 429),
        (InvalidCursorError("forged"), 422),
        (UnsupportedMediaError("kind"), 415),
        (InvalidFieldError("repeat", "bad"), 422),
        (MalformedUploadError("cut"), 400),
        (errors.SubtitleError("no cue"), 422),
        (errors.ConfigError("tts"), 422),
        (errors.QuotaExceededError("budget"), 507),
        (errors.InsufficientDiskSpaceError("disk"), 507),
        (errors.QueueFullError("full"), 503),
        (StoreLockedError("locked"), 503),
        (JobNotFoundError("none"), 404),
        (JobStateError("state"), 409),
        (errors.FFmpegError("ffmpeg"), 500),
        (errors.LangFlixError("root"), 500),
    ],
)
def test_most_specific_class_wins(exc: errors.LangFlixError, status: int) -> None:
    assert status_for(exc) == status


def test_every_error_of_the_tree_has_a_status() -> None:
    for name in errors.__all__:
        cls = getattr(errors, name)
        assert status_for(cls("x")) in {400, 404, 409, 413, 415, 422, 500, 503, 507}
    assert all(issubclass(cls, errors.LangFlixError) for cls in STATUS_BY_ERROR)


def test_bodies_carry_the_message_and_retry_hint() -> None:
    full = error_response(errors.QueueFullError("the job queue is full; try again later"))
    assert full.status_code == 503 and full.headers["retry-after"]
    assert json.loads(full.body) == {"detail": "the job queue is full; try again later", "error": "QueueFullError"}
    field = json.loads(error_response(InvalidFieldError("repeat", "must be between 1 and 20")).body)
    assert field["detail"] == [{"loc": ["body", "repeat"], "msg": "must be between 1 and 20", "type": "value_error"}]


def test_server_paths_are_named_by_their_setting() -> None:
    exc = errors.QuotaExceededError("the temp budget of /srv/lf/tmp/session-1 has 0 B left")
    body = json.loads(error_response(exc, Redactor({"/srv/lf/tmp": "<LANGFLIX_TEMP_DIR>"})).body)
    assert body["detail"] == "the temp budget of <LANGFLIX_TEMP_DIR>/session-1 has 0 B left"


def test_a_stalled_body_closes_the_connection_and_limits_say_when_to_retry() -> None:
    assert error_response(UploadTimeoutError("stalled")).headers["connection"] == "close"
    assert error_response(ClientLimitError("greedy")).headers["retry-after"]
