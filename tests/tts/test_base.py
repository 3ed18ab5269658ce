"""The shared pieces of langflix.tts.base: text, languages, audio sniffing, writing, provider config.

(The retry backoff and ``Retry-After`` are the HTTP layer's: tests/core/test_http.py.)
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from langflix.errors import TTSError
from langflix.tts.base import (
    LanguageTag,
    ProviderConfig,
    parse_language,
    require_text,
    sniff_audio,
    write_audio,
)


def test_require_text_collapses_whitespace() -> None:
    assert require_text("  It's a\n piece   of cake ", "p") == "It's a piece of cake"


@pytest.mark.parametrize("text", ["", " ", "\n\t"])
def test_require_text_refuses_empty(text: str) -> None:
    with pytest.raises(TTSError, match="p: nothing to speak"):
        require_text(text, "p")


@pytest.mark.parametrize(
    ("raw", "tag"),
    [
        ("en", ("en", None)),
        ("EN-us", ("en", "US")),
        ("ko_kr", ("ko", "KR")),
        (" pt-BR ", ("pt", "BR")),
        ("cmn", ("cmn", None)),
        ("zh-Hant-TW", ("zh", "TW")),
        ("es-419", ("es", "419")),
    ],
)
def test_parse_language(raw: str, tag: tuple[str, str | None]) -> None:
    assert parse_language(raw, "p") == LanguageTag(*tag)


@pytest.mark.parametrize("raw", ["", "e", "english", "12", "-US"])
def test_parse_language_refuses_non_codes(raw: str) -> None:
    with pytest.raises(TTSError, match="not a language code"):
        parse_language(raw, "p")


def test_sniff_audio(wav_bytes: bytes, mp3_bytes: bytes) -> None:
    assert sniff_audio(wav_bytes) == "wav"
    assert sniff_audio(mp3_bytes) == "mp3"
    assert sniff_audio(b"\xff\xfb\x90\x00" + bytes(20)) == "mp3"  # bare frame, no ID3 tag
    assert sniff_audio(b'{"error": "nope"}') is None
    assert sniff_audio(b"RIFF") is None


def test_provider_config_reads_the_providers_own_settings_by_name() -> None:
    values = {
        "lemonfox_api_key": "k1",
        "lemonfox_base_url": "http://127.0.0.1:9",
        "lemonfox_voice": None,
        "google_api_key": "k2",
        "espeak_binary": "/opt/espeak-ng",
        "tts_timeout": 7.5,
    }
    assert ProviderConfig.from_values("lemonfox", values) == ProviderConfig(
        api_key="k1", base_url="http://127.0.0.1:9"
    )
    assert ProviderConfig.from_values("espeak", values) == ProviderConfig(binary="/opt/espeak-ng")
    assert ProviderConfig.from_values("polly", values) == ProviderConfig()


def test_write_audio_stores_checked_bytes(scope, wav_bytes: bytes) -> None:
    path = write_audio(scope, wav_bytes, "wav", "p")

    assert path.parent == scope.path and path.read_bytes() == wav_bytes
    assert path.stat().st_mode & 0o777 == 0o600


def test_write_audio_releases_the_file_when_the_write_fails(tmp_path: Path, wav_bytes: bytes) -> None:
    # A real EFBIG from the kernel (RLIMIT_FSIZE), in a child process so the
    # limit cannot touch this one: the half-written file must be gone afterwards.
    script = textwrap.dedent(
        """
        import json, resource, signal, sys
        from pathlib import Path
        from langflix.errors import TTSError
        from langflix.tts.base import write_audio
        from langflix.temp import TempFileManager

        data = Path(sys.argv[1]).read_bytes()
        mgr = TempFileManager(base_dir=Path(sys.argv[2]))
        with mgr.scope("write-fails") as scope:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (len(data) // 2, resource.RLIM_INFINITY))
            try:
                write_audio(scope, data, "wav", "p")
                outcome = "written"
            except TTSError as exc:
                outcome = str(exc)
            resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
            left = [str(p) for p in scope.path.rglob("*")]
            live = scope.stats().live_files
        mgr.close()
        print(json.dumps({"outcome": outcome, "left": left, "live": live}))
        """
    )
    audio = tmp_path / "in.wav"
    audio.write_bytes(wav_bytes)
    done = subprocess.run(
        [sys.executable, "-c", script, str(audio), str(tmp_path / "tmp")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])

    assert "cannot write audio" in result["outcome"]
    assert result["left"] == [] and result["live"] == 0
