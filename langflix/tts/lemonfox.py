"""Lemonfox.ai speech: an OpenAI-compatible ``POST /v1/audio/speech`` returning audio bytes."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Final

import httpx

from langflix.core.cancel import CancelToken
from langflix.errors import TTSError
from langflix.tts.base import (
    AudioFormat,
    Backoff,
    HttpSpeechClient,
    default_backoff,
    parse_language,
    require_text,
    write_audio,
)

if TYPE_CHECKING:
    from langflix.temp import TempArea

__all__ = ["LEMONFOX_LANGUAGES", "LemonfoxTTS"]

LEMONFOX_LANGUAGES: Final[Mapping[str, str]] = {
    # Lemonfox's own language codes; a bare language picks its most common variant.
    "en": "en-us",
    "en-US": "en-us",
    "en-GB": "en-gb",
    "es": "es",
    "fr": "fr",
    "hi": "hi",
    "it": "it",
    "ja": "ja",
    "pt": "pt-br",
    "pt-BR": "pt-br",
    "zh": "zh",
}


class LemonfoxTTS(HttpSpeechClient):
    """Paid, natural voices; needs ``LANGFLIX_LEMONFOX_API_KEY``."""

    name = "lemonfox"
    key_setting = "LANGFLIX_LEMONFOX_API_KEY"
    base_url_setting = "LANGFLIX_LEMONFOX_BASE_URL"

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = "https://api.lemonfox.ai",
        voice: str = "sarah",
        audio_format: AudioFormat = "wav",
        timeout: float = 30.0,
        retries: int = 2,
        backoff: Backoff = default_backoff,
        client: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        cancel: CancelToken | None = None,
    ) -> None:
        if not api_key:
            raise TTSError(f"lemonfox needs an API key: set {self.key_setting}")
        if audio_format not in ("wav", "mp3"):
            raise ValueError(f"audio_format must be 'wav' or 'mp3', not {audio_format!r}")
        super().__init__(
            base_url=base_url,
            timeout=timeout,
            retries=retries,
            backoff=backoff,
            client=client,
            transport=transport,
            cancel=cancel,
        )
        self._api_key = api_key
        self._secret = api_key
        self.voice = voice
        self.audio_format: AudioFormat = audio_format

    def language_code(self, language: str) -> str:
        """Lemonfox's code for ``language`` ("en" -> "en-us"); TTSError if unsupported."""
        tag = parse_language(language, self.name)
        # An unlisted region ("en-AU") falls back to the language's main variant:
        # an American voice beats no voice for a learner.
        code = LEMONFOX_LANGUAGES.get(str(tag)) or LEMONFOX_LANGUAGES.get(tag.language)
        if code is None:
            supported = ", ".join(sorted(LEMONFOX_LANGUAGES))
            raise TTSError(
                f"lemonfox cannot speak {language!r}; supported: {supported} "
                "(or use LANGFLIX_TTS=espeak or google)"
            )
        return code

    def synthesize(self, text: str, language: str, scope: TempArea) -> Path:
        """POST the text, check the bytes are audio, store them as a file of ``scope``."""
        spoken = require_text(text, self.name)
        payload = {
            "input": spoken,
            "voice": self.voice,
            "response_format": self.audio_format,
            "language": self.language_code(language),
        }
        response = self._post(
            "/v1/audio/speech",
            json=payload,
            headers={"Authorization": f"Bearer {self._api_key}"},
        )
        return write_audio(scope, response.content, self.audio_format, self.name)
