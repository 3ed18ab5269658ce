"""Tiny generated media for the tests: ffmpeg's lavfi sources encoded into a file.

Everything here runs plain ``ffmpeg`` (quiet, no stdin, overwriting), independent
of the code under test, so a fixture never depends on what it helps to test.
"""

from __future__ import annotations

import io
import math
import struct
import subprocess
import wave
from collections.abc import Sequence
from pathlib import Path

__all__ = ["X264", "ffmpeg", "lavfi", "make_media", "pattern", "sine", "tone_wav"]

X264 = ("-c:v", "libx264", "-preset", "ultrafast")
"""The video encoding of every generated file: H.264, as fast as it goes."""


def ffmpeg(*args: str, timeout: float = 60) -> None:
    """Run plain ffmpeg with ``args``; a failure raises ``CalledProcessError``."""
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args],
        check=True,
        timeout=timeout,
    )


def lavfi(*sources: str) -> list[str]:
    """Input arguments reading each of ``sources`` from the lavfi device."""
    return [arg for source in sources for arg in ("-f", "lavfi", "-i", source)]


def pattern(size: str, rate: float, seconds: float | None = None, *, name: str = "testsrc") -> str:
    """A lavfi test pattern (``testsrc`` or ``testsrc2``), endless without ``seconds``."""
    source = f"{name}=size={size}:rate={rate}"
    return source if seconds is None else f"{source}:duration={seconds}"


def sine(frequency: float = 440, sample_rate: int = 44100, seconds: float | None = None) -> str:
    """A lavfi sine tone, endless without ``seconds``."""
    source = f"sine=frequency={frequency}:sample_rate={sample_rate}"
    return source if seconds is None else f"{source}:duration={seconds}"


def make_media(
    path: Path, *, video: str | None = None, audio: str | None = None, args: Sequence[str] = ()
) -> Path:
    """Encode a lavfi ``video`` and/or ``audio`` source into ``path`` and return it.

    Video is H.264 (``X264``); audio next to video is AAC, audio alone takes the
    container's default codec (PCM for .wav). ``args`` are further output options.
    """
    sources = [s for s in (video, audio) if s is not None]
    if not sources:
        raise ValueError("make_media needs a video or an audio source")
    codecs: list[str] = []
    if video is not None:
        codecs += X264
        if audio is not None:
            codecs += ["-c:a", "aac"]
    ffmpeg(*lavfi(*sources), *codecs, *args, str(path))
    return path


def tone_wav(seconds: float = 0.2, rate: int = 16000) -> bytes:
    """A small real WAV (a 440 Hz mono tone) in memory, as a speech provider would send."""
    frames = int(seconds * rate)
    pcm = b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / rate))) for i in range(frames))
    buf = io.BytesIO()
    with wave.open(buf, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(pcm)
    return buf.getvalue()
