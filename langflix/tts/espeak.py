"""espeak-ng: the offline default voice, one subprocess per phrase, WAV out."""

from __future__ import annotations

import io
import wave
from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar, Final

from langflix.cancel import CancelToken
from langflix.core.http import HttpOptions
from langflix.core.process import run_process, tool_version
from langflix.errors import TTSError
from langflix.temp import TempArea
from langflix.tts.base import ProviderConfig, parse_language, release_quietly, require_text

__all__ = ["ESPEAK_INSTALL_HINT", "ESPEAK_VOICES", "EspeakTTS", "espeak_version"]

ESPEAK_INSTALL_HINT: Final[str] = (
    "install it with `apt-get install espeak-ng` or set LANGFLIX_ESPEAK_BINARY"
)

ESPEAK_VOICES: Final[Mapping[str, str]] = {
    # Language tag -> espeak-ng voice where the bare code is not the voice we want;
    # any other language is passed as is ("ko", "ja", "de" are voices already).
    "en": "en-us",
    "en-GB": "en-gb",
    "en-US": "en-us",
    "es-419": "es-419",
    "es-MX": "es-419",
    "fr": "fr-fr",
    "fr-BE": "fr-be",
    "fr-CH": "fr-ch",
    "pt": "pt-br",
    "pt-BR": "pt-br",
    "pt-PT": "pt",
    "zh": "cmn",
    "zh-HK": "yue",
}


class EspeakTTS:
    """Robotic but free, offline and fast; the default so a job never needs a key."""

    name: ClassVar[str] = "espeak"
    key_setting: ClassVar[str | None] = None
    default_binary: ClassVar[str] = "espeak-ng"

    def __init__(
        self,
        binary: str | None = None,
        *,
        voice: str | None = None,
        speed: int | None = None,
        timeout: float | None = 30.0,
        cancel: CancelToken | None = None,
    ) -> None:
        if speed is not None and not 80 <= speed <= 450:
            raise ValueError("speed is in words per minute, between 80 and 450")
        self.binary = binary or self.default_binary
        self.voice = voice
        self.speed = speed
        self.timeout = timeout
        self._cancel = cancel

    @classmethod
    def from_config(cls, config: ProviderConfig, http: HttpOptions) -> EspeakTTS:
        """espeak-ng from ``config.binary``; of ``http`` only the timeout and the cancel token apply."""
        return cls(config.binary, timeout=http.timeout, cancel=http.cancel)

    def voice_for(self, language: str) -> str:
        """The espeak-ng voice for ``language`` ("en" -> "en-us", "ko" -> "ko")."""
        if self.voice:
            return self.voice
        tag = parse_language(language, self.name)
        return ESPEAK_VOICES.get(str(tag)) or ESPEAK_VOICES.get(tag.language) or tag.language

    def synthesize(self, text: str, language: str, area: TempArea) -> Path:
        """Run espeak-ng into a new WAV file of ``area``; nothing is left if it fails."""
        spoken = require_text(text, self.name)
        voice = self.voice_for(language)
        cmd = [self.binary, "-v", voice]
        if self.speed is not None:
            cmd += ["-s", str(self.speed)]
        path = area.new_file(suffix=".wav")
        # "--stdout", not "-w PATH": espeak-ng silently writes nothing when the
        # -w path is longer than ~200 characters (deep temp dirs hit that).
        # "--" ends the options: a line such as "-- Run!" or "-x marks it" is text,
        # not a flag espeak-ng would misread.
        cmd += ["--stdout", "--", spoken]
        try:
            result = run_process(
                cmd,
                timeout=self.timeout,
                cancel=self._cancel,
                error_cls=TTSError,
                install_hint=ESPEAK_INSTALL_HINT,
            )
            path.write_bytes(_with_true_length(result.stdout))
            _check_wav(path, voice)
        except BaseException:
            # run_process has reaped the child, so no writer still holds the file.
            release_quietly(area, path)
            raise
        return path


def espeak_version(binary: str = EspeakTTS.default_binary) -> str | None:
    """The version of espeak-ng at ``binary`` ("1.51"), None when it is missing (for /health)."""
    return tool_version([binary, "--version"], r"(\d+(?:\.\d+)+(?:[-.\w]*)?)")


def _with_true_length(data: bytes) -> bytes:
    """Rewrite a streamed WAV's header with its real length.

    On a pipe espeak-ng cannot seek back, so its header claims 2**31 frames;
    players and ffprobe would read that as a 13-hour clip.
    """
    try:
        with wave.open(io.BytesIO(data), "rb") as streamed:
            params = streamed.getparams()
            frames = streamed.readframes(streamed.getnframes())
    except (wave.Error, EOFError):
        return data  # _check_wav reports it with the cause
    out = io.BytesIO()
    with wave.open(out, "wb") as fixed:
        fixed.setparams(params)
        fixed.writeframes(frames)
    return out.getvalue()


def _check_wav(path: Path, voice: str) -> None:
    """Fail here, with the cause, if espeak-ng exited 0 but wrote no usable audio."""
    try:
        with wave.open(str(path), "rb") as wav:
            frames = wav.getnframes()
    except (wave.Error, EOFError, OSError) as exc:
        raise TTSError(
            f"espeak-ng (voice {voice!r}) wrote no readable WAV to {path}: {exc}"
        ) from exc
    if frames <= 0:
        raise TTSError(
            f"espeak-ng (voice {voice!r}) wrote a WAV without any sound; "
            "check that the text has words in that language"
        )
