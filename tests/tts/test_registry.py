"""The provider registry: the one list of names, the messages derived from it, clients built from it."""

from __future__ import annotations

import httpx
import pytest

import langflix.tts
import langflix.tts.base
import langflix.tts.espeak
import langflix.tts.google
import langflix.tts.lemonfox
import langflix.tts.registry
from langflix.cancel import CancelToken
from langflix.core.http import HttpOptions
from langflix.errors import ConfigError
from langflix.tts import (
    DEFAULT_TTS,
    NO_TTS,
    PROVIDERS,
    TTS_CHOICES,
    TTS_PROVIDERS,
    EspeakTTS,
    GoogleTTS,
    LemonfoxTTS,
    ProviderConfig,
    TTSClient,
    create_tts_client,
    normalize_tts_name,
    tts_provider,
)

KEYS = {"google": ProviderConfig(api_key="k2"), "lemonfox": ProviderConfig(api_key="k1"), "espeak": ProviderConfig()}


def test_providers_are_the_documented_names() -> None:
    assert TTS_PROVIDERS == ("espeak", "google", "lemonfox")
    assert DEFAULT_TTS == "espeak"  # the default needs no key
    assert PROVIDERS["espeak"].key_setting is None
    assert {name: p.key_setting for name, p in PROVIDERS.items() if p.key_setting} == {
        "google": "LANGFLIX_GOOGLE_API_KEY",
        "lemonfox": "LANGFLIX_LEMONFOX_API_KEY",
    }


def test_none_is_a_choice_but_not_a_provider() -> None:
    assert TTS_CHOICES == (*TTS_PROVIDERS, NO_TTS) and NO_TTS == "none"
    assert normalize_tts_name(" None ") == "none"
    with pytest.raises(ConfigError, match="no speech, not a provider"):
        tts_provider("none")
    with pytest.raises(ConfigError, match="no speech, not a provider"):
        create_tts_client("none", ProviderConfig(), HttpOptions())


@pytest.mark.parametrize("name", TTS_PROVIDERS)
def test_every_provider_builds_a_tts_client(name: str) -> None:
    client = create_tts_client(name, KEYS[name], HttpOptions())
    assert isinstance(client, TTSClient)
    assert client.name == name


@pytest.mark.parametrize("name", ["Espeak", " LEMONFOX ", "google\n"])
def test_names_are_case_and_space_insensitive(name: str) -> None:
    assert normalize_tts_name(name) == name.strip().lower()
    assert tts_provider(name).name == name.strip().lower()
    assert create_tts_client(name, KEYS[name.strip().lower()], HttpOptions()).name == name.strip().lower()


@pytest.mark.parametrize("name", ["", "polly", "espeak-ng", "openai", None])
def test_unknown_provider_is_a_config_error_listing_the_choices(name: str | None) -> None:
    with pytest.raises(ConfigError, match="unknown TTS provider.*LANGFLIX_TTS.*espeak, google, lemonfox, none"):
        tts_provider(name)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="espeak, google, lemonfox, none"):
        normalize_tts_name(name)


@pytest.mark.parametrize(
    ("name", "setting"), [("lemonfox", "LANGFLIX_LEMONFOX_API_KEY"), ("google", "LANGFLIX_GOOGLE_API_KEY")]
)
def test_paid_provider_without_key_is_a_config_error(name: str, setting: str) -> None:
    with pytest.raises(ConfigError, match=f"{setting}.*LANGFLIX_TTS=espeak"):
        create_tts_client(name, ProviderConfig(), HttpOptions())


def test_config_and_http_options_reach_the_clients() -> None:
    token = CancelToken()
    transport = httpx.MockTransport(lambda request: httpx.Response(500))
    http = HttpOptions(timeout=7.5, retries=4, cancel=token, transport=transport)
    espeak = create_tts_client("espeak", ProviderConfig(binary="/opt/espeak/bin/espeak-ng"), http)
    lemonfox_config = ProviderConfig(api_key="k1", base_url="http://127.0.0.1:9/", voice="adam")
    lemonfox = create_tts_client("lemonfox", lemonfox_config, http)
    google = create_tts_client("google", ProviderConfig(api_key="k2", base_url="http://127.0.0.1:8"), http)

    assert isinstance(espeak, EspeakTTS)
    assert (espeak.binary, espeak.timeout) == ("/opt/espeak/bin/espeak-ng", 7.5)
    assert isinstance(lemonfox, LemonfoxTTS)
    assert (lemonfox.base_url, lemonfox.voice, lemonfox.http) == ("http://127.0.0.1:9", "adam", http)
    assert isinstance(google, GoogleTTS)
    assert (google.base_url, google.voice, google.http) == ("http://127.0.0.1:8", None, http)


def test_a_config_without_values_takes_the_providers_defaults() -> None:
    lemonfox = create_tts_client("lemonfox", ProviderConfig(api_key="k"), HttpOptions())
    espeak = create_tts_client("espeak", ProviderConfig(), HttpOptions())
    assert isinstance(lemonfox, LemonfoxTTS) and isinstance(espeak, EspeakTTS)
    assert (lemonfox.base_url, lemonfox.voice) == (LemonfoxTTS.default_base_url, "sarah")
    assert espeak.binary == "espeak-ng"


@pytest.mark.parametrize(
    "module",
    [
        langflix.tts,
        langflix.tts.base,
        langflix.tts.espeak,
        langflix.tts.google,
        langflix.tts.lemonfox,
        langflix.tts.registry,
    ],
)
def test_exports_are_sorted_and_exist(module: object) -> None:
    names = module.__all__  # type: ignore[attr-defined]
    assert list(names) == sorted(names)
    for name in names:
        assert hasattr(module, name), f"{module.__name__}.{name} is exported but missing"  # type: ignore[attr-defined]
