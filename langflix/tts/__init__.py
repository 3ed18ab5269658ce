"""Text to speech: one client per provider behind the small :class:`TTSClient` interface.

The providers are listed once, in :mod:`langflix.tts.registry`; the CLI, the
pipeline and the API accept exactly its names and fail the same way (a
:class:`~langflix.errors.ConfigError` naming the setting to fix). A client is
built from a :class:`ProviderConfig` and :class:`~langflix.core.http.HttpOptions`
with :func:`create_tts_client`; from settings, with ``Settings.tts_client`` in
:mod:`langflix.config`.
"""

from __future__ import annotations

from langflix.tts.base import HttpSpeechClient, ProviderConfig, TTSClient
from langflix.tts.espeak import EspeakTTS
from langflix.tts.google import GoogleTTS
from langflix.tts.lemonfox import LemonfoxTTS
from langflix.tts.registry import (
    DEFAULT_TTS,
    NO_TTS,
    PROVIDERS,
    TTS_CHOICES,
    TTS_PROVIDERS,
    TTSName,
    TTSProvider,
    create_tts_client,
    normalize_tts_name,
    tts_provider,
)

__all__ = [
    "DEFAULT_TTS",
    "EspeakTTS",
    "GoogleTTS",
    "HttpSpeechClient",
    "LemonfoxTTS",
    "NO_TTS",
    "PROVIDERS",
    "ProviderConfig",
    "TTSClient",
    "TTSName",
    "TTSProvider",
    "TTS_CHOICES",
    "TTS_PROVIDERS",
    "create_tts_client",
    "normalize_tts_name",
    "tts_provider",
]
