"""The one exception tree of LangFlix.

Every error LangFlix raises on purpose derives from :class:`LangFlixError`, so a
caller (the CLI, the API) can catch the family in one place and show the
message, which is written for the person who has to act on it::

    LangFlixError
    ├── ConfigError              a setting has a value that cannot work
    │   └── InvalidOptionError   an option (flag, form field, setting) is out of its range or choices
    ├── TempFileError            the temp-file life cycle failed
    │   ├── QuotaExceededError   a manager's or scope's byte budget would be exceeded
    │   └── InsufficientDiskSpaceError   the filesystem lacks the free space asked for
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
    "ConfigError",
    "ExpressionError",
    "FFmpegError",
    "InsufficientDiskSpaceError",
    "InvalidOptionError",
    "JobError",
    "LangFlixError",
    "QueueFullError",
    "QuotaExceededError",
    "SubtitleError",
    "TTSError",
    "TempFileError",
    "TranslationError",
    "UnsupportedMediaError",
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
    """The filesystem does not have the free space the work needs."""


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
