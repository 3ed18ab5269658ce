"""Settings: read once from LANGFLIX_*, and turned into what the lower layers take.

The lower layers (core, tts) never read settings; these tests prove each value
reaches the object built from it: the output format, the ffmpeg tools, the TTS
clients (and their HTTP options), the LLM selector.
"""

from __future__ import annotations

import os
import wave
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError
from support.fake_http import FakeServer
from support.media import tone_wav
from support.temp import temp_manager

from langflix.cancel import CancelToken
from langflix.config import LLM_CACHE_NAME, MAX_AUTO_CONCURRENCY, Settings, get_settings
from langflix.core.ffmpeg import FFmpegTools
from langflix.core.output_format import OutputFormat, ShortFormat
from langflix.errors import ConfigError, InvalidOptionError
from langflix.temp import TempArea
from langflix.tts import EspeakTTS, GoogleTTS, LemonfoxTTS, create_tts_client


def _settings(**values: object) -> Settings:
    # Built from explicit values only, so a developer's LANGFLIX_* variables cannot leak in.
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def fresh_settings() -> Iterator[None]:
    """get_settings() reads the environment afresh in the test, and again after it."""
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def area(tmp_path: Path) -> Iterator[TempArea]:
    with temp_manager(tmp_path) as manager, manager.scope("config-test") as scope:
        yield scope


# -- the output format -------------------------------------------------------------------


def test_output_format_comes_from_the_video_settings() -> None:
    settings = _settings(video_width=640, video_height=360, video_fps=15, video_crf=30, video_preset="ultrafast")
    assert settings.output_format() == OutputFormat(width=640, height=360, fps=15, crf=30, preset="ultrafast")
    assert _settings().output_format() == OutputFormat()


def test_video_settings_are_checked_like_the_format(monkeypatch: pytest.MonkeyPatch, fresh_settings: None) -> None:
    with pytest.raises(ValueError, match="video_width"):
        _settings(video_width=641)
    monkeypatch.setenv("LANGFLIX_VIDEO_FPS", "500")
    with pytest.raises(InvalidOptionError, match="LANGFLIX_VIDEO_FPS: must be between 1 and 120, got 500"):
        get_settings()


def test_the_shorts_size_comes_from_its_settings(monkeypatch: pytest.MonkeyPatch, fresh_settings: None) -> None:
    assert _settings().short_format() == ShortFormat(width=1080, height=1920)
    monkeypatch.setenv("LANGFLIX_SHORTS_WIDTH", "720")
    monkeypatch.setenv("LANGFLIX_SHORTS_HEIGHT", "1280")
    assert get_settings().short_format() == ShortFormat(width=720, height=1280)
    odd = _settings().model_copy(update={"shorts_width": 721})
    with pytest.raises(ConfigError, match="width: must be even.*LANGFLIX_SHORTS_WIDTH"):
        odd.short_format()


def test_an_unchecked_copy_still_fails_naming_the_setting() -> None:
    odd = _settings().model_copy(update={"video_height": 7})  # model_copy does not validate
    with pytest.raises(ConfigError, match="height: must be at least 16.*LANGFLIX_VIDEO_HEIGHT"):
        odd.output_format()


def test_a_bad_variable_is_named_in_the_error(monkeypatch: pytest.MonkeyPatch, fresh_settings: None) -> None:
    monkeypatch.setenv("LANGFLIX_WORKERS", "0")
    monkeypatch.setenv("LANGFLIX_TTS", "polly")
    with pytest.raises(InvalidOptionError) as info:
        get_settings()
    assert [name for name, _ in info.value.problems] == ["LANGFLIX_WORKERS", "LANGFLIX_TTS"]
    assert "choose one of espeak, google, lemonfox" in str(info.value)


