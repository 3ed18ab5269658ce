"""Settings read from the environment (``LANGFLIX_*``) with safe defaults.

One object, :class:`Settings`, is the only place a setting is read, so the CLI,
the pipeline and the API agree on every value. It is also where settings become
the objects the lower layers take (they never read settings themselves): the
output format, the ffmpeg tools, the TTS client and the LLM selector.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar, Final
from urllib.parse import urlsplit

import httpx
from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from langflix.cancel import CancelToken
from langflix.core.ffmpeg import FFmpegTools
from langflix.core.http import HttpOptions
from langflix.core.llm_cache import LLMCache
from langflix.core.llm_selector import DEFAULT_LLM_HTTP, LLMExpressionSelector
from langflix.core.output_format import (
    DEFAULT_FORMAT,
    DEFAULT_SHORT_FORMAT,
    FramesPerSecond,
    OutputFormat,
    Pixels,
    Quality,
    ShortFormat,
    X264Preset,
)
from langflix.errors import ConfigError, InvalidOptionError
from langflix.temp import TempSettings
from langflix.tts import (
    DEFAULT_TTS,
    NO_TTS,
    EspeakTTS,
    GoogleTTS,
    LemonfoxTTS,
    ProviderConfig,
    TTSClient,
    TTSName,
    create_tts_client,
    tts_provider,
)

__all__ = ["ENV_PREFIX", "LLM_CACHE_NAME", "MAX_AUTO_CONCURRENCY", "MIN_TOKEN_CHARS", "Settings", "get_settings"]

ENV_PREFIX: Final[str] = "LANGFLIX_"
MIN_TOKEN_CHARS: Final[int] = 16
"""The shortest API token accepted: a guessable token is no lock."""
_TOKEN_ADVICE: Final[str] = (
    "make one with: python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"
)
_VIDEO_FIELDS: Final[tuple[str, ...]] = ("width", "height", "fps", "crf", "preset")
_REDIS_SCHEMES: Final[tuple[str, ...]] = ("redis", "rediss", "unix")
LLM_CACHE_NAME: Final[str] = "llm-cache.sqlite3"
MAX_AUTO_CONCURRENCY: Final[int] = 4
"""The most pieces of one job made at once when ``LANGFLIX_JOB_CONCURRENCY`` is 0 (auto)."""


class Settings(TempSettings):
    """Every knob of LangFlix; each field maps to ``LANGFLIX_<FIELD>``.

    The temp-file life cycle's own (``temp_dir``, ``temp_max_bytes``,
    ``min_free_bytes``) are declared once, in :class:`~langflix.temp.TempSettings`.
    """

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")
    secret_fields: ClassVar[frozenset[str]] = frozenset(
        {"api_token", "api_token_file", "lemonfox_api_key", "google_api_key", "llm_api_key", "redis_url"}
    )

    # Where results and state live.
    output_dir: Path = Field(default=Path("langflix-output"))
    data_dir: Path = Field(default=Path("langflix-data"), description="Job store location.")
    cache_dir: Path | None = Field(
        default=None, description="Where the LLM's answers are kept between runs (default: DATA_DIR/cache)."
    )

    # Service.
    max_upload_bytes: int = Field(default=4 * 1024**3, ge=1)
    workers: int = Field(default=2, ge=1)
    max_queue: int = Field(default=16, ge=1, description="Jobs waiting or uploading at once; more get 503.")
    job_concurrency: int = Field(
        default=0, ge=0, le=16, description="Pieces of one job made at once; 0: one per core, at most 4."
    )
    upload_idle_timeout: float = Field(
        default=30.0, gt=0, le=3600, description="Seconds an upload's body may pause before it is dropped (408)."
    )
    upload_min_rate: int = Field(
        default=32 * 1024,
        ge=1,
        le=1024**3,
        description="Bytes per second an upload's body must average (after the idle timeout's grace), or 408.",
    )
    upload_client_max_uploads: int = Field(
        default=8, ge=1, le=1000, description="Uploads one client (peer address) may have in flight at once (429)."
    )
    upload_client_max_bytes: int | None = Field(
        default=None,
        ge=1,
        description="Bytes one client may have in flight at once (429); twice LANGFLIX_MAX_UPLOAD_BYTES when unset.",
    )
    upload_expiry: float = Field(
        default=24 * 3600.0,
        gt=0,
        le=30 * 24 * 3600,
        description="Seconds a resumable upload (/api/v1/uploads) may take from its creation before it is reclaimed.",
    )
    upload_chunk_bytes: int = Field(
        default=16 * 1024 * 1024,
        ge=64 * 1024,
        le=1024**3,
        description="Bytes the dashboard sends per resumable-upload request (a proxy's body limit, say).",
    )
    sweep_interval: float = Field(
        default=600.0,
        gt=0,
        le=24 * 3600,
        description="Seconds between the server's sweeps of dead sessions and expired uploads.",
    )
    public_url: str | None = Field(
        default=None,
        description="The service's public base URL (https://host/prefix) for the URLs it gives; relative when unset.",
    )

    # Access: who may use the service and its dashboard.
    api_token: SecretStr | None = Field(
        default=None,
        description="The token every API call (Authorization: Bearer) and the dashboard's login need; none when unset.",
    )
    api_token_file: Path | None = Field(
        default=None, description="A file holding the API token (instead of LANGFLIX_API_TOKEN); read at start."
    )
    metrics_public: bool = Field(
        default=False, description="Serve /api/v1/metrics without the token (a scraper on a trusted network)."
    )
    session_max_age: int = Field(
        default=12 * 3600,
        ge=60,
        le=30 * 24 * 3600,
        description="Seconds a dashboard login lasts before the token is asked again.",
    )
    insecure_no_auth: bool = Field(
        default=False,
        description="Serve without a token on any address, answering any Host (langflix serve --insecure-no-auth).",
    )

    # Scale-out: jobs queued on RQ in Redis and run by `langflix worker` on any host.
    redis_url: str | None = Field(
        default=None,
        description="Redis for jobs and their state (redis://host:6379/0); the in-process pool and SQLite when unset.",
    )
    shared_dir: Path | None = Field(
        default=None,
        validate_default=True,
        description="A directory every API and worker host mounts: staged uploads and published outputs.",
    )
    redis_queue: str = Field(
        default="langflix", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$",
        description="The RQ queue the API puts jobs on (langflix worker --queues takes them).",
    )  # fmt: skip
    lease_ttl: float = Field(
        default=30.0,
        ge=1.0,
        le=3600.0,
        description="Seconds a job's lease lives unrenewed: how long a lost API or worker is trusted to come back.",
    )
    job_retries: int = Field(
        default=1, ge=0, le=10, description="Times a job whose worker was lost is run again before it fails."
    )

    # The jobs' video format, for the service and the CLI alike (its flags override it).
    video_width: Pixels = DEFAULT_FORMAT.width
    video_height: Pixels = DEFAULT_FORMAT.height
    video_fps: FramesPerSecond = DEFAULT_FORMAT.fps
    video_crf: Quality = DEFAULT_FORMAT.crf
    video_preset: X264Preset = DEFAULT_FORMAT.preset
    shorts_width: Pixels = DEFAULT_SHORT_FORMAT.width
    shorts_height: Pixels = DEFAULT_SHORT_FORMAT.height

    # External tools.
    ffmpeg_binary: str = "ffmpeg"
    ffprobe_binary: str = "ffprobe"
    ffmpeg_timeout: float = Field(default=1800.0, gt=0)

    # Text to speech: LANGFLIX_<PROVIDER>_<FIELD> configures a provider of the registry.
    tts: TTSName = DEFAULT_TTS
    tts_timeout: float = Field(default=30.0, gt=0)
    tts_retries: int = Field(default=2, ge=0)
    espeak_binary: str = EspeakTTS.default_binary
    lemonfox_api_key: str | None = None
    lemonfox_base_url: str = LemonfoxTTS.default_base_url
    lemonfox_voice: str | None = LemonfoxTTS.default_voice
    google_api_key: str | None = None
    google_base_url: str = GoogleTTS.default_base_url

    # Optional LLM expression selector (OpenAI-compatible chat API).
    llm_base_url: str | None = None
    llm_api_key: str | None = None
    llm_model: str = "gpt-4o-mini"
    llm_timeout: float = Field(default=DEFAULT_LLM_HTTP.timeout, gt=0)
    translation_language: str = Field(
        default="ko", min_length=2, max_length=16, description="The language the LLM translates the lines into."
    )

    @field_validator(
        "upload_client_max_bytes", "public_url", "api_token", "api_token_file", "redis_url", "shared_dir", mode="before"
    )
    @classmethod
    def _empty_means_unset(cls, value: Any) -> Any:
        return None if value == "" else value

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in _REDIS_SCHEMES or (parts.scheme != "unix" and not parts.hostname):
            raise ValueError(
                f"must be a Redis URL such as redis://localhost:6379/0 (schemes: {', '.join(_REDIS_SCHEMES)}), "
                f"got {_without_password(value)!r}"
            )
        return value

    @field_validator("shared_dir")
    @classmethod
    def _scale_out_needs_shared_dir(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        if value is None and info.data.get("redis_url") is not None:
            raise ValueError(
                f"{ENV_PREFIX}REDIS_URL is set, so jobs may run on other hosts: set {ENV_PREFIX}SHARED_DIR to a "
                "directory every API and worker host mounts (uploads are staged and outputs published there)"
            )
        return value

    @model_validator(mode="after")
    def _outputs_in_shared_dir(self) -> Settings:
        if self.redis_url is not None and self.shared_dir is not None and "output_dir" not in self.model_fields_set:
            # Published where every API host can serve them from.
            self.output_dir = self.shared_dir / "outputs"
        return self

    @property
    def scaled_out(self) -> bool:
        """Whether jobs go through Redis and RQ workers (``LANGFLIX_REDIS_URL`` is set)."""
        return self.redis_url is not None

    def staging_dir(self) -> Path:
        """Where uploads are staged for workers on any host: ``<LANGFLIX_SHARED_DIR>/staging``."""
        if self.shared_dir is None:
            raise ConfigError(f"{ENV_PREFIX}SHARED_DIR is not set; set it to a directory every host mounts")
        return self.shared_dir / "staging"

    @field_validator("public_url")
    @classmethod
    def _base_url(cls, value: str | None) -> str | None:
        """An http(s) URL of a host and an optional path, kept without its trailing slash."""
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
            raise ValueError(
                f"must be an http(s) URL of the service's host and optional path, such as "
                f"https://langflix.example.com/app, got {value!r}"
            )
        return value.rstrip("/")

    @field_validator("api_token")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        # Never echo the value: the message names its length only.
        if value is not None:
            _check_token(value.get_secret_value())
        return value

    @field_validator("api_token_file")
    @classmethod
    def _readable_token(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        if value is None:
            return None
        if info.data.get("api_token") is not None:
            raise ValueError(f"set {ENV_PREFIX}API_TOKEN or {ENV_PREFIX}API_TOKEN_FILE, not both")
        _check_token(_read_token(value))
        return value

    def access_token(self) -> str | None:
        """The API token from ``LANGFLIX_API_TOKEN`` or the file ``LANGFLIX_API_TOKEN_FILE`` names; None when unset."""
        if self.api_token is not None:
            return self.api_token.get_secret_value()
        if self.api_token_file is not None:
            return _read_token(self.api_token_file)
        return None

    @property
    def client_max_bytes(self) -> int:
        """``LANGFLIX_UPLOAD_CLIENT_MAX_BYTES``, or twice the largest upload when unset."""
        return self.upload_client_max_bytes or 2 * self.max_upload_bytes

    def output_format(self) -> OutputFormat:
        """The jobs' video format from ``LANGFLIX_VIDEO_*``; ConfigError naming the setting."""
        # Each LANGFLIX_VIDEO_<FIELD> is the format's <field> (sample_rate has no setting).
        values = {name: getattr(self, f"video_{name}") for name in _VIDEO_FIELDS}
        try:
            return OutputFormat(**values)
        except InvalidOptionError as exc:
            # A copy made with model_copy(update=...) skips the field checks: name the setting.
            names = ", ".join(f"{ENV_PREFIX}VIDEO_{field.upper()}" for field, _ in exc.problems)
            raise ConfigError(f"{exc}; check {names}") from exc

    def short_format(self) -> ShortFormat:
        """The vertical shorts' size from ``LANGFLIX_SHORTS_WIDTH``/``_HEIGHT`` (default 1080x1920)."""
        try:
            return ShortFormat(width=self.shorts_width, height=self.shorts_height)
        except InvalidOptionError as exc:
            names = ", ".join(f"{ENV_PREFIX}SHORTS_{field.upper()}" for field, _ in exc.problems)
            raise ConfigError(f"{exc}; check {names}") from exc

    def ffmpeg_tools(self) -> FFmpegTools:
        """The ffmpeg/ffprobe binaries and timeout from ``LANGFLIX_FFMPEG_*``."""
        return FFmpegTools(ffmpeg=self.ffmpeg_binary, ffprobe=self.ffprobe_binary, timeout=self.ffmpeg_timeout)

    def tts_http(self, **changes: Any) -> HttpOptions:
        """The TTS providers' HTTP options (``LANGFLIX_TTS_TIMEOUT``/``_RETRIES``) with ``changes``."""
        return HttpOptions(timeout=self.tts_timeout, retries=self.tts_retries, **changes)

    def tts_config(self, name: str) -> ProviderConfig:
        """Provider ``name``'s own settings (``LANGFLIX_<NAME>_API_KEY``, ``_BASE_URL``...)."""
        return ProviderConfig.from_values(tts_provider(name).name, self.model_dump())

    def tts_client(
        self,
        name: str | None = None,
        *,
        cancel: CancelToken | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> TTSClient:
        """The client of provider ``name`` (default ``LANGFLIX_TTS``); ConfigError when it cannot work.

        ``cancel`` stops a running espeak-ng or a retry backoff; ``transport``
        points the HTTP providers elsewhere (tests).
        """
        provider = name if name is not None else self.tts
        http = self.tts_http(cancel=cancel, transport=transport)
        return create_tts_client(provider, self.tts_config(provider), http)

    def speech(
        self,
        name: str | None = None,
        *,
        cancel: CancelToken | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> TTSClient | None:
        """:meth:`tts_client`, or None for ``none`` (no speech: the card is silent)."""
        provider = name if name is not None else self.tts
        if provider.strip().lower() == NO_TTS:
            return None
        return self.tts_client(provider, cancel=cancel, transport=transport)

    def llm_cache(self) -> LLMCache:
        """The cache of the LLM's answers: ``LANGFLIX_CACHE_DIR``, else ``LANGFLIX_DATA_DIR/cache``.

        Never the temp dir: it must outlive every job and process to spare a rerun.
        """
        return LLMCache((self.cache_dir or self.data_dir / "cache") / LLM_CACHE_NAME)

    def llm_selector(
        self, *, cancel: CancelToken | None = None, transport: httpx.BaseTransport | None = None
    ) -> LLMExpressionSelector:
        """The LLM selector of ``LANGFLIX_LLM_*``, translating into ``LANGFLIX_TRANSLATION_LANGUAGE``
        and remembering its answers (:meth:`llm_cache`); ConfigError naming a missing setting."""
        http = DEFAULT_LLM_HTTP.replace(timeout=self.llm_timeout, cancel=cancel, transport=transport)
        return LLMExpressionSelector(
            self.llm_base_url or "", self.llm_api_key or "", self.llm_model, http=http,
            translation_language=self.translation_language, cache=self.llm_cache(),
        )  # fmt: skip

    def concurrency(self) -> int:
        """How many pieces of one job run at once: ``LANGFLIX_JOB_CONCURRENCY``, or one per core
        this process may use (at most :data:`MAX_AUTO_CONCURRENCY`)."""
        if self.job_concurrency:
            return self.job_concurrency
        try:
            cores = len(os.sched_getaffinity(0))
        except (AttributeError, OSError):  # not Linux
            cores = os.cpu_count() or 1
        return max(1, min(cores, MAX_AUTO_CONCURRENCY))


def _read_token(path: Path) -> str:
    """The token a file holds: its text without surrounding whitespace (a trailing newline)."""
    try:
        return path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        raise ValueError(f"cannot read the token file {path}: {reason}; point it at a readable UTF-8 file") from exc


def _without_password(url: str) -> str:
    """``url`` with any password replaced, for a message that may be logged."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@")).geturl()


def _check_token(token: str) -> None:
    if len(token) < MIN_TOKEN_CHARS:
        raise ValueError(f"the token is {len(token)} characters long; use at least {MIN_TOKEN_CHARS} ({_TOKEN_ADVICE})")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment.

    A bad value raises InvalidOptionError naming the variable ("LANGFLIX_WORKERS:
    must be at least 1, got 0"), so the CLI and the server can show it as is;
    the temp settings fail the same way (:meth:`TempSettings.from_env`).
    """
    return Settings.from_env()
