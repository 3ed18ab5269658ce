"""Google Cloud Text-to-Speech: ``POST /v1/text:synthesize``, base64 audio in JSON."""

from __future__ import annotations

import base64
import binascii
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

__all__ = ["GOOGLE_LANGUAGES", "GoogleTTS"]

GOOGLE_LANGUAGES: Final[Mapping[str, str]] = {
    # Bare language -> the BCP-47 code Google has voices for. A tag with a region
    # ("en-GB", "pt-PT") is sent as given: Google knows more regions than we list.
    "ar": "ar-XA",
    "de": "de-DE",
    "en": "en-US",
    "es": "es-ES",
    "fr": "fr-FR",
    "hi": "hi-IN",
    "id": "id-ID",
    "it": "it-IT",
    "ja": "ja-JP",
    "ko": "ko-KR",
    "nl": "nl-NL",
    "pl": "pl-PL",
    "pt": "pt-BR",
    "ru": "ru-RU",
    "th": "th-TH",
    "tr": "tr-TR",
    "vi": "vi-VN",
    "zh": "cmn-CN",
}

_ENCODINGS: Final[Mapping[str, str]] = {"wav": "LINEAR16", "mp3": "MP3"}
# LINEAR16 audioContent comes with a WAV header, so it is a playable .wav as is.


class GoogleTTS(HttpSpeechClient):
    """Google Cloud voices; needs ``LANGFLIX_GOOGLE_API_KEY``.

    The key travels in the ``X-Goog-Api-Key`` header (which Google accepts like
    ``?key=``) rather than the query string: URLs end up in httpx's INFO log,
    proxies' access logs and our error messages; headers do not.
    """

    name = "google"
    key_setting = "LANGFLIX_GOOGLE_API_KEY"
    base_url_setting = "LANGFLIX_GOOGLE_BASE_URL"

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = "https://texttospeech.googleapis.com",
        voice: str | None = None,
        audio_format: AudioFormat = "wav",
        timeout: float = 30.0,
        retries: int = 2,
        backoff: Backoff = default_backoff,
        client: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        cancel: CancelToken | None = None,
    ) -> None:
        if not api_key:
            raise TTSError(f"google needs an API key: set {self.key_setting}")
        if audio_format not in _ENCODINGS:
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
        """Google's ``languageCode`` for ``language`` ("en" -> "en-US", "ko" -> "ko-KR")."""
        tag = parse_language(language, self.name)
        if tag.region is not None:
            # Google names Mandarin "cmn", not "zh" ("zh-TW" -> "cmn-TW").
            base = "cmn" if tag.language == "zh" else tag.language
            return f"{base}-{tag.region}"
        code = GOOGLE_LANGUAGES.get(tag.language)
        if code is None:
            raise TTSError(
                f"google: no default region known for {language!r}; pass a full tag such as "
                f"'{tag.language}-XX' (supported without region: {', '.join(GOOGLE_LANGUAGES)})"
            )
        return code

    def synthesize(self, text: str, language: str, scope: TempArea) -> Path:
        """Ask Google for the speech, decode ``audioContent``, store it as a file of ``scope``."""
        spoken = require_text(text, self.name)
        voice: dict[str, str] = {"languageCode": self.language_code(language)}
        if self.voice:
            voice["name"] = self.voice
        payload = {
            "input": {"text": spoken},
            "voice": voice,
            "audioConfig": {"audioEncoding": _ENCODINGS[self.audio_format]},
        }
        response = self._post(
            "/v1/text:synthesize",
            json=payload,
            headers={"X-Goog-Api-Key": self._api_key},
        )
        return write_audio(scope, self._decode(response), self.audio_format, self.name)

    def _decode(self, response: httpx.Response) -> bytes:
        """The audio bytes of a 200 reply; TTSError naming what was wrong with it."""
        try:
            data = response.json()
        except ValueError as exc:
            raise TTSError(
                f"google answered HTTP {response.status_code} but not with JSON "
                f"(content-type {response.headers.get('content-type')!r}); "
                f"check {self.base_url_setting}"
            ) from exc
        content = data.get("audioContent") if isinstance(data, dict) else None
        if not isinstance(content, str) or not content:
            keys = sorted(data) if isinstance(data, dict) else type(data).__name__
            raise TTSError(
                f"google's reply has no 'audioContent' (got {keys}); "
                f"check {self.base_url_setting} points at the Text-to-Speech API"
            )
        try:
            return base64.b64decode(content, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise TTSError(f"google's 'audioContent' is not valid base64: {exc}") from exc
