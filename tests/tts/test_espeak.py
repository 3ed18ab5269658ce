"""EspeakTTS with the real espeak-ng binary (and tiny stand-in scripts for failures)."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
import wave
from pathlib import Path

import pytest
from support.temp import contents

from langflix.cancel import CancelToken
from langflix.errors import CancelledError, TTSError
from langflix.temp import TempFileManager
from langflix.tts.espeak import ESPEAK_VOICES, EspeakTTS, espeak_version


def _duration(path: Path) -> float:
    with wave.open(str(path), "rb") as wav:
        return wav.getnframes() / wav.getframerate()


def _script(tmp_path: Path, name: str, body: str) -> str:
    """A stand-in for espeak-ng: a real executable that misbehaves in one way."""
    path = tmp_path / name
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)
    return str(path)


def test_english_speech_is_a_real_wav_inside_the_scope(scope) -> None:
    path = EspeakTTS().synthesize("It's raining cats and dogs.", "en", scope)

    assert path.parent == scope.path and path.suffix == ".wav"
    assert _duration(path) > 0.5
    assert contents(scope) == [path]


def test_korean_speech_uses_the_korean_voice(scope) -> None:
    client = EspeakTTS()
    assert client.voice_for("ko") == "ko"

    path = client.synthesize("비가 억수같이 온다", "ko", scope)

    assert _duration(path) > 0.3


def test_text_that_looks_like_an_option_is_spoken(scope) -> None:
    # Without "--" espeak-ng reads "-h" as --help, prints usage, writes no file.
    path = EspeakTTS().synthesize("-h", "en", scope)

    assert _duration(path) > 0.1


def test_slower_speed_gives_longer_audio(scope) -> None:
    text = "Let's call it a day and get some rest."
    normal = _duration(EspeakTTS().synthesize(text, "en", scope))
    slow = _duration(EspeakTTS(speed=100).synthesize(text, "en", scope))

    assert slow > normal * 1.3


def test_missing_binary_is_a_tts_error_with_the_install_hint(scope) -> None:
    client = EspeakTTS("espeak-ng-does-not-exist")

    with pytest.raises(TTSError, match="espeak-ng-does-not-exist is not installed.*apt-get install espeak-ng"):
        client.synthesize("Hello", "en", scope)

    assert contents(scope) == []


def test_unknown_voice_fails_with_espeaks_reason(scope) -> None:
    with pytest.raises(TTSError, match="voice does not exist"):
        EspeakTTS(voice="xx-no-such-voice").synthesize("Hello", "en", scope)

    assert contents(scope) == []


def test_exit_zero_without_audio_is_an_error(tmp_path, scope) -> None:
    binary = _script(tmp_path, "espeak-silent", "exit 0")

    with pytest.raises(TTSError, match="no readable WAV"):
        EspeakTTS(binary).synthesize("Hello", "en", scope)

    assert contents(scope) == []


def test_wav_without_frames_is_an_error(tmp_path, scope) -> None:
    # Writes a well-formed WAV header with no samples to stdout.
    writer = (
        "import io, sys, wave; b = io.BytesIO(); w = wave.open(b, 'wb'); "
        "w.setnchannels(1); w.setsampwidth(2); w.setframerate(22050); w.close(); "
        "sys.stdout.buffer.write(b.getvalue())"
    )
    binary = _script(tmp_path, "espeak-mute", f'exec "{sys.executable}" -c "{writer}" "$@"')

    with pytest.raises(TTSError, match="without any sound"):
        EspeakTTS(binary).synthesize("Hello", "en", scope)

    assert contents(scope) == []


def test_timeout_stops_the_process_and_leaves_nothing(tmp_path, scope) -> None:
    binary = _script(tmp_path, "espeak-hangs", "exec sleep 30")

    started = time.monotonic()
    with pytest.raises(TTSError, match="timed out after 0.3 s"):
        EspeakTTS(binary, timeout=0.3).synthesize("Hello", "en", scope)

    assert time.monotonic() - started < 5
    assert contents(scope) == []


def test_cancel_stops_the_process_and_leaves_nothing(tmp_path, scope) -> None:
    pid_file = tmp_path / "pid"
    binary = _script(tmp_path, "espeak-hangs", f'echo $$ > "{pid_file}"\nexec sleep 30')
    token = CancelToken()
    timer = threading.Timer(0.3, token.cancel, kwargs={"reason": "job cancelled"})
    timer.start()
    try:
        with pytest.raises(CancelledError, match="job cancelled"):
            EspeakTTS(binary, cancel=token).synthesize("Hello", "en", scope)
    finally:
        timer.cancel()

    assert contents(scope) == []
    # The child was reaped, not left running.
    pid = pid_file.read_text().strip()
    assert subprocess.run(["kill", "-0", pid], capture_output=True).returncode != 0


@pytest.mark.parametrize("text", ["", "  \n "])
def test_empty_text_is_refused_before_running_anything(scope, text) -> None:
    with pytest.raises(TTSError, match="nothing to speak"):
        EspeakTTS("espeak-ng-does-not-exist").synthesize(text, "en", scope)
    assert contents(scope) == []


@pytest.mark.parametrize(
    ("language", "voice"),
    [("en", "en-us"), ("en-US", "en-us"), ("en_gb", "en-gb"), ("en-AU", "en-us"), ("ko", "ko"), ("zh", "cmn")],
)
def test_voice_for_language(language: str, voice: str) -> None:
    assert EspeakTTS().voice_for(language) == voice


def test_every_mapped_voice_exists_in_the_installed_espeak() -> None:
    listing = subprocess.run(["espeak-ng", "--voices"], capture_output=True, text=True, check=True).stdout
    installed = {line.split()[1] for line in listing.splitlines()[1:] if line.split()}

    assert set(ESPEAK_VOICES.values()) <= installed
    assert {"ko", "ja", "de", "es", "it"} <= installed  # bare codes passed through as voices


def test_deep_temp_dir_still_gets_audio(tmp_path) -> None:
    # espeak-ng's -w silently writes nothing for paths over ~200 characters;
    # job scopes under a deep LANGFLIX_TEMP_DIR must still get their audio.
    deep = tmp_path / ("d" * 120) / ("e" * 120)
    manager = TempFileManager(base_dir=deep)
    try:
        with manager.scope("job-" + "x" * 60) as scope:
            path = EspeakTTS().synthesize("Let's break the ice.", "en", scope)
            assert len(str(path)) > 250
            # The header carries the true length (a streamed WAV claims 2**31 frames).
            assert 0.3 < _duration(path) < 10
    finally:
        manager.close()


def test_espeak_version_names_the_installed_one() -> None:
    version = espeak_version()
    assert version is not None and re.match(r"\d+\.\d+", version)
    first_line = subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True, check=True).stdout
    assert version in first_line


def test_espeak_version_of_a_missing_binary_is_none() -> None:
    assert espeak_version("espeak-ng-not-installed-here") is None
