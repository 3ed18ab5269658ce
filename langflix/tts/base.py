"""What every TTS provider shares: the interface, language tags, retries, audio files.

Each provider module (``espeak``, ``lemonfox``, ``google``) is one small class that
turns text into an audio file inside the caller's temp area, registered once in
:mod:`langflix.tts.registry`. Everything they have in common lives here so the
rules are written once:

* the audio file is made with ``area.new_file`` and released again on *any*
  failure, so a failed synthesis leaves no byte behind in the job's scope;
* HTTP calls follow one :class:`~langflix.core.http.HttpOptions` (timeout,
  retries on connection errors, 429 and 5xx with a small backoff, cancel), and
  every failure becomes a :class:`TTSError` that names the provider, the status
  and the setting;
* an API key never appears in an error message.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Final, Literal, Protocol, Self, runtime_checkable

import httpx

from langflix.core.http import HttpOptions
from langflix.errors import TTSError
from langflix.temp import TempArea

__all__ = [
    "AudioFormat",
    "HttpSpeechClient",
    "LanguageTag",
    "ProviderConfig",
    "TTSClient",
    "parse_language",
    "release_quietly",
    "require_text",
    "sniff_audio",
    "write_audio",
]

logger = logging.getLogger(__name__)

AudioFormat = Literal["wav", "mp3"]
"""Audio formats every provider can return and ffmpeg reads without surprises."""

_BODY_SNIPPET: Final[int] = 300
"""Characters of an error body quoted in a message: enough to show the provider's reason."""


