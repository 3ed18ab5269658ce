"""A job made of completed resumable uploads: ``POST /jobs`` with ``{"video_upload": id, "subtitle_upload": id, ...}``.

The JSON names the uploads and carries the same options as the multipart
form. Each upload is claimed (held exclusively), its bytes renamed into the
job's scope (no copy), and the result is the same :class:`~langflix.api.uploads.JobUpload`
a multipart submission gives, so both are validated and probed by the same
code. A refused job gives the bytes back to their uploads (the claims do), so
a bad option does not cost the user a 2 GB upload.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from langflix.api.tus import metadata_value
from langflix.api.uploads import (
    FORM_FIELDS,
    OPTIONAL_FILE_FIELDS,
    InvalidFieldError,
    JobUpload,
    MalformedUploadError,
    client_suffix,
)
from langflix.core.subtitles import SUPPORTED_SUFFIXES
from langflix.errors import UnsupportedMediaError
from langflix.temp import ResumableUploads, TempArea, UploadClaim

__all__ = [
    "MAX_JSON_BYTES",
    "REQUIRED_UPLOADS",
    "UPLOAD_KEYS",
    "UploadRequest",
    "claim_uploads",
    "parse_upload_request",
]

MAX_JSON_BYTES: Final[int] = 64 * 1024
REQUIRED_UPLOADS: Final[dict[str, str]] = {"video_upload": "video", "subtitle_upload": "subtitle"}
UPLOAD_KEYS: Final[dict[str, str]] = REQUIRED_UPLOADS | {f"{name}_upload": name for name in OPTIONAL_FILE_FIELDS}
"""JSON key -> the file it names (the multipart part of the same name): video, subtitle, translation."""


@dataclass(frozen=True, slots=True)
class UploadRequest:
    """What the JSON asked for: an upload id per file, and the option fields as the form would send them."""

    uploads: dict[str, str]
    fields: dict[str, str]


def parse_upload_request(body: bytes) -> UploadRequest:
    """The request's JSON object, checked key by key (400 not JSON, 422 naming the key)."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedUploadError(f"the request body is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise InvalidFieldError("body", "must be a JSON object naming video_upload and subtitle_upload")
    uploads: dict[str, str] = {}
    fields: dict[str, str] = {}
    for key, value in data.items():
        if key in UPLOAD_KEYS:
            if value is None and key not in REQUIRED_UPLOADS:
                continue
            if not isinstance(value, str):
                raise InvalidFieldError(key, "must be the id of a completed upload (a string)")
            uploads[UPLOAD_KEYS[key]] = value
        elif key in FORM_FIELDS:
            if value is None:
                continue
            fields[key] = _form_value(key, value)
        else:
            raise InvalidFieldError(
                key,
                f"unknown field; send {' and '.join(REQUIRED_UPLOADS)} and optionally "
                f"{', '.join(k for k in UPLOAD_KEYS if k not in REQUIRED_UPLOADS)}, {', '.join(FORM_FIELDS)}",
            )
    for key, name in REQUIRED_UPLOADS.items():
        if name not in uploads:
            raise InvalidFieldError(key, "field required (the id of a completed upload)")
    if len(set(uploads.values())) != len(uploads):
        raise InvalidFieldError("subtitle_upload", "names an upload another key names too; upload each file")
    return UploadRequest(uploads, fields)


def _form_value(key: str, value: object) -> str:
    """A JSON option as the form would send it: JSON's own booleans and lists are the natural way to write them."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int):
        return str(value)
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return ",".join(value)  # "outputs": ["lessons", "deck"] as the form's "lessons,deck"
    raise InvalidFieldError(
        key, f"must be a string, an integer, a boolean or a list of strings, got {json.dumps(value)[:40]}"
    )


def _filename(claim: UploadClaim, default: str) -> str:
    # tus clients (tus-js-client, tuspy) name the file in the metadata key "filename".
    return metadata_value(claim.state.metadata, "filename") or metadata_value(claim.state.metadata, "name") or default


def claim_uploads(
    stack: contextlib.ExitStack, uploads: ResumableUploads, request: UploadRequest, area: TempArea
) -> tuple[JobUpload, list[UploadClaim]]:
    """Claim the uploads (closed with ``stack``), move their bytes into ``area``; the claims to consume on success."""
    claims: Mapping[str, UploadClaim] = {
        name: stack.enter_context(uploads.claim(i)) for name, i in request.uploads.items()
    }
    names = {name: _filename(claim, "video" if name == "video" else "") for name, claim in claims.items()}
    for name in claims.keys() - {"video"}:
        if client_suffix(names[name]) not in SUPPORTED_SUFFIXES:
            raise UnsupportedMediaError(
                f"{name} {names[name] or request.uploads[name]!r} has no supported format in its name; upload it "
                f"with the metadata 'filename' ending in one of {', '.join(sorted(SUPPORTED_SUFFIXES))}"
            )
    paths = {
        name: claim.move_into(area, suffix=client_suffix(names[name]), prefix=f"{name}-")
        for name, claim in claims.items()
    }
    upload = JobUpload(
        video=paths["video"],
        subtitles=paths["subtitle"],
        video_filename=names["video"],
        subtitle_filename=names["subtitle"],
        fields=request.fields,
        bytes_received=sum(claim.state.length for claim in claims.values()),
        translation=paths.get("translation"),
        translation_filename=names.get("translation"),
    )
    return upload, list(claims.values())
