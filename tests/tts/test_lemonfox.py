"""LemonfoxTTS against a real HTTP server on 127.0.0.1 playing Lemonfox's part."""

from __future__ import annotations

import socket
import threading
import time

import pytest
from support.temp import contents

from langflix.cancel import CancelToken
from langflix.core.http import HttpOptions
from langflix.errors import CancelledError, QuotaExceededError, TTSError
from langflix.tts.lemonfox import LemonfoxTTS

KEY = "lf-secret-key-123"


def _client(url: str, *, voice: str | None = None, audio_format: str = "wav", **http: object) -> LemonfoxTTS:
    """A client of the fake provider at ``url``; ``http`` are HttpOptions fields (no backoff wait by default)."""
    options: dict[str, object] = {"timeout": 5.0, "retries": 2, "backoff": lambda n: 0.0} | http
    return LemonfoxTTS(KEY, base_url=url, voice=voice, audio_format=audio_format, http=HttpOptions(**options))  # type: ignore[arg-type]


def test_success_writes_the_audio_into_the_scope(fake_provider, scope, wav_bytes) -> None:
    fake_provider.add(200, wav_bytes, headers={"Content-Type": "audio/wav"})

    path = _client(fake_provider.url, voice="adam").synthesize("  Break a   leg! ", "en", scope)

    assert path.parent == scope.path and path.suffix == ".wav"
    assert path.read_bytes() == wav_bytes
    (request,) = fake_provider.requests
    assert request.path == "/v1/audio/speech"
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.json() == {
        "input": "Break a leg!",
        "voice": "adam",
        "response_format": "wav",
        "language": "en-us",
    }


def test_mp3_format_is_requested_and_kept(fake_provider, scope, mp3_bytes) -> None:
    fake_provider.add(200, mp3_bytes, headers={"Content-Type": "audio/mpeg"})

    path = _client(fake_provider.url, audio_format="mp3").synthesize("Hi", "en-GB", scope)

    assert path.suffix == ".mp3" and path.read_bytes() == mp3_bytes
    body = fake_provider.requests[0].json()
    assert body["response_format"] == "mp3" and body["language"] == "en-gb"


def test_401_names_the_key_setting_and_is_not_retried(fake_provider, scope) -> None:
    # The server echoes the key back, as some gateways do: it must not reach the message.
    fake_provider.add_json(401, {"error": {"message": f"Invalid API key {KEY}"}})

    with pytest.raises(TTSError) as info:
        _client(fake_provider.url).synthesize("Hello", "en", scope)

    message = str(info.value)
    assert "401" in message and "LANGFLIX_LEMONFOX_API_KEY" in message
    assert "Invalid API key" in message
    assert KEY not in message
    assert len(fake_provider.requests) == 1
    assert contents(scope) == []


def test_500_then_success_is_retried_with_backoff(fake_provider, scope, wav_bytes) -> None:
    fake_provider.add(500, b"upstream hiccup").add(200, wav_bytes)
    waits: list[int] = []

    def backoff(attempt: int) -> float:
        waits.append(attempt)
        return 0.0

    path = _client(fake_provider.url, backoff=backoff).synthesize("Hello", "en", scope)

    assert path.read_bytes() == wav_bytes
    assert len(fake_provider.requests) == 2
    assert waits == [1]
    assert contents(scope) == [path]


def test_429_honours_retry_after_then_succeeds(fake_provider, scope, wav_bytes) -> None:
    fake_provider.add(429, b"slow down", headers={"Retry-After": "0.2"}).add(200, wav_bytes)

    started = time.monotonic()
    path = _client(fake_provider.url).synthesize("Hello", "en", scope)

    assert time.monotonic() - started >= 0.2
    assert path.read_bytes() == wav_bytes


def test_persistent_500_gives_up_after_the_configured_retries(fake_provider, scope) -> None:
    fake_provider.add(500).add(502).add(503).add(200, b"never reached")

    with pytest.raises(TTSError, match=r"HTTP 503.*3 time\(s\)"):
        _client(fake_provider.url, retries=2).synthesize("Hello", "en", scope)

    assert len(fake_provider.requests) == 3
    assert contents(scope) == []


@pytest.mark.parametrize(
    "body",
    [b'{"error": "model overloaded"}', b"<html>Bad gateway</html>", b""],
    ids=["json", "html", "empty"],
)
def test_malformed_body_is_an_error_and_leaves_nothing(fake_provider, scope, body) -> None:
    fake_provider.add(200, body)

    with pytest.raises(TTSError, match="not WAV audio"):
        _client(fake_provider.url).synthesize("Hello", "en", scope)

    assert contents(scope) == []


