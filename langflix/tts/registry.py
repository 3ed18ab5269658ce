"""The TTS providers LangFlix knows: one entry each, and everything else derived from it.

:data:`PROVIDERS` is the only list of providers. The accepted names (the CLI's
``--tts`` choices, the API's ``tts`` field, ``LANGFLIX_TTS``), the "unknown
provider" message and the "missing API key" check all come from it, so adding a
provider is one class (a :class:`TTSProvider`) and one entry here. Building a
client needs no settings object: the config layer turns its settings into a
:class:`~langflix.tts.base.ProviderConfig` and an
:class:`~langflix.core.http.HttpOptions` and calls :func:`create_tts_client`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Final, Protocol

from pydantic import BeforeValidator, WithJsonSchema

from langflix.core.http import HttpOptions
from langflix.errors import ConfigError
from langflix.tts.base import ProviderConfig, TTSClient
from langflix.tts.espeak import EspeakTTS
from langflix.tts.google import GoogleTTS
from langflix.tts.lemonfox import LemonfoxTTS

__all__ = [
    "DEFAULT_TTS",
    "NO_TTS",
    "PROVIDERS",
    "TTSName",
    "TTSProvider",
    "TTS_CHOICES",
    "TTS_PROVIDERS",
    "create_tts_client",
    "normalize_tts_name",
    "tts_provider",
]


class TTSProvider(Protocol):
    """What the registry needs of a provider class: its name, its key's setting, a factory."""

    @property
    def name(self) -> str: ...

    @property
    def key_setting(self) -> str | None:
        """The setting that must hold its API key (``LANGFLIX_<NAME>_API_KEY``); None: no key."""
        ...

    def from_config(self, config: ProviderConfig, http: HttpOptions) -> TTSClient: ...


PROVIDERS: Final[Mapping[str, TTSProvider]] = {
    provider.name: provider for provider in (EspeakTTS, GoogleTTS, LemonfoxTTS)
}
"""Every provider by name: the one list."""

TTS_PROVIDERS: Final[tuple[str, ...]] = tuple(sorted(PROVIDERS))
"""Accepted values of ``LANGFLIX_TTS``, ``--tts`` and the API's ``tts`` field."""

DEFAULT_TTS: Final[str] = EspeakTTS.name
"""Offline and free: a job never needs a key by default."""

NO_TTS: Final[str] = "none"
"""The choice of no speech at all: the card is silent (no provider is built)."""

TTS_CHOICES: Final[tuple[str, ...]] = (*TTS_PROVIDERS, NO_TTS)
"""What ``LANGFLIX_TTS``, ``--tts`` and the API's ``tts`` field accept: a provider or none."""


def normalize_tts_name(name: object) -> str:
    """``name`` as the registry spells it (" Google" -> "google"); ValueError naming the choices."""
    key = name.strip().lower() if isinstance(name, str) else ""
    if key not in TTS_CHOICES:
        raise ValueError(
            f"unknown TTS provider {name!r} (LANGFLIX_TTS / --tts): choose one of {', '.join(TTS_CHOICES)}"
        )
    return key


TTSName = Annotated[
    str,
    BeforeValidator(normalize_tts_name),
    WithJsonSchema({"type": "string", "enum": list(TTS_CHOICES)}),
]
"""A provider name (or :data:`NO_TTS`) as a pydantic field type: options and settings validate it the same way."""


def tts_provider(name: str) -> TTSProvider:
    """The provider called ``name``; ConfigError listing the choices when there is none."""
    try:
        key = normalize_tts_name(name)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    if key == NO_TTS:
        raise ConfigError(f"TTS {NO_TTS!r} is the choice of no speech, not a provider; build no client for it")
    return PROVIDERS[key]


def create_tts_client(name: str, config: ProviderConfig, http: HttpOptions) -> TTSClient:
    """The client of provider ``name``; ConfigError before any work when its key is missing."""
    provider = tts_provider(name)
    if provider.key_setting is not None and not config.api_key:
        raise ConfigError(
            f"the {provider.name} TTS provider needs an API key: set {provider.key_setting}, "
            "or use LANGFLIX_TTS=espeak for offline speech"
        )
    return provider.from_config(config, http)
