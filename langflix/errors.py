"""The one exception tree of LangFlix.

Every error LangFlix raises on purpose derives from :class:`LangFlixError`, so a
caller (the CLI, the API) can catch the family in one place and show the
message, which is written for the person who has to act on it::

    LangFlixError
    ├── ConfigError              a setting has a value that cannot work
    │   └── InvalidOptionError   an option (flag, form field, setting) is out of its range or choices
    ├── TempFileError            the temp-file life cycle failed
    │   ├── QuotaExceededError   a manager's or scope's byte budget would be exceeded
    │   ├── InsufficientDiskSpaceError   the filesystem lacks the space (or the inodes) asked for
    │   ├── DestinationExistsError       persist was told not to replace what is there
    │   ├── OwnerUnknownError    a sweep cannot ask an area's owner (its lease server is down): kept
    │   └── UploadError          a resumable upload cannot be found, written or used
    │       ├── UploadNotFoundError      no such upload (never made, deleted, or reclaimed)
    │       ├── UploadExpiredError       the upload passed its expiry
    │       ├── UploadConflictError      wrong offset, another request on it, or not complete
    │       ├── UploadLengthError        more bytes than the upload's declared length
    │       └── ChecksumMismatchError    a chunk's bytes do not match the checksum sent with them
    ├── SubtitleError            a subtitle file cannot be read or holds no usable cue
    ├── ExpressionError          no expression could be chosen
    ├── TranslationError         the optional translator (the chat model) failed
    ├── FFmpegError              ffmpeg/ffprobe failed, timed out or is missing
    ├── UnsupportedMediaError    an input is of a kind LangFlix will not open (a playlist, an image...)
    ├── TTSError                 a text-to-speech provider failed
    ├── JobError                 a job cannot be created, found or changed
    │   ├── QueueFullError       the worker queue is full
    │   └── BackendUnavailableError   the job store and queue server (Redis) cannot be reached
    └── CancelledError           the work was cancelled on request

Third-party errors are wrapped with ``raise ... from exc`` so the cause stays visible.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Self

__all__ = [
    "BackendUnavailableError",
    "CancelledError",
    "ChecksumMismatchError",
    "ConfigError",
    "DestinationExistsError",
    "ExpressionError",
    "FFmpegError",
    "InsufficientDiskSpaceError",
    "InvalidOptionError",
    "JobError",
    "LangFlixError",
    "OwnerUnknownError",
    "QueueFullError",
    "QuotaExceededError",
    "SubtitleError",
    "TTSError",
    "TempFileError",
    "TranslationError",
    "UnsupportedMediaError",
    "UploadConflictError",
    "UploadError",
    "UploadExpiredError",
    "UploadLengthError",
    "UploadNotFoundError",
]


class LangFlixError(Exception):
    """Root of every error LangFlix raises on purpose."""


class ConfigError(LangFlixError):
    """A setting has a value that cannot work."""


class InvalidOptionError(ConfigError, ValueError):
    """An option has a value outside its range or choices; ``problems`` names each one.

    Also a ``ValueError``, with the built-in's meaning: code that validates with
    ``except ValueError`` keeps working. ``problems`` pairs an option's name
    (``"repeat"``, ``"output_format.width"``) with what is wrong with its value.
    """

    def __init__(self, message: str, problems: Sequence[tuple[str, str]] = ()) -> None:
        super().__init__(message)
        self.problems: tuple[tuple[str, str], ...] = tuple(problems)

    @classmethod
    def of(cls, problems: Sequence[tuple[str, str]]) -> Self:
        """One error for all ``problems``: "repeat: must be between 1 and 20, got 99; ..."."""
        return cls("; ".join(f"{name}: {reason}" for name, reason in problems), problems)


class TempFileError(LangFlixError):
    """The temp-file life cycle failed (creation, budget, persist)."""


class QuotaExceededError(TempFileError):
    """A manager's or scope's byte budget would be exceeded."""


class InsufficientDiskSpaceError(TempFileError):
    """The filesystem does not have the free space (or the free inodes) the work needs."""


class DestinationExistsError(TempFileError):
    """``persist(..., replace=False)`` found its destination taken; nothing was moved."""


class OwnerUnknownError(TempFileError):
    """A sweep cannot ask whether an area's owner is gone (its lease server is down): the area is kept."""


class UploadError(TempFileError):
    """A resumable upload cannot be found, written or used."""


class UploadNotFoundError(UploadError):
    """No such upload: never made, deleted, or reclaimed by the sweep after it expired."""


class UploadExpiredError(UploadError):
    """The upload passed its expiry; the sweep reclaims it, a client starts over."""


class UploadConflictError(UploadError):
    """The upload is not where the request says: another offset, another request writing it, not complete."""


class UploadLengthError(UploadError):
    """More bytes were sent than the upload's declared length."""


class ChecksumMismatchError(UploadError):
    """A chunk's bytes do not match the checksum sent with them; the chunk was not kept."""


class SubtitleError(LangFlixError):
    """A subtitle file cannot be read, or holds no usable cue."""


class ExpressionError(LangFlixError):
    """No expression could be chosen from the subtitles."""


class TranslationError(LangFlixError):
    """The optional translator (the chat model) failed; the lesson goes on without its lines."""


class FFmpegError(LangFlixError):
    """ffmpeg or ffprobe failed, timed out, or is not installed."""


class UnsupportedMediaError(LangFlixError):
    """An input file is of a kind LangFlix will not open: a playlist, an image, an unknown format.

    Playlists and lists of other files are refused, not merely unsupported:
    opening one would make ffmpeg read whatever files it names.
    """


class TTSError(LangFlixError):
    """A text-to-speech provider failed."""


class JobError(LangFlixError):
    """A job cannot be created, found or changed."""


class QueueFullError(JobError):
    """The worker queue is full; try again later."""


class BackendUnavailableError(JobError):
    """The server that holds the jobs' state and queue (Redis) cannot be reached right now."""


class CancelledError(LangFlixError):
    """The work was cancelled on request."""
