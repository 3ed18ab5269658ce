"""GoogleTTS against a real HTTP server on 127.0.0.1 playing Google's part."""

from __future__ import annotations

import base64
import logging
import time

import pytest
from support.temp import contents

from langflix.core.http import HttpOptions
from langflix.errors import TTSError
from langflix.tts.google import GOOGLE_LANGUAGES, GoogleTTS

KEY = "AIza-google-secret"


def _client(url: str, *, voice: str | None = None, audio_format: str = "wav", **http: object) -> GoogleTTS:
    """A client of the fake provider at ``url``; ``http`` are HttpOptions fields (no backoff wait by default)."""
    options: dict[str, object] = {"timeout": 5.0, "retries": 2, "backoff": lambda n: 0.0} | http
    return GoogleTTS(KEY, base_url=url, voice=voice, audio_format=audio_format, http=HttpOptions(**options))  # type: ignore[arg-type]


def _audio_reply(data: bytes) -> dict[str, str]:
    return {"audioContent": base64.b64encode(data).decode()}


def test_success_decodes_audio_into_the_scope(fake_provider, scope, wav_bytes, caplog) -> None:
    fake_provider.add_json(200, _audio_reply(wav_bytes))
    caplog.set_level(logging.DEBUG)

    path = _client(fake_provider.url).synthesize("Hit the books.", "ko", scope)

    assert path.parent == scope.path and path.suffix == ".wav"
    assert path.read_bytes() == wav_bytes
    (request,) = fake_provider.requests
    assert request.path == "/v1/text:synthesize"
    assert request.headers["x-goog-api-key"] == KEY
    assert request.json() == {
        "input": {"text": "Hit the books."},
        "voice": {"languageCode": "ko-KR"},
        "audioConfig": {"audioEncoding": "LINEAR16"},
    }
    # The key travels in a header, so it is in no URL and no log line (httpx logs URLs).
    assert request.query == {}
    assert KEY not in caplog.text


def test_mp3_and_voice_name_are_sent(fake_provider, scope, mp3_bytes) -> None:
    fake_provider.add_json(200, _audio_reply(mp3_bytes))

    client = _client(fake_provider.url, audio_format="mp3", voice="en-GB-Neural2-A")
    path = client.synthesize("Cheers", "en_gb", scope)

    assert path.suffix == ".mp3" and path.read_bytes() == mp3_bytes
    body = fake_provider.requests[0].json()
    assert body["voice"] == {"languageCode": "en-GB", "name": "en-GB-Neural2-A"}
    assert body["audioConfig"] == {"audioEncoding": "MP3"}


@pytest.mark.parametrize("status", [401, 403])
def test_rejected_key_names_the_setting(fake_provider, scope, status) -> None:
    fake_provider.add_json(
        status,
        {"error": {"code": status, "message": f"API key not valid: {KEY}", "status": "PERMISSION_DENIED"}},
    )

    with pytest.raises(TTSError) as info:
        _client(fake_provider.url).synthesize("Hello", "en", scope)

    message = str(info.value)
    assert f"HTTP {status}" in message and "LANGFLIX_GOOGLE_API_KEY" in message
    assert "API key not valid" in message
    assert KEY not in message
    assert len(fake_provider.requests) == 1
    assert contents(scope) == []


def test_500_then_success_is_retried(fake_provider, scope, wav_bytes) -> None:
    fake_provider.add_json(500, {"error": {"message": "internal"}}).add_json(200, _audio_reply(wav_bytes))

    path = _client(fake_provider.url).synthesize("Hello", "en", scope)

    assert path.read_bytes() == wav_bytes
    assert len(fake_provider.requests) == 2
    assert contents(scope) == [path]


def test_retries_zero_means_one_attempt(fake_provider, scope, wav_bytes) -> None:
    fake_provider.add(503).add_json(200, _audio_reply(wav_bytes))

    with pytest.raises(TTSError, match="HTTP 503"):
        _client(fake_provider.url, retries=0).synthesize("Hello", "en", scope)
    assert len(fake_provider.requests) == 1
    assert contents(scope) == []


@pytest.mark.parametrize(
    ("reply", "match"),
    [
        (b"<html>502</html>", "not with JSON"),
        (b'{"audio": "AAAA"}', "no 'audioContent'"),
        (b'["audioContent"]', "no 'audioContent'"),
        (b'{"audioContent": "***not base64***"}', "not valid base64"),
        (b'{"audioContent": "' + base64.b64encode(b"just some text, no audio") + b'"}', "not WAV audio"),
    ],
    ids=["html", "missing-field", "not-an-object", "bad-base64", "not-audio"],
)
def test_malformed_body_is_an_error_and_leaves_nothing(fake_provider, scope, reply, match) -> None:
    fake_provider.add(200, reply, headers={"Content-Type": "application/json"})

    with pytest.raises(TTSError, match=match):
        _client(fake_provider.url).synthesize("Hello", "en", scope)

    assert len(fake_provider.requests) == 1
    assert contents(scope) == []


def test_timeout_is_reported_and_leaves_nothing(fake_provider, scope, wav_bytes) -> None:
    fake_provider.add_json(200, _audio_reply(wav_bytes), delay=5.0)

    started = time.monotonic()
    with pytest.raises(TTSError, match=r"google did not answer within 0\.3 s"):
        _client(fake_provider.url, timeout=0.3).synthesize("Hello", "en", scope)

    assert time.monotonic() - started < 3.0
    assert contents(scope) == []


def test_empty_text_is_refused_before_any_request(fake_provider, scope) -> None:
    with pytest.raises(TTSError, match="nothing to speak"):
        _client(fake_provider.url).synthesize(" ", "en", scope)
    assert fake_provider.requests == []


@pytest.mark.parametrize(
    ("language", "code"),
    [
        ("en", "en-US"),
        ("ko", "ko-KR"),
        ("KO", "ko-KR"),
        ("en-GB", "en-GB"),
        ("en_au", "en-AU"),
        ("zh", "cmn-CN"),
        ("zh-TW", "cmn-TW"),
        ("ja", "ja-JP"),
    ],
)
def test_language_codes(language: str, code: str) -> None:
    assert GoogleTTS(KEY).language_code(language) == code


@pytest.mark.parametrize("language", ["", "x", "123", "xx"])
def test_unknown_language_is_a_clear_error(language: str) -> None:
    with pytest.raises(TTSError, match="language|region"):
        GoogleTTS(KEY).language_code(language)


def test_every_default_code_has_a_region() -> None:
    assert all("-" in code for code in GOOGLE_LANGUAGES.values())