# -- the service ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("LANGFLIX_UPLOAD_IDLE_TIMEOUT", "0", "must be more than 0"),
        ("LANGFLIX_UPLOAD_IDLE_TIMEOUT", "7200", "must be at most 3600"),
        ("LANGFLIX_UPLOAD_MIN_RATE", "0", "between 1 and"),
        ("LANGFLIX_UPLOAD_CLIENT_MAX_UPLOADS", "0", "between 1 and 1000"),
        ("LANGFLIX_UPLOAD_CLIENT_MAX_BYTES", "0", "at least 1"),
        ("LANGFLIX_PUBLIC_URL", "ftp://langflix.example", r"must be an http\(s\) URL"),
        ("LANGFLIX_PUBLIC_URL", "https://langflix.example/?next=evil", r"must be an http\(s\) URL"),
    ],
)
def test_service_limits_are_checked_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, fresh_settings: None, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(InvalidOptionError, match=f"{variable}: .*{message}"):
        get_settings()


def test_service_limit_defaults() -> None:
    settings = _settings(max_upload_bytes=1000)
    assert (settings.upload_idle_timeout, settings.upload_min_rate, settings.upload_client_max_uploads) == (
        30.0, 32 * 1024, 8,
    )  # fmt: skip
    assert settings.client_max_bytes == 2000  # twice the largest upload when unset
    assert _settings(upload_client_max_bytes=5).client_max_bytes == 5
    assert _settings(public_url="https://langflix.example/app/").public_url == "https://langflix.example/app"
    assert _settings(public_url="").public_url is None


# -- ffmpeg ------------------------------------------------------------------------------


def test_ffmpeg_tools_come_from_the_settings() -> None:
    settings = _settings(ffmpeg_binary="/opt/ff/ffmpeg", ffprobe_binary="/opt/ff/ffprobe", ffmpeg_timeout=0.5)
    assert settings.ffmpeg_tools() == FFmpegTools(ffmpeg="/opt/ff/ffmpeg", ffprobe="/opt/ff/ffprobe", timeout=0.5)


# -- text to speech ----------------------------------------------------------------------


def test_settings_reach_the_tts_clients() -> None:
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
    token = CancelToken()
    espeak = settings.tts_client("espeak", cancel=token)
    lemonfox = settings.tts_client("lemonfox")
    google = settings.tts_client("google", cancel=token)

    assert isinstance(espeak, EspeakTTS)
    assert (espeak.binary, espeak.timeout) == ("/opt/espeak/bin/espeak-ng", 7.5)
    assert isinstance(lemonfox, LemonfoxTTS)
    assert (lemonfox.base_url, lemonfox.voice, lemonfox.http.timeout, lemonfox.http.retries) == (
        "http://127.0.0.1:9",
        "adam",
        7.5,
        4,
    )
    assert isinstance(google, GoogleTTS)
    assert (google.base_url, google.http.timeout, google.http.retries, google.http.cancel) == (
        "http://127.0.0.1:8",
        7.5,
        4,
        token,
    )


def test_the_default_provider_is_langflix_tts() -> None:
    assert _settings(tts="Google", google_api_key="k").tts_client().name == "google"
    assert _settings().tts_client().name == "espeak"


@pytest.mark.parametrize(
    ("name", "setting"), [("lemonfox", "LANGFLIX_LEMONFOX_API_KEY"), ("google", "LANGFLIX_GOOGLE_API_KEY")]
)
def test_paid_provider_without_key_is_a_config_error(name: str, setting: str) -> None:
    with pytest.raises(ConfigError, match=f"{setting}.*LANGFLIX_TTS=espeak"):
        _settings().tts_client(name)


def test_the_environment_is_the_default_source(monkeypatch: pytest.MonkeyPatch, fresh_settings: None) -> None:
    monkeypatch.setenv("LANGFLIX_GOOGLE_API_KEY", "from-env")
    monkeypatch.setenv("LANGFLIX_TTS_RETRIES", "5")
    client = get_settings().tts_client("google")
    assert isinstance(client, GoogleTTS) and client.http.retries == 5


