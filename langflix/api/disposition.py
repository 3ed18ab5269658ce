"""``Content-Disposition`` for a download: a name no client can misread (RFC 6266, RFC 5987).

A file's name reaches the header only through :func:`content_disposition`:
path parts, control and format characters (CR/LF, NUL, right-to-left
overrides) are dropped, the quoted ``filename`` is a plain ASCII fallback
without quotes or backslashes, and the real name goes percent-encoded in
``filename*=UTF-8''...`` for the clients that read it (every current browser).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final, Literal
from urllib.parse import quote

__all__ = ["content_disposition", "download_name"]

_MAX_CHARS: Final[int] = 180
_UNSAFE_ASCII: Final[re.Pattern[str]] = re.compile(r"[^A-Za-z0-9._ ()+-]+")


def download_name(name: str, *, default: str = "download") -> str:
    """The last part of ``name`` (either slash), without control/format characters, dots or spaces at its ends."""
    base = re.split(r"[\\/]", name)[-1]
    kept = "".join(
        ch for ch in unicodedata.normalize("NFC", base) if unicodedata.category(ch)[0] not in "CZ" or ch == " "
    )
    kept = kept.strip(" .")[:_MAX_CHARS]
    return kept or default


def _ascii_fallback(name: str) -> str:
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    stem, dot, suffix = folded.rpartition(".") if "." in folded else (folded, "", "")
    stem = _UNSAFE_ASCII.sub("_", stem).strip(" ._") or "download"  # nothing of it ASCII: a name that still opens
    suffix = _UNSAFE_ASCII.sub("", suffix)
    return f"{stem}.{suffix}" if suffix else stem


def content_disposition(name: str, disposition: Literal["attachment", "inline"] = "attachment") -> str:
    """The header value for a file called ``name``: ``attachment; filename="..."[; filename*=UTF-8''...]``."""
    clean = download_name(name)
    fallback = _ascii_fallback(clean)
    value = f'{disposition}; filename="{fallback}"'
    if fallback != clean:
        value += f"; filename*=UTF-8''{quote(clean, safe='')}"
    return value
