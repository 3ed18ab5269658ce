"""Streaming multipart uploads written straight into a job's temp scope.

Why not Starlette's ``request.form()``/``UploadFile``: they spool every file
into the *system* temp dir (the standard library's temp-file module), outside
any manager, so a crash or a dropped client would leave bytes nobody owns.
Here the body is parsed as it arrives with
python-multipart's push parser and each file part is streamed, chunk by chunk,
into a new file of the job's scope by ``awrite_stream``; bytes are counted
against ``LANGFLIX_MAX_UPLOAD_BYTES`` while they stream, and the moment the
limit is crossed the upload fails (the scope, closed by the caller, takes the
partial file with it). Nothing here knows about HTTP: the caller passes the
body as an async iterator of bytes plus two header values.
"""

from __future__ import annotations

import collections
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Final

import anyio
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from langflix.core.ffmpeg import FFmpegTools
from langflix.core.subtitles import SUPPORTED_SUFFIXES
from langflix.errors import (
    FFmpegError,
    InvalidOptionError,
    LangFlixError,
    QuotaExceededError,
    UnsupportedMediaError,
)
from langflix.temp import Reservation, TempArea, awrite_stream

__all__ = [
    "FILE_FIELDS",
    "FORM_FIELDS",
    "InvalidFieldError",
    "JobUpload",
    "MalformedUploadError",
    "MultipartReader",
    "OPTIONAL_FILE_FIELDS",
    "Part",
    "UnsupportedMediaError",
    "UploadTooLargeError",
    "body_ceiling",
    "check_declared_length",
    "client_suffix",
    "probe_subtitles",
    "probe_video",
    "receive_job_upload",
]

FILE_FIELDS: Final[tuple[str, ...]] = ("subtitle", "video")
OPTIONAL_FILE_FIELDS: Final[tuple[str, ...]] = ("translation",)
"""A second subtitle file in the learner's language (``--translation-subtitles``)."""
FORM_FIELDS: Final[tuple[str, ...]] = (
    "deck_with_shorts",
    "episode_name",
    "language_level",
    "max_expressions",
    "outputs",
    "repeat",
    "shorts_fit",
    "shorts_max_seconds",
    "subtitles_style",
    "tts",
)
_FILE_LABELS: Final[tuple[str, ...]] = ("video", "subtitle", "translation")
"""What a message calls each of :meth:`JobUpload.files`."""
_MAX_FIELD_BYTES: Final[int] = 4096
_MAX_PARTS: Final[int] = 16
# The multipart envelope (boundaries, part headers, small fields) on top of the
# files themselves; a Content-Length beyond limit + slack is refused before a
# single byte is read.
_ENVELOPE_SLACK: Final[int] = 64 * 1024
_SAFE_SUFFIX_CHARS: Final[frozenset[str]] = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")


class UploadTooLargeError(QuotaExceededError):
    """The upload is larger than ``LANGFLIX_MAX_UPLOAD_BYTES``."""


class MalformedUploadError(LangFlixError):
    """The request body is not a well-formed multipart/form-data message."""


class InvalidFieldError(InvalidOptionError):
    """A form field is missing, unknown, repeated or has a bad value."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}", [(field_name, message)])
        self.field = field_name
        self.reason = message


@dataclass(frozen=True)
class Part:
    """One part's headers; its body is read with :meth:`MultipartReader.iter_part`."""

    name: str
    filename: str | None
    content_type: str | None


