"""Text to speech: one client per provider behind the small :class:`TTSClient` interface.

``make_tts_client(settings.tts)`` is the one place a provider name becomes a
client, so the CLI, the pipeline and the API accept the same names and fail the
same way (a :class:`~langflix.errors.ConfigError` naming the setting to fix).
"""

from __future__ import annotations

from typing import Final

import httpx

from langflix.config import Settings, get_settings
from langflix.core.cancel import CancelToken
from langflix.errors import ConfigError
from langflix.tts.base import TTSClient
from langflix.tts.espeak import EspeakTTS
from langflix.tts.google import GoogleTTS
from langflix.tts.lemonfox import LemonfoxTTS

__all__ = [
    "EspeakTTS",
    "GoogleTTS",
    "LemonfoxTTS",
    "TTSClient",
    "TTS_PROVIDERS",
    "make_tts_client",
]

TTS_PROVIDERS: Final[tuple[str, ...]] = ("espeak", "google", "lemonfox")
"""Accepted values of ``LANGFLIX_TTS`` / ``PipelineOptions.tts``; espeak needs no key."""


def make_tts_client(
    name: str,
    settings: Settings | None = None,
    *,
    cancel: CancelToken | None = None,
    transport: httpx.BaseTransport | None = None,
) -> TTSClient:
    """Build the client for provider ``name`` from ``settings`` (default: the environment).

    ``cancel`` stops a running espeak-ng or a retry backoff; ``transport`` points the
    HTTP providers elsewhere (tests). Raises ConfigError for an unknown name or a
    provider whose API key is not set, before any work starts.
    """
    settings = settings if settings is not None else get_settings()
    key = name.strip().lower() if isinstance(name, str) else ""
    if key == "espeak":
        return EspeakTTS(settings.espeak_binary, timeout=settings.tts_timeout, cancel=cancel)
    if key == "lemonfox":
        if not settings.lemonfox_api_key:
            raise ConfigError(_missing_key("lemonfox", "LANGFLIX_LEMONFOX_API_KEY"))
        return LemonfoxTTS(
            settings.lemonfox_api_key,
            base_url=settings.lemonfox_base_url,
            voice=settings.lemonfox_voice,
            timeout=settings.tts_timeout,
            retries=settings.tts_retries,
            transport=transport,
            cancel=cancel,
        )
    if key == "google":
        if not settings.google_api_key:
            raise ConfigError(_missing_key("google", "LANGFLIX_GOOGLE_API_KEY"))
        return GoogleTTS(
            settings.google_api_key,
            base_url=settings.google_base_url,
            timeout=settings.tts_timeout,
            retries=settings.tts_retries,
            transport=transport,
            cancel=cancel,
        )
    raise ConfigError(
        f"unknown TTS provider {name!r} (LANGFLIX_TTS / --tts): choose one of "
        f"{', '.join(TTS_PROVIDERS)}"
    )


def _missing_key(provider: str, setting: str) -> str:
    return (
        f"the {provider} TTS provider needs an API key: set {setting}, "
        "or use LANGFLIX_TTS=espeak for offline speech"
    )
