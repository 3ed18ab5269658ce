"""The tus 1.0 resumable-upload protocol's words: its headers, their parsing, its errors.

Protocol: https://tus.io/protocols/resumable-upload (core, creation,
creation-with-upload, termination, expiration, checksum). Nothing here knows
about a web framework: headers come in as a mapping, go out as a dict.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Mapping
from email.utils import formatdate
from typing import Final

from langflix.errors import LangFlixError
from langflix.temp import Digest, UploadState

__all__ = [
    "CHECKSUM_ALGORITHMS",
    "OFFSET_CONTENT_TYPE",
    "TUS_EXTENSIONS",
    "TUS_VERSION",
    "TusHeaderError",
    "TusVersionError",
    "check_version",
    "checksum_of",
    "declared_int",
    "discovery_headers",
    "metadata_value",
    "parse_metadata",
    "state_headers",
]

TUS_VERSION: Final[str] = "1.0.0"
TUS_EXTENSIONS: Final[str] = "creation,creation-with-upload,termination,expiration,checksum"
CHECKSUM_ALGORITHMS: Final[tuple[str, ...]] = ("sha1", "sha256", "md5")
OFFSET_CONTENT_TYPE: Final[str] = "application/offset+octet-stream"
_METADATA_KEY: Final[re.Pattern[str]] = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_MAX_METADATA: Final[int] = 4096


class TusVersionError(LangFlixError):
    """The request names no tus version, or one this server does not speak (412)."""


class TusHeaderError(LangFlixError):
    """A tus header is missing or malformed (400)."""


def check_version(headers: Mapping[str, str]) -> None:
    """Refuse a request without ``Tus-Resumable: 1.0.0`` (every tus request but OPTIONS carries it)."""
    version = headers.get("tus-resumable")
    if version != TUS_VERSION:
        said = "no Tus-Resumable header" if version is None else f"Tus-Resumable {version!r}"
        raise TusVersionError(
            f"this server speaks tus {TUS_VERSION} and the request sent {said}; send Tus-Resumable: {TUS_VERSION}"
        )


def declared_int(headers: Mapping[str, str], name: str, *, required: bool = True) -> int | None:
    """A header holding a non-negative integer in ASCII digits."""
    value = headers.get(name.lower())
    if value is None:
        if required:
            raise TusHeaderError(f"the request has no {name} header; send it (a whole number of bytes)")
        return None
    if not (value.isascii() and value.isdigit()) or len(value) > 19:
        raise TusHeaderError(f"{name} must be a whole number of bytes written with the digits 0-9, not {value!r}")
    return int(value)


def parse_metadata(header: str | None) -> dict[str, str]:
    """``Upload-Metadata`` (``key base64,key2 base64``) as text values; a value that is not UTF-8 is refused."""
    if not header:
        return {}
    if len(header) > _MAX_METADATA:
        raise TusHeaderError(f"Upload-Metadata is longer than {_MAX_METADATA} characters; send less metadata")
    values: dict[str, str] = {}
    for pair in header.split(","):
        key, _, encoded = pair.strip().partition(" ")
        if not _METADATA_KEY.fullmatch(key) or key in values:
            raise TusHeaderError(f"Upload-Metadata has a bad or repeated key {key!r}; keys are ASCII tokens, each once")
        try:
            values[key] = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise TusHeaderError(f"Upload-Metadata value of {key!r} is not base64 of UTF-8 text") from exc
    return values


def metadata_value(header: str, key: str) -> str | None:
    """One value of a stored ``Upload-Metadata`` header (it was checked when the upload was made)."""
    try:
        return parse_metadata(header).get(key)
    except TusHeaderError:
        return None


def checksum_of(header: str | None) -> tuple[Digest, bytes] | None:
    """``Upload-Checksum: <algorithm> <base64 digest>`` as a fresh hasher and the digest it must reach."""
    if header is None:
        return None
    algorithm, _, encoded = header.strip().partition(" ")
    if algorithm not in CHECKSUM_ALGORITHMS:
        raise TusHeaderError(
            f"Upload-Checksum algorithm {algorithm!r} is not supported; use one of {', '.join(CHECKSUM_ALGORITHMS)}"
        )
    try:
        expected = base64.b64decode(encoded.strip(), validate=True)
    except binascii.Error as exc:
        raise TusHeaderError("Upload-Checksum's digest is not base64") from exc
    hasher: Digest = hashlib.new(algorithm)
    return hasher, expected


def discovery_headers(max_size: int) -> dict[str, str]:
    """What ``OPTIONS`` tells a client about this server."""
    return {
        "Tus-Resumable": TUS_VERSION,
        "Tus-Version": TUS_VERSION,
        "Tus-Extension": TUS_EXTENSIONS,
        "Tus-Max-Size": str(max_size),
        "Tus-Checksum-Algorithm": ",".join(CHECKSUM_ALGORITHMS),
    }


def state_headers(state: UploadState, *, offset: int | None = None) -> dict[str, str]:
    """The headers that tell where an upload stands (``offset``: when a request moved it past ``state``)."""
    return {
        "Tus-Resumable": TUS_VERSION,
        "Upload-Offset": str(state.offset if offset is None else offset),
        "Upload-Expires": formatdate(state.expires, usegmt=True),
        "Cache-Control": "no-store",
    }