class MultipartReader:
    """Pull parts one at a time out of a pushed byte stream.

    python-multipart's parser is push-based (callbacks fire inside ``write``);
    the callbacks only append events to a small queue and the reader feeds the
    parser one network chunk at a time when the queue runs dry. So memory holds
    at most one chunk's worth of events, whatever the size of the body.
    """

    def __init__(self, chunks: AsyncIterator[bytes], boundary: bytes) -> None:
        self._chunks = chunks.__aiter__()
        self._events: collections.deque[tuple[str, object]] = collections.deque()
        self._headers: list[tuple[bytes, bytes]] = []
        self._field = bytearray()
        self._value = bytearray()
        self._eof = False
        self._in_part = False
        self.parts = 0
        try:
            self._parser = MultipartParser(
                boundary,
                callbacks={
                    "on_part_begin": self._on_part_begin,
                    "on_header_field": self._on_header_field,
                    "on_header_value": self._on_header_value,
                    "on_header_end": self._on_header_end,
                    "on_headers_finished": self._on_headers_finished,
                    "on_part_data": self._on_part_data,
                    "on_part_end": self._on_part_end,
                    "on_end": self._on_end,
                },
                max_header_count=16,
                max_header_size=8192,
            )
        except (ValueError, MultipartParseError) as exc:
            raise MalformedUploadError(f"bad multipart boundary: {exc}") from exc

    # -- parser callbacks (run inside parser.write) ----------------------------

    def _on_part_begin(self) -> None:
        self._headers = []

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _on_header_end(self) -> None:
        self._headers.append((bytes(self._field).lower(), bytes(self._value)))
        self._field.clear()
        self._value.clear()

    def _on_headers_finished(self) -> None:
        self._events.append(("part", self._headers))

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        if end > start:
            self._events.append(("data", data[start:end]))

    def _on_part_end(self) -> None:
        self._events.append(("part_end", None))

    def _on_end(self) -> None:
        self._events.append(("end", None))

    # -- pulling ----------------------------------------------------------------

    async def _next_event(self) -> tuple[str, object]:
        while not self._events:
            if self._eof:
                raise MalformedUploadError(
                    "the request body ended before the closing multipart boundary; "
                    "the upload was cut short, send it again"
                )
            try:
                chunk = await self._chunks.__anext__()
            except StopAsyncIteration:
                self._eof = True
                self._parser.finalize()
                continue
            if not chunk:
                continue
            try:
                self._parser.write(chunk)
            except MultipartParseError as exc:
                raise MalformedUploadError(f"the multipart body is malformed: {exc}") from exc
        return self._events.popleft()

    async def next_part(self) -> Part | None:
        """The next part's headers, or None after the closing boundary."""
        if self._in_part:  # the previous part was not read to its end: skip the rest
            async for _ in self.iter_part():
                pass
        while True:
            kind, payload = await self._next_event()
            if kind == "end":
                return None
            if kind == "part":
                self.parts += 1
                self._in_part = True
                return _make_part(payload)  # type: ignore[arg-type]
            # Stray data outside a part cannot happen with a sane parser; ignore it.

    async def iter_part(self) -> AsyncIterator[bytes]:
        """The body of the current part, chunk by chunk."""
        while self._in_part:
            kind, payload = await self._next_event()
            if kind == "data":
                yield payload  # type: ignore[misc]
            elif kind in ("part_end", "end"):
                self._in_part = False

    async def read_part(self, limit: int) -> bytes:
        """The whole (small) body of the current part; at most ``limit`` bytes."""
        buf = bytearray()
        async for chunk in self.iter_part():
            buf += chunk
            if len(buf) > limit:
                raise MalformedUploadError(f"a form field is longer than {limit} bytes")
        return bytes(buf)


def _make_part(headers: list[tuple[bytes, bytes]]) -> Part:
    disposition = content_type = None
    for key, value in headers:
        if key == b"content-disposition":
            disposition = value
        elif key == b"content-type":
            content_type = value.decode("latin-1").strip()
    if disposition is None:
        raise MalformedUploadError("a multipart part has no Content-Disposition header")
    kind, params = parse_options_header(disposition)
    if kind != b"form-data" or b"name" not in params:
        raise MalformedUploadError("a multipart part is not form-data with a name")
    filename = params.get(b"filename")
    return Part(
        name=params[b"name"].decode("utf-8", "replace"),
        filename=None if filename is None else filename.decode("utf-8", "replace"),
        content_type=content_type,
    )


