"""Lemonfox.ai speech: an OpenAI-compatible ``POST /v1/audio/speech`` returning audio bytes."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Final

from langflix.errors import TTSError
from langflix.temp import TempArea
from langflix.tts.base import HttpSpeechClient, parse_language, require_text, write_audio

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
    default_base_url = "https://api.lemonfox.ai"
    default_voice = "sarah"

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

    def synthesize(self, text: str, language: str, area: TempArea) -> Path:
        """POST the text, check the bytes are audio, store them as a file of ``area``."""
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
        return write_audio(area, response.content, self.audio_format, self.name)