def test_wav_requested_but_mp3_received_is_rejected(fake_provider, scope, mp3_bytes) -> None:
    fake_provider.add(200, mp3_bytes)

    with pytest.raises(TTSError, match="not WAV audio"):
        _client(fake_provider.url).synthesize("Hello", "en", scope)
    assert contents(scope) == []


def test_timeout_is_reported_quickly_and_leaves_nothing(fake_provider, scope, wav_bytes) -> None:
    fake_provider.add(200, wav_bytes, delay=5.0)

    started = time.monotonic()
    with pytest.raises(TTSError, match=r"did not answer within 0\.3 s.*LANGFLIX_TTS_TIMEOUT"):
        _client(fake_provider.url, timeout=0.3).synthesize("Hello", "en", scope)

    assert time.monotonic() - started < 3.0
    # A read timeout is not retried: the provider may still be working on it.
    assert len(fake_provider.requests) == 1
    assert contents(scope) == []


def test_unreachable_server_is_retried_then_names_the_base_url_setting(scope) -> None:
    with socket.socket() as sock:  # a port that was just free: nobody listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    attempts: list[int] = []

    def backoff(attempt: int) -> float:
        attempts.append(attempt)
        return 0.0

    with pytest.raises(TTSError, match=r"cannot reach lemonfox.*2 attempt.*LANGFLIX_LEMONFOX_BASE_URL"):
        _client(f"http://127.0.0.1:{port}", retries=1, backoff=backoff).synthesize("Hi", "en", scope)

    assert attempts == [1]
    assert contents(scope) == []


@pytest.mark.parametrize("text", ["", "   \n\t"])
def test_empty_text_is_refused_before_any_request(fake_provider, scope, text) -> None:
    with pytest.raises(TTSError, match="nothing to speak"):
        _client(fake_provider.url).synthesize(text, "en", scope)
    assert fake_provider.requests == []
    assert contents(scope) == []


def test_unsupported_language_is_refused_before_any_request(fake_provider, scope) -> None:
    with pytest.raises(TTSError, match="cannot speak 'ko'.*espeak"):
        _client(fake_provider.url).synthesize("안녕하세요", "ko", scope)
    assert fake_provider.requests == []


@pytest.mark.parametrize(
    ("language", "code"),
    [("en", "en-us"), ("EN_us", "en-us"), ("en-GB", "en-gb"), ("en-AU", "en-us"), ("pt", "pt-br"), ("ja", "ja")],
)
def test_language_codes(language: str, code: str) -> None:
    assert LemonfoxTTS(KEY).language_code(language) == code


def test_budget_exceeded_leaves_nothing(fake_provider, manager, wav_bytes) -> None:
    fake_provider.add(200, wav_bytes)

    with manager.scope("tiny", max_bytes=len(wav_bytes) // 2) as tiny:
        with pytest.raises(QuotaExceededError):
            _client(fake_provider.url).synthesize("Hello", "en", tiny)
        assert contents(tiny) == []


def test_missing_key_is_refused() -> None:
    with pytest.raises(TTSError, match="LANGFLIX_LEMONFOX_API_KEY"):
        LemonfoxTTS("")


def test_cancel_ends_the_retry_backoff_at_once(fake_provider, scope, wav_bytes) -> None:
    fake_provider.add(503).add(200, wav_bytes)
    token = CancelToken()
    timer = threading.Timer(0.2, token.cancel, kwargs={"reason": "job cancelled"})
    timer.start()
    started = time.monotonic()
    try:
        with pytest.raises(CancelledError, match="job cancelled"):
            _client(fake_provider.url, backoff=lambda n: 30.0, cancel=token).synthesize("Hello", "en", scope)
    finally:
        timer.cancel()

    assert time.monotonic() - started < 5.0
    assert len(fake_provider.requests) == 1
    assert contents(scope) == []


def test_cancelled_before_start_sends_nothing(fake_provider, scope) -> None:
    token = CancelToken()
    token.cancel()

    with pytest.raises(CancelledError):
        _client(fake_provider.url, cancel=token).synthesize("Hello", "en", scope)
    assert fake_provider.requests == []


def test_base_url_without_scheme_names_the_setting(scope) -> None:
    with pytest.raises(TTSError, match="LANGFLIX_LEMONFOX_BASE_URL"):
        _client("api.lemonfox.ai").synthesize("Hello", "en", scope)
    assert contents(scope) == []