def test_a_client_from_settings_talks_to_the_configured_server(area: TempArea) -> None:
    wav = tone_wav()
    with FakeServer(name="fake-tts") as server:
        server.add(500).add(200, wav)
        settings = _settings(lemonfox_api_key="k1", lemonfox_base_url=server.url, tts_retries=1)
        # The long form, for a backoff that keeps the test fast.
        http = settings.tts_http(backoff=lambda n: 0.0)
        client = create_tts_client("lemonfox", settings.tts_config("lemonfox"), http)
        path = client.synthesize("Hello", "en", area)
    assert path.read_bytes() == wav
    assert [r.headers["authorization"] for r in server.requests] == ["Bearer k1"] * 2


def test_the_default_espeak_client_speaks(area: TempArea) -> None:
    path = _settings().tts_client("espeak", cancel=CancelToken()).synthesize("Piece of cake", "en", area)
    with wave.open(str(path), "rb") as audio:
        assert audio.getnframes() > 0


# -- the LLM selector ----------------------------------------------------------------------


def test_llm_settings_without_url_or_key_are_a_config_error() -> None:
    with pytest.raises(ConfigError, match="LANGFLIX_LLM_BASE_URL"):
        _settings(llm_base_url=None, llm_api_key="k").llm_selector()
    with pytest.raises(ConfigError, match="LANGFLIX_LLM_API_KEY"):
        _settings(llm_base_url="http://127.0.0.1:1", llm_api_key=None).llm_selector()


def test_llm_settings_reach_the_selector() -> None:
    token = CancelToken()
    selector = _settings(llm_base_url="http://127.0.0.1:1", llm_api_key="k", llm_model="x", llm_timeout=5).llm_selector(
        cancel=token
    )
    assert (selector.model, selector.http.timeout, selector.http.cancel) == ("x", 5.0, token)
    assert selector.url == "http://127.0.0.1:1/v1/chat/completions"


def test_the_api_token_comes_from_the_variable_or_a_file(tmp_path: Path) -> None:
    assert _settings().access_token() is None
    assert _settings(api_token="t" * 16).access_token() == "t" * 16
    assert "t" * 16 not in repr(_settings(api_token="t" * 16)), "never shown in a repr or a log of the settings"
    token_file = tmp_path / "token"
    token_file.write_text("  file-token-0123456789\n", encoding="utf-8")
    assert _settings(api_token_file=token_file).access_token() == "file-token-0123456789"
    assert _settings(api_token="", api_token_file="").access_token() is None, "empty means unset"


def test_a_bad_token_setting_names_the_variable_and_never_the_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable, value, expected in (
        ("LANGFLIX_API_TOKEN", "sekrit-x", "LANGFLIX_API_TOKEN: the token is 8 characters long; use at least 16"),
        ("LANGFLIX_API_TOKEN_FILE", str(tmp_path / "missing"), f"cannot read the token file {tmp_path / 'missing'}"),
    ):
        monkeypatch.setenv(variable, value)
        get_settings.cache_clear()
        with pytest.raises(InvalidOptionError) as caught:
            get_settings()
        assert expected in str(caught.value)
        assert caught.value.__cause__ is None, "pydantic's error (which repeats the input) is not chained"
        assert "sekrit" not in str(caught.value)
        monkeypatch.delenv(variable)
    get_settings.cache_clear()
    token_file = tmp_path / "token"
    token_file.write_text("file-token-0123456789", encoding="utf-8")
    with pytest.raises(ValidationError, match="set LANGFLIX_API_TOKEN or LANGFLIX_API_TOKEN_FILE, not both"):
        _settings(api_token="t" * 16, api_token_file=token_file)