@runtime_checkable
class TTSClient(Protocol):
    """One text-to-speech provider: text in, an audio file inside ``area`` out."""

    @property
    def name(self) -> str:
        """The provider's registry name ("espeak"), used in every message."""
        ...

    def synthesize(self, text: str, language: str, area: TempArea) -> Path:
        """Speak ``text`` in ``language``; the file belongs to ``area``. Raises TTSError."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class ProviderConfig:
    """A provider's own settings (``LANGFLIX_<PROVIDER>_<FIELD>``); None: the provider's default."""

    api_key: str | None = None
    base_url: str | None = None
    voice: str | None = None
    binary: str | None = None

    @classmethod
    def from_values(cls, provider: str, values: Mapping[str, object]) -> ProviderConfig:
        """Read ``<provider>_api_key``, ``<provider>_base_url``... out of a settings mapping.

        The naming rule is the whole wiring: a provider named ``polly`` is configured
        by ``polly_api_key`` (``LANGFLIX_POLLY_API_KEY``) and so on, with no code
        per provider between the settings and the registry.
        """
        found = {name: values.get(f"{provider}_{name}") for name in ("api_key", "base_url", "voice", "binary")}
        return cls(**{name: str(value) for name, value in found.items() if value is not None})


def require_text(text: str, provider: str) -> str:
    """The text to speak, stripped; an empty text is a caller bug worth a clear error."""
    if not isinstance(text, str):
        raise TTSError(f"{provider}: text to speak must be a string, got {type(text).__name__}")
    cleaned = " ".join(text.split())
    if not cleaned:
        raise TTSError(f"{provider}: nothing to speak, the text is empty or only whitespace")
    return cleaned


@dataclass(frozen=True, slots=True)
class LanguageTag:
    """A language as users write it ("en", "en-US", "ko_kr"), split and normalised."""

    language: str
    region: str | None = None

    def __str__(self) -> str:
        return self.language if self.region is None else f"{self.language}-{self.region}"


def parse_language(language: str, provider: str) -> LanguageTag:
    """Parse a BCP-47-ish tag; accepts "_" as separator and any letter case."""
    parts = language.strip().replace("_", "-").split("-") if isinstance(language, str) else []
    if not parts or not parts[0].isalpha() or not 2 <= len(parts[0]) <= 3:
        raise TTSError(
            f"{provider}: {language!r} is not a language code; use a tag such as 'en', 'en-US' or 'ko'"
        )
    # The region is the first 2-letter or 3-digit subtag: "zh-Hant-TW" -> TW
    # (a script subtag such as "Hant" is not a region and is skipped).
    region = next(
        (p.upper() for p in parts[1:] if (len(p) == 2 and p.isalpha()) or (len(p) == 3 and p.isdigit())),
        None,
    )
    return LanguageTag(parts[0].lower(), region)


_MAGIC_CHECKS: Final[dict[str, Callable[[bytes], bool]]] = {
    "wav": lambda data: data[:4] == b"RIFF" and data[8:12] == b"WAVE",
    # An MP3 starts with an ID3 tag or directly with an MPEG frame sync (11 set bits).
    "mp3": lambda data: data[:3] == b"ID3" or (data[:1] == b"\xff" and data[1:2] >= b"\xe0"),
}


def sniff_audio(data: bytes) -> AudioFormat | None:
    """Which of our formats ``data`` is, from its first bytes; None if neither."""
    for fmt, check in _MAGIC_CHECKS.items():
        if len(data) >= 12 and check(data):
            return fmt  # type: ignore[return-value]
    return None


def write_audio(scope: TempArea, data: bytes, fmt: AudioFormat, provider: str) -> Path:
    """Store ``data`` as a new file of ``scope``; released again if anything fails.

    The bytes are checked first: a provider that answers 200 with an HTML error
    page or a JSON body must not become a "successful" file that ffmpeg chokes on
    three steps later, far from the cause. The scope's byte budget is claimed
    before the file exists, so a full budget raises ``QuotaExceededError`` and
    leaves nothing behind.
    """
    found = sniff_audio(data)
    if found != fmt:
        raise TTSError(
            f"{provider} answered, but the body is not {fmt.upper()} audio "
            f"({len(data)} bytes starting with {data[:16]!r}); check the provider's "
            "status and the base URL setting"
        )
    with scope.reserve(len(data), f"{provider} speech audio"):
        path = scope.new_file(suffix=f".{fmt}")
        try:
            with open(path, "wb") as fh:
                fh.write(data)
        except BaseException as exc:
            # Disk full, Ctrl-C: a half-written file must not stay in the scope.
            release_quietly(scope, path)
            if isinstance(exc, OSError):
                raise TTSError(f"{provider}: cannot write audio to {path}: {exc}") from exc
            raise
    return path


def release_quietly(scope: TempArea, path: Path) -> None:
    """Release ``path`` without letting a cleanup error replace the real one."""
    try:
        scope.release(path)
    except Exception:  # noqa: BLE001 - the original error is the one to report
        logger.warning("could not release %s after a failed synthesis", path, exc_info=True)


class HttpSpeechClient:
    """Base of the HTTP providers: one POST with the shared options and clear errors.

    A subclass names itself and its settings and sets its defaults; the key check,
    the audio format check, the retries and the error wording are all here.
    """

    name: ClassVar[str] = "http"
    key_setting: ClassVar[str | None] = None
    base_url_setting: ClassVar[str] = ""
    default_base_url: ClassVar[str] = ""
    default_voice: ClassVar[str | None] = None

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str | None = None,
        voice: str | None = None,
        audio_format: AudioFormat = "wav",
        http: HttpOptions = HttpOptions(),
    ) -> None:
        if not api_key:
            raise TTSError(f"{self.name} needs an API key: set {self.key_setting}")
        if audio_format not in ("wav", "mp3"):
            raise ValueError(f"audio_format must be 'wav' or 'mp3', not {audio_format!r}")
        self.base_url = (base_url or self.default_base_url).rstrip("/")
        self.voice = voice or self.default_voice
        self.audio_format: AudioFormat = audio_format
        self.http = http
        self._api_key = api_key  # redacted from every message

    @classmethod
    def from_config(cls, config: ProviderConfig, http: HttpOptions) -> Self:
        """The client ``config`` describes (the registry checked its key is set)."""
        return cls(config.api_key or "", base_url=config.base_url, voice=config.voice, http=http)

    def _post(
        self,
        path: str,
        *,
        json: Any,
        headers: Mapping[str, str],
        params: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """POST with retries on connection errors, 429 and 5xx; any other failure raises.

        Returns only a 2xx response whose body has been read.
        """
        try:
            return self._post_with_retries(path, json=json, headers=headers, params=params)
        except TTSError as exc:
            if self._api_key in str(exc):
                # A provider may echo the request (URL, headers) back in its error
                # body: the key must never reach a log or an API response.
                raise TTSError(str(exc).replace(self._api_key, "***")) from exc.__cause__
            raise

    def _post_with_retries(
        self,
        path: str,
        *,
        json: Any,
        headers: Mapping[str, str],
        params: Mapping[str, str] | None,
    ) -> httpx.Response:
        url = f"{self.base_url}{path}"
        timeout = self.http.timeout
        with self.http.open() as client:
            try:
                response, attempt = self.http.policy(self.name).send(
                    lambda: client.post(url, json=json, headers=dict(headers), params=params, timeout=timeout)
                )
            except httpx.TimeoutException as exc:
                # Only a connect timeout was retried: after a read timeout the provider
                # may still be working, and retrying would multiply the user's wait.
                raise TTSError(
                    f"{self.name} did not answer within {timeout:g} s ({type(exc).__name__}) "
                    f"at {url}; raise LANGFLIX_TTS_TIMEOUT or try a shorter text"
                ) from exc
            except (httpx.ConnectError, httpx.RemoteProtocolError) as exc:
                raise TTSError(
                    f"cannot reach {self.name} at {url} after {self.http.retries + 1} attempt(s): "
                    f"{exc}; check {self.base_url_setting} and the network"
                ) from exc
            except (httpx.HTTPError, httpx.InvalidURL) as exc:
                # Proxy errors, a base URL without http(s)://, a malformed URL.
                raise TTSError(
                    f"{self.name} request to {url} failed: {exc}; check {self.base_url_setting}"
                ) from exc
        if 200 <= response.status_code < 300:
            return response
        raise TTSError(self._status_message(response, url, attempt))

    def _status_message(self, response: httpx.Response, url: str, attempts: int) -> str:
        status = response.status_code
        detail = _body_snippet(response)
        head = f"{self.name} answered HTTP {status} at {url}"
        if detail:
            head += f" ({detail})"
        if status in (401, 403):
            hint = f"the API key was refused: check {self.key_setting}"
        elif status == 404:
            hint = f"the endpoint does not exist: check {self.base_url_setting}"
        elif status == 429:
            hint = (
                f"rate limit or quota exhausted after {attempts} attempt(s): "
                "wait, check the account's quota, or use LANGFLIX_TTS=espeak"
            )
        elif status >= 500:
            hint = (
                f"the provider failed {attempts} time(s): try again later "
                "or use LANGFLIX_TTS=espeak for offline speech"
            )
        else:
            hint = "the request was refused: check the text, the language and the voice settings"
        return f"{head}; {hint}"


def _body_snippet(response: httpx.Response) -> str:
    """The provider's own reason, short and on one line (JSON ``error.message`` if any)."""
    try:
        data = response.json()
    except ValueError:
        data = None
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return _one_line(error["message"])
        if isinstance(error, str):
            return _one_line(error)
        if isinstance(data.get("detail"), str):
            return _one_line(data["detail"])
    try:
        text = response.text
    except (UnicodeDecodeError, LookupError):
        return ""
    return _one_line(text)


def _one_line(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= _BODY_SNIPPET else flat[: _BODY_SNIPPET - 1] + "…"
