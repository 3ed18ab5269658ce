"""Names and creation: user-supplied name parts that cannot escape, files and dirs nobody can guess.

Prefixes and suffixes come from users (job ids, upload names). Rather than
refuse them, path separators, NUL and ``..`` are replaced by ``_``: sanitised,
never raised, so every name is one component directly inside its directory.
New files are 0600, created exclusively under 48 random bits; new dirs 0700.
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path
from typing import Final, Literal

from langflix.errors import InsufficientDiskSpaceError, TempFileError

__all__ = [
    "DEFAULT_PREFIX",
    "create_dir",
    "create_file",
    "creation_error",
    "is_inside",
    "safe_prefix",
    "safe_suffix",
]

DEFAULT_PREFIX: Final = "langflix_"
MAX_PREFIX_BYTES: Final = 80
MAX_SUFFIX_BYTES: Final = 32
NAME_ATTEMPTS: Final = 100
_FILE_FLAGS: Final = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def safe_prefix(value: str) -> str:
    """``value`` made a harmless name start: its first 80 bytes (whole characters)."""
    return _safe_part(value, "prefix", MAX_PREFIX_BYTES)


def safe_suffix(value: str) -> str:
    """``value`` made a harmless name end: its last 32 bytes, so the extension survives."""
    return _safe_part(value, "suffix", MAX_SUFFIX_BYTES)


def _safe_part(value: str, what: Literal["prefix", "suffix"], limit: int) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str, not {type(value).__name__}")
    cleaned = value.replace("\0", "_").replace("/", "_").replace("\\", "_")
    while ".." in cleaned:
        cleaned = cleaned.replace("..", "_")
    cleaned = cleaned[:limit] if what == "prefix" else cleaned[-limit:]
    try:
        encoded = os.fsencode(cleaned)
    except UnicodeEncodeError:
        # A lone surrogate (a JSON job id "\ud800", say) has no bytes on disk.
        cleaned = "".join(ch if _encodable(ch) else "_" for ch in cleaned)
        encoded = os.fsencode(cleaned)
    # NAME_MAX counts bytes, not characters: 80 Korean characters are 240 bytes,
    # and a name over 255 bytes fails with ENAMETOOLONG. Trim whole characters.
    while len(encoded) > limit:
        cleaned = cleaned[:-1] if what == "prefix" else cleaned[1:]
        encoded = os.fsencode(cleaned)
    return cleaned


def _encodable(ch: str) -> bool:
    try:
        os.fsencode(ch)
    except UnicodeEncodeError:
        return False
    return True


def create_file(directory: str, prefix: str, suffix: str) -> str:
    """Create an empty, closed file (0600) named ``<prefix><12 hex><suffix>`` in ``directory``.

    What ``mkstemp`` guarantees (``O_EXCL``, 0600, 48 unpredictable bits from
    ``os.urandom``) without its per-call overhead; the name parts must already
    be safe. Returns the path as ``str`` (the caller's tracking key).
    """
    for _attempt in range(NAME_ATTEMPTS):
        # ``directory`` is the str of an absolute Path (no trailing "/") and the
        # name one safe component, so a plain join is exact.
        path = f"{directory}/{prefix}{os.urandom(6).hex()}{suffix}"
        try:
            fd = os.open(path, _FILE_FLAGS, 0o600)
        except FileExistsError:
            continue
        except OSError as exc:
            raise creation_error(directory, exc, "a temp file") from exc
        os.close(fd)
        return path
    raise TempFileError(
        f"could not find a free temp file name in {directory} after {NAME_ATTEMPTS} tries; "
        "is something creating files there?"
    )


def create_dir(directory: str | os.PathLike[str], prefix: str) -> str:
    """Create a new directory (0700) named ``<prefix><random>`` in ``directory``; returns its path."""
    try:
        return tempfile.mkdtemp(prefix=prefix, dir=directory)
    except OSError as exc:
        raise creation_error(directory, exc, "a temp directory") from exc


def creation_error(where: str | os.PathLike[str], exc: OSError, what: str = "a temp session") -> TempFileError:
    """The family's error for an ``OSError`` raised while creating ``what`` in ``where``.

    ENOSPC is also what a filesystem out of inodes says: the message names both.
    """
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return InsufficientDiskSpaceError(
            f"cannot create {what} in {where}: the filesystem has no space or no free inodes left "
            f"({exc.strerror}). Free some space, or point LANGFLIX_TEMP_DIR at a larger disk."
        )
    return TempFileError(
        f"cannot create {what} in {where}: {exc.strerror or exc}. Check that the directory exists and is "
        "writable by you, or point LANGFLIX_TEMP_DIR elsewhere."
    )


def is_inside(path: Path, base: Path) -> bool:
    """Whether ``path`` (absolute) lies under ``base`` lexically and through its real directories.

    The directories are resolved but not the last component (a registered
    symlink is removed as a link): ``<base>/link-to-home/thesis.docx`` is
    lexically inside ``base`` but cleanup would delete the user's file through
    the symlink, so it is not inside.
    """
    real = Path(os.path.realpath(path.parent)) / path.name
    return path.is_relative_to(base) and real.is_relative_to(os.path.realpath(base))
