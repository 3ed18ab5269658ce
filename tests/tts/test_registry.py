"""make_tts_client / TTS_PROVIDERS: names, settings wiring, clear config errors, exports."""

from __future__ import annotations

import shutil
import wave

import pytest

import langflix.tts
import langflix.tts.base
import langflix.tts.espeak
import langflix.tts.google
import langflix.tts.lemonfox
from langflix.config import Settings, get_settings
from langflix.core.cancel import CancelToken
from langflix.errors import ConfigError
from langflix.tts import TTS_PROVIDERS, EspeakTTS, GoogleTTS, LemonfoxTTS, TTSClient, make_tts_client


def _settings(**values: object) -> Settings:
    # Built from explicit values only, so a developer's LANGFLIX_* variables cannot leak in.
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def test_providers_are_the_documented_names() -> None:
    assert TTS_PROVIDERS == ("espeak", "google", "lemonfox")
    assert TTS_PROVIDERS[0] == "espeak"  # the default needs no key


@pytest.mark.parametrize("name", TTS_PROVIDERS)
def test_every_provider_builds_a_tts_client(name: str) -> None:
    client = make_tts_client(name, _settings(lemonfox_api_key="k1", google_api_key="k2"))

    assert isinstance(client, TTSClient)
    assert client.name == name


@pytest.mark.parametrize("name", ["Espeak", " LEMONFOX ", "google\n"])
def test_names_are_case_and_space_insensitive(name: str) -> None:
    client = make_tts_client(name, _settings(lemonfox_api_key="k1", google_api_key="k2"))
    assert client.name == name.strip().lower()


@pytest.mark.parametrize("name", ["", "polly", "espeak-ng", "openai"])
def test_unknown_provider_is_a_config_error_listing_the_choices(name: str) -> None:
    with pytest.raises(ConfigError, match="LANGFLIX_TTS.*espeak, google, lemonfox"):
        make_tts_client(name, _settings())


@pytest.mark.parametrize(
    ("name", "setting"),
    [("lemonfox", "LANGFLIX_LEMONFOX_API_KEY"), ("google", "LANGFLIX_GOOGLE_API_KEY")],
)
def test_paid_provider_without_key_is_a_config_error(name: str, setting: str) -> None:
    with pytest.raises(ConfigError, match=f"{setting}.*LANGFLIX_TTS=espeak"):
        make_tts_client(name, _settings())


def test_settings_reach_the_clients() -> None:
    settings = _settings(
        tts_timeout=7.5,
        tts_retries=4,
        espeak_binary="/opt/espeak/bin/espeak-ng",
        lemonfox_api_key="k1",
        lemonfox_base_url="http://127.0.0.1:9/",
        lemonfox_voice="adam",
        google_api_key="k2",
        google_base_url="http://127.0.0.1:8",
    )
    espeak = make_tts_client("espeak", settings)
    lemonfox = make_tts_client("lemonfox", settings)
    google = make_tts_client("google", settings)

    assert isinstance(espeak, EspeakTTS)
    assert (espeak.binary, espeak.timeout) == ("/opt/espeak/bin/espeak-ng", 7.5)
    assert isinstance(lemonfox, LemonfoxTTS)
    assert (lemonfox.base_url, lemonfox.voice, lemonfox.timeout, lemonfox.retries) == (
        "http://127.0.0.1:9",
        "adam",
        7.5,
        4,
    )
    assert isinstance(google, GoogleTTS)
    assert (google.base_url, google.timeout, google.retries) == ("http://127.0.0.1:8", 7.5, 4)


def test_environment_is_the_default_source(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANGFLIX_GOOGLE_API_KEY", "from-env")
    monkeypatch.setenv("LANGFLIX_TTS_RETRIES", "5")
    get_settings.cache_clear()
    try:
        client = make_tts_client("google")
    finally:
        get_settings.cache_clear()  # the next test must not see these variables
    assert isinstance(client, GoogleTTS) and client.retries == 5


def test_factory_client_talks_to_the_configured_server(fake_provider, scope, wav_bytes) -> None:
    fake_provider.add(500).add(200, wav_bytes)
    settings = _settings(lemonfox_api_key="k1", lemonfox_base_url=fake_provider.url, tts_retries=1)
    client = make_tts_client("lemonfox", settings)
    client._backoff = lambda attempt: 0.0  # type: ignore[attr-defined]  # keep the test fast

    path = client.synthesize("Hello", "en", scope)

    assert path.read_bytes() == wav_bytes
    assert [r.headers["authorization"] for r in fake_provider.requests] == ["Bearer k1"] * 2


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
def test_default_espeak_client_speaks(scope) -> None:
    client = make_tts_client("espeak", _settings(), cancel=CancelToken())

    path = client.synthesize("Piece of cake", "en", scope)

    with wave.open(str(path), "rb") as wav:
        assert wav.getnframes() > 0


@pytest.mark.parametrize(
    "module",
    [langflix.tts, langflix.tts.base, langflix.tts.espeak, langflix.tts.google, langflix.tts.lemonfox],
)
def test_exports_are_sorted_and_exist(module: object) -> None:
    names = module.__all__  # type: ignore[attr-defined]
    assert list(names) == sorted(names)
    for name in names:
        assert hasattr(module, name), f"{module.__name__}.{name} is exported but missing"  # type: ignore[attr-defined]