@dataclass(frozen=True)
class JobUpload:
    """What a job submission brought: two or three files inside the job's scope and the form fields."""

    video: Path
    subtitles: Path
    video_filename: str
    subtitle_filename: str
    fields: dict[str, str] = field(default_factory=dict)
    bytes_received: int = 0
    translation: Path | None = None
    translation_filename: str | None = None

    def files(self) -> tuple[Path, ...]:
        """The uploaded files in the scope: the video, the subtitles, then the translation when sent."""
        return (self.video, self.subtitles) + (() if self.translation is None else (self.translation,))

    def client_names(self) -> tuple[str, ...]:
        """The names the client gave :meth:`files`, in the same order: what any answer calls them."""
        names = (self.video_filename, self.subtitle_filename)
        return names + (() if self.translation is None else (self.translation_filename or "translation",))


def client_suffix(filename: str) -> str:
    """The lower-cased extension of a client's file name, reduced to safe characters.

    Only the suffix of a user's name ever reaches the disk (the manager picks the
    rest), and only letters and digits of it: no separator, no ``..``.
    """
    name = PureWindowsPath(PurePosixPath(filename).name).name  # C:\\x\\a.srt or ../a.srt -> a.srt
    suffix = PurePosixPath(name).suffix.lower()
    if not suffix or len(suffix) > 9 or not set(suffix[1:]) <= _SAFE_SUFFIX_CHARS:
        return ""
    return suffix


def _boundary(content_type: str | None) -> bytes:
    if not content_type:
        raise UnsupportedMediaError(
            "the request has no Content-Type; send multipart/form-data with the files 'video' and 'subtitle'"
        )
    kind, params = parse_options_header(content_type)
    if kind != b"multipart/form-data":
        raise UnsupportedMediaError(
            f"the request body is {kind.decode('latin-1') or 'untyped'}; "
            "send multipart/form-data with the files 'video' and 'subtitle'"
        )
    boundary = params.get(b"boundary")
    if not boundary:
        raise MalformedUploadError("the multipart/form-data Content-Type has no boundary")
    return boundary


def body_ceiling(max_upload_bytes: int) -> int:
    """The most bytes a job submission's body may have: the files' limit plus the multipart envelope."""
    return max_upload_bytes + _ENVELOPE_SLACK


def check_declared_length(content_length: int | None, max_upload_bytes: int) -> None:
    """Refuse a body whose declared length is over the limit, before a byte of it is read (413)."""
    if content_length is not None and content_length > body_ceiling(max_upload_bytes):
        raise UploadTooLargeError(
            f"the upload is {content_length} bytes, more than LANGFLIX_MAX_UPLOAD_BYTES "
            f"({max_upload_bytes} bytes); send smaller files or raise the setting"
        )


async def receive_job_upload(
    chunks: AsyncIterator[bytes],
    *,
    content_type: str | None,
    content_length: int | None,
    area: TempArea,
    max_upload_bytes: int,
) -> JobUpload:
    """Stream a job submission's body into ``area``; fields are returned unvalidated.

    The caller owns ``area`` and must close it on any error: that is what
    removes a partial file when the client disconnects or a limit is crossed.
    """
    boundary = _boundary(content_type)
    check_declared_length(content_length, max_upload_bytes)
    # Claim the disk/budget before the first byte lands: a 2 GiB upload onto a
    # nearly full disk fails at once with 507 instead of after minutes, and
    # concurrent uploads cannot all count on the same free space. The files
    # fill the claim as they stream (a reservation is a floor, not an extra).
    with area.reserve(content_length or 0, "the upload") as claim:
        return await _receive(chunks, boundary, area, max_upload_bytes, claim)


