"""The upload page's fields, read from the API's own OpenAPI description of ``POST /api/v1/jobs``.

That description is derived from :class:`~langflix.pipeline.PipelineOptions`
(ranges, choices, defaults) and the upload's file parts, so the page offers
exactly what the API takes: a field added to the API (a new option, another
file part) appears on the page, a range changed there is the range here, and
the two cannot drift.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from langflix.core.subtitles import SUPPORTED_SUFFIXES

__all__ = ["FormField", "VIDEO_ACCEPT", "upload_fields"]

VIDEO_ACCEPT: Final[str] = "video/*,.mkv,.mp4,.m4v,.mov,.webm,.avi,.ts"
_SUBTITLE_ACCEPT: Final[str] = ",".join(sorted(SUPPORTED_SUFFIXES))

FieldKind = Literal["file", "select", "number", "text"]


@dataclass(frozen=True, slots=True)
class FormField:
    """One field of the upload form, as the API declares it."""

    name: str
    label: str
    kind: FieldKind
    required: bool
    description: str = ""
    choices: tuple[str, ...] = ()
    default: str = ""
    minimum: float | None = None
    maximum: float | None = None
    max_length: int | None = None
    accept: str = ""


def _resolve(schema: Mapping[str, Any], spec: Mapping[str, Any]) -> Mapping[str, Any]:
    ref = schema.get("$ref")
    if not isinstance(ref, str):
        return schema
    node: Any = spec
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return _resolve(node, spec)


_ACRONYMS: Final[frozenset[str]] = frozenset({"tts", "llm", "url"})


def _label(name: str) -> str:
    words = [word.upper() if word in _ACRONYMS else word for word in name.split("_")]
    text = " ".join(words)
    return text[:1].upper() + text[1:]


def _field(name: str, prop: Mapping[str, Any], required: bool) -> FormField:
    default = prop.get("default")
    base = FormField(
        name=name,
        label=_label(name),
        kind="text",
        required=required,
        description=str(prop.get("description", "")),
        default="" if default is None else str(default),
    )
    if prop.get("format") == "binary":
        accept = VIDEO_ACCEPT if name == "video" else _SUBTITLE_ACCEPT  # every other file part is subtitles
        return dataclasses.replace(base, kind="file", accept=accept, default="")
    if "enum" in prop:
        return dataclasses.replace(base, kind="select", choices=tuple(str(choice) for choice in prop["enum"]))
    if prop.get("type") == "boolean":
        # The form sends text: "false"/"true", which the API's options read as the boolean.
        return dataclasses.replace(base, kind="select", choices=("false", "true"), default=str(bool(default)).lower())
    if prop.get("type") in ("integer", "number"):
        return dataclasses.replace(base, kind="number", minimum=prop.get("minimum"), maximum=prop.get("maximum"))
    return dataclasses.replace(base, max_length=prop.get("maxLength"))


def upload_fields(spec: Mapping[str, Any], path: str, defaults: Mapping[str, str] | None = None) -> list[FormField]:
    """The fields of the multipart body of ``POST path`` in the OpenAPI ``spec``: files first, video first.

    ``defaults`` are the server's own where they differ from the schema's
    (``LANGFLIX_TTS`` is what a job without a ``tts`` field gets).
    """
    body = spec["paths"][path]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    schema = _resolve(body, spec)
    required = set(schema.get("required", ()))
    fields = [
        _field(name, _resolve(prop, spec), name in required) for name, prop in schema.get("properties", {}).items()
    ]
    overrides = defaults or {}
    fields = [
        dataclasses.replace(f, default=overrides[f.name]) if f.name in overrides and f.kind != "file" else f
        for f in fields
    ]
    # Files before options; the video, then what must be given, then the optional files.
    return sorted(fields, key=lambda f: (f.kind != "file", f.kind == "file" and f.name != "video", not f.required))
