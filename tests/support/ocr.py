"""Reading text back from frames: tesseract on a PNG, and a forgiving comparison.

OCR misreads a letter here and there and splits Korean syllables with spaces, so
tests compare words fuzzily: :func:`word_match_ratio` is the share of expected
words found in what tesseract read (a word counts when it is at least 80 %
similar to a word read, or, for scripts OCR spaces oddly, to a stretch of the
text read with spaces removed).
"""

from __future__ import annotations

import difflib
import os
import re
import subprocess
import unicodedata
from pathlib import Path

__all__ = ["normalise", "ocr", "word_match_ratio", "words"]

_WORD = re.compile(r"\w+", re.UNICODE)
_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'})


def ocr(
    png: Path,
    *,
    langs: str = "eng+kor",
    psm: int = 6,
    upscale: int = 2,
    crop: tuple[int, int, int, int] | None = None,
    white_only: bool = False,
    timeout: float = 120,
) -> str:
    """What tesseract reads in ``png`` (``psm`` 6: one uniform block of text).

    ``crop`` (x, y, width, height) reads only that part, which is much faster on a
    big frame. ``white_only`` keeps only near-white pixels (as black on white):
    white text over a busy picture. Small text is enlarged ``upscale`` times
    first (written beside ``png``): tesseract reads Hangul poorly below about 30
    pixels a line.
    """
    source = png
    filters = []
    if crop is not None:
        x, y, w, h = crop
        filters.append(f"crop={w}:{h}:{x}:{y}")
    if white_only:
        filters += ["format=gray", "lut=y=if(gt(val\\,225)\\,0\\,255)"]
    if upscale > 1:
        filters.append(f"scale=iw*{upscale}:ih*{upscale}:flags=lanczos")
    if filters:
        source = png.with_name(f"{png.stem}.ocr.png")
        subprocess.run(
            ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-i", str(png),
             "-vf", ",".join(filters), "-update", "1", str(source)],
            check=True, timeout=timeout,
        )  # fmt: skip
    # One thread: on a shared machine tesseract's OpenMP threads only fight each other.
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    result = subprocess.run(
        ["tesseract", str(source), "-", "-l", langs, "--psm", str(psm)],
        capture_output=True, check=True, timeout=timeout, env=env,
    )  # fmt: skip
    return result.stdout.decode("utf-8", "replace")


def normalise(text: str) -> str:
    """NFC, lower case, straight quotes, single spaces."""
    text = unicodedata.normalize("NFC", text).translate(_QUOTES).lower()
    return " ".join(text.split())


def words(text: str) -> list[str]:
    """The words of ``text`` after :func:`normalise` (letters and digits of any script)."""
    return _WORD.findall(normalise(text))


def _similar(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a, b).ratio()


def word_match_ratio(expected: str, read: str, *, threshold: float = 0.8) -> float:
    """Share of the words of ``expected`` that tesseract's ``read`` contains (fuzzily)."""
    wanted = words(expected)
    if not wanted:
        raise ValueError("word_match_ratio needs expected text with words")
    got = words(read)
    compact = "".join(got)
    found = 0
    for word in wanted:
        if any(_similar(word, other) >= threshold for other in got):
            found += 1
            continue
        size = len(word)
        windows = (compact[i : i + size] for i in range(max(1, len(compact) - size + 1)))
        if any(_similar(word, window) >= threshold for window in windows):
            found += 1
    return found / len(wanted)
