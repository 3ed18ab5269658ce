"""The one exception tree of LangFlix.

Every error LangFlix raises on purpose derives from :class:`LangFlixError`, so a
caller (the CLI, the API) can catch the family in one place and show the
message, which is written for the person who has to act on it::

    LangFlixError
    ├── ConfigError              a setting has a value that cannot work
    ├── TempFileError            the temp-file life cycle failed
    │   ├── QuotaExceededError   a manager's or scope's byte budget would be exceeded
    │   └── InsufficientDiskSpaceError   the filesystem lacks the free space asked for
    ├── SubtitleError            a subtitle file cannot be read or holds no usable cue
    ├── ExpressionError          no expression could be chosen
    ├── FFmpegError              ffmpeg/ffprobe failed, timed out or is missing
    ├── TTSError                 a text-to-speech provider failed
    ├── JobError                 a job cannot be created, found or changed
    │   └── QueueFullError       the worker queue is full
    └── CancelledError           the work was cancelled on request

Third-party errors are wrapped with ``raise ... from exc`` so the cause stays visible.
"""

from __future__ import annotations

__all__ = [
    "CancelledError",
    "ConfigError",
    "ExpressionError",
    "FFmpegError",
    "InsufficientDiskSpaceError",
    "JobError",
    "LangFlixError",
    "QueueFullError",
    "QuotaExceededError",
    "SubtitleError",
    "TTSError",
    "TempFileError",
]


class LangFlixError(Exception):
    """Root of every error LangFlix raises on purpose."""


class ConfigError(LangFlixError):
    """A setting has a value that cannot work."""


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


class FFmpegError(LangFlixError):
    """ffmpeg or ffprobe failed, timed out, or is not installed."""


class TTSError(LangFlixError):
    """A text-to-speech provider failed."""


class JobError(LangFlixError):
    """A job cannot be created, found or changed."""


class QueueFullError(JobError):
    """The worker queue is full; try again later."""


class CancelledError(LangFlixError):
    """The work was cancelled on request."""