async def _receive(
    chunks: AsyncIterator[bytes],
    boundary: bytes,
    area: TempArea,
    max_upload_bytes: int,
    claim: Reservation,
) -> JobUpload:
    reader = MultipartReader(chunks, boundary)
    files: dict[str, tuple[Path, str]] = {}
    fields: dict[str, str] = {}
    received = 0

    async def counted(part_name: str) -> AsyncIterator[bytes]:
        nonlocal received
        async for chunk in reader.iter_part():
            received += len(chunk)
            if received > max_upload_bytes:
                # Raised before the chunk is written: the file never holds a
                # byte beyond the limit, and awrite_stream removes it.
                raise UploadTooLargeError(
                    f"the upload passed LANGFLIX_MAX_UPLOAD_BYTES ({max_upload_bytes} bytes) "
                    f"while receiving {part_name!r}; send smaller files or raise the setting"
                )
            yield chunk

    while (part := await reader.next_part()) is not None:
        if reader.parts > _MAX_PARTS:
            raise MalformedUploadError(f"the upload has more than {_MAX_PARTS} parts")
        if part.name in files or part.name in fields:
            raise InvalidFieldError(part.name, "given more than once; send it once")
        if part.name in FILE_FIELDS or part.name in OPTIONAL_FILE_FIELDS:
            if part.filename is None:
                raise InvalidFieldError(part.name, "must be a file (multipart part with a filename)")
            suffix = client_suffix(part.filename)
            if part.name in ("subtitle", "translation") and suffix not in SUPPORTED_SUFFIXES:
                raise UnsupportedMediaError(
                    f"{part.name} {part.filename!r} has an unsupported format; "
                    f"use one of {', '.join(sorted(SUPPORTED_SUFFIXES))}"
                )
            path = await awrite_stream(
                area, counted(part.name), suffix=suffix, prefix=f"{part.name}-", claim=claim
            )
            files[part.name] = (path, part.filename)
        elif part.name in FORM_FIELDS:
            raw = await reader.read_part(_MAX_FIELD_BYTES)
            try:
                fields[part.name] = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise InvalidFieldError(part.name, "is not valid UTF-8 text") from exc
        else:
            raise InvalidFieldError(
                part.name,
                f"unknown field; send the files {' and '.join(FILE_FIELDS)} "
                f"and optionally the file {', '.join(OPTIONAL_FILE_FIELDS)} and {', '.join(FORM_FIELDS)}",
            )
    for name in FILE_FIELDS:
        if name not in files:
            raise InvalidFieldError(name, "field required (a file)")
    return JobUpload(
        video=files["video"][0],
        subtitles=files["subtitle"][0],
        video_filename=files["video"][1],
        subtitle_filename=files["subtitle"][1],
        fields=fields,
        bytes_received=received,
        translation=files["translation"][0] if "translation" in files else None,
        translation_filename=files["translation"][1] if "translation" in files else None,
    )


async def probe_video(upload: JobUpload, tools: FFmpegTools) -> None:
    """Refuse an uploaded "video" that ``tools``' ffprobe cannot read as video (415).

    A playlist or any other format off ffmpeg's allow-list is refused here,
    before any job exists: ffprobe recognised it and read nothing it names.
    ffprobe runs in a worker thread: it is a subprocess that may take a second
    on a big file, and the event loop must keep serving other requests.
    """
    try:
        info = await anyio.to_thread.run_sync(lambda: tools.probe(upload.video))
    except UnsupportedMediaError as exc:
        raise UnsupportedMediaError(_client_words(exc, upload, labelled=True)) from exc
    except FFmpegError as exc:
        raise UnsupportedMediaError(
            f"video {upload.video_filename!r} is not a readable video file: {_client_words(exc, upload)}"
        ) from exc
    if not info.has_video:
        raise UnsupportedMediaError(
            f"video {upload.video_filename!r} has no video stream; upload the episode's video file"
        )


async def probe_subtitles(upload: JobUpload, tools: FFmpegTools) -> None:
    """Refuse an uploaded "subtitle" (or "translation") that ffmpeg would open as a playlist
    or another non-subtitle format (415)."""
    for path in upload.files()[1:]:
        try:
            await anyio.to_thread.run_sync(tools.subtitle_input, path)
        except UnsupportedMediaError as exc:
            raise UnsupportedMediaError(_client_words(exc, upload, labelled=True)) from exc


def _client_words(exc: LangFlixError, upload: JobUpload, *, labelled: bool = False) -> str:
    """``exc``'s message with the upload's temp paths written as the names the client sent.

    ``labelled``: "video 'x.mp4'" rather than "x.mp4", for a message that starts with the path.
    """
    text = str(exc)
    for path, name, label in zip(upload.files(), upload.client_names(), _FILE_LABELS, strict=False):
        text = text.replace(str(path), f"{label} {name!r}" if labelled else name)
    return text
