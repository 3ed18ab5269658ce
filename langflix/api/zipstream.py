"""A zip archive written as a stream of chunks: no temp copy, no whole file in memory.

:func:`zip_stream` yields the bytes of a zip of the given files as it reads
them, a chunk at a time, so an episode of several GiB downloads as one
``.zip`` while the server holds one chunk. The standard library's ``zipfile``
writes to a sink it cannot seek: each entry then carries its sizes and CRC in
a data descriptor after its data (what ``zipfile``, Info-ZIP and every
desktop archiver read), and ZIP64 records where a file is over 4 GiB. Videos,
images and archives are STORED (compressing them again costs CPU for nothing);
text is DEFLATED. Holds no HTTP types.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Final

__all__ = ["STORED_SUFFIXES", "compression_for", "zip_stream"]

STORED_SUFFIXES: Final[frozenset[str]] = frozenset(
    {".mp4", ".m4v", ".mkv", ".webm", ".mov", ".mp3", ".m4a", ".aac", ".wav", ".ogg", ".opus",
     ".jpg", ".jpeg", ".png", ".webp", ".gif", ".zip", ".apkg", ".gz"}
)  # fmt: skip
"""Already compressed: written as they are."""
_CHUNK: Final[int] = 1024 * 1024


def compression_for(name: str) -> int:
    """``ZIP_STORED`` for media and archives, ``ZIP_DEFLATED`` for the rest (manifest, subtitles, text)."""
    return zipfile.ZIP_STORED if Path(name).suffix.lower() in STORED_SUFFIXES else zipfile.ZIP_DEFLATED


class _Sink(io.RawIOBase):
    """Where ``zipfile`` writes: keeps what was written until :meth:`drain`; tells its offset, cannot seek."""

    def __init__(self) -> None:
        super().__init__()
        self._parts: list[bytes] = []
        self._offset = 0

    def writable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        chunk = bytes(data)
        self._parts.append(chunk)
        self._offset += len(chunk)
        return len(chunk)

    def tell(self) -> int:
        return self._offset

    def drain(self) -> Iterator[bytes]:
        if self._parts:
            data, self._parts = b"".join(self._parts), []
            yield data


def zip_stream(files: Iterable[tuple[str, Path]], *, chunk_size: int = _CHUNK) -> Iterator[bytes]:
    """The zip of ``files`` (name in the archive, path on disk), as chunks of about ``chunk_size`` bytes."""
    sink = _Sink()
    with zipfile.ZipFile(sink, "w", allowZip64=True) as archive:
        for name, path in files:
            info = zipfile.ZipInfo.from_file(path, name)
            info.compress_type = compression_for(name)
            # from_file sets file_size: zipfile writes ZIP64 headers from the start when it needs them.
            with path.open("rb") as source, archive.open(info, "w") as entry:
                while chunk := source.read(chunk_size):
                    entry.write(chunk)
                    yield from sink.drain()
            yield from sink.drain()
    yield from sink.drain()