def test_the_llm_translates_into_the_set_language_and_remembers_in_the_cache_dir(tmp_path: Path) -> None:
    selector = _settings(
        llm_base_url="http://127.0.0.1:1", llm_api_key="k", translation_language="ja", cache_dir=tmp_path / "c"
    ).llm_selector()
    assert selector.translation_language == "ja"
    assert selector.cache is not None and selector.cache.path == tmp_path / "c" / LLM_CACHE_NAME


def test_the_cache_lives_in_the_data_dir_by_default_never_in_the_temp_dir(tmp_path: Path) -> None:
    settings = _settings(data_dir=tmp_path / "data", temp_dir=tmp_path / "temp", cache_dir=None)
    assert settings.llm_cache().path == tmp_path / "data" / "cache" / LLM_CACHE_NAME
    assert not settings.llm_cache().path.is_relative_to(tmp_path / "temp")


def test_tts_none_builds_no_client() -> None:
    assert _settings(tts="none").speech() is None
    assert _settings().speech("None") is None
    speech = _settings().speech()
    assert isinstance(speech, EspeakTTS)
    with pytest.raises(ConfigError, match="LANGFLIX_GOOGLE_API_KEY"):
        _settings(google_api_key=None).speech("google")
    with pytest.raises(ConfigError, match="no speech, not a provider"):
        _settings().tts_client("none")


def test_concurrency_is_one_piece_per_core_at_most_four_unless_set() -> None:
    cores = len(os.sched_getaffinity(0))
    assert _settings().concurrency() == max(1, min(cores, MAX_AUTO_CONCURRENCY))
    assert _settings(job_concurrency=3).concurrency() == 3
    with pytest.raises(ValueError, match="job_concurrency"):
        _settings(job_concurrency=-1)


# -- scaling out -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"LANGFLIX_REDIS_URL": "redis://localhost:6379/0"}, "LANGFLIX_SHARED_DIR: LANGFLIX_REDIS_URL is set"),
        ({"LANGFLIX_REDIS_URL": "http://localhost:6379", "LANGFLIX_SHARED_DIR": "/s"}, "must be a Redis URL"),
        ({"LANGFLIX_LEASE_TTL": "0.5"}, "LANGFLIX_LEASE_TTL: must be between 1 and 3600"),
        ({"LANGFLIX_JOB_RETRIES": "11"}, "LANGFLIX_JOB_RETRIES: must be between 0 and 10"),
        ({"LANGFLIX_REDIS_QUEUE": "a b"}, "LANGFLIX_REDIS_QUEUE"),
    ],
)
def test_scale_out_settings_are_checked_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, fresh_settings: None, variables: dict[str, str], message: str
) -> None:
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(InvalidOptionError, match=message):
        get_settings()


def test_a_redis_password_is_never_echoed(monkeypatch: pytest.MonkeyPatch, fresh_settings: None) -> None:
    monkeypatch.setenv("LANGFLIX_REDIS_URL", "http://user:hunter2secret@localhost:6379")
    monkeypatch.setenv("LANGFLIX_SHARED_DIR", "/s")
    with pytest.raises(InvalidOptionError) as caught:
        get_settings()
    assert "hunter2secret" not in str(caught.value) and caught.value.__cause__ is None


def test_scaled_out_outputs_default_to_the_shared_dir() -> None:
    embedded = _settings()
    assert not embedded.scaled_out and embedded.output_dir == Path("langflix-output")
    scaled = _settings(redis_url="redis://r:6379/0", shared_dir="/srv/shared")
    assert scaled.scaled_out and scaled.output_dir == Path("/srv/shared/outputs")
    assert scaled.staging_dir() == Path("/srv/shared/staging")
    assert _settings(redis_url="redis://r", shared_dir="/s", output_dir="/o").output_dir == Path("/o")
    assert (scaled.lease_ttl, scaled.job_retries, scaled.redis_queue) == (30.0, 1, "langflix")
    with pytest.raises(ConfigError, match="LANGFLIX_SHARED_DIR is not set"):
        embedded.staging_dir()
