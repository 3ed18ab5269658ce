"""Turn the bytes of a subtitle file into text, and tell which script that text is in.

Subtitle files come from anywhere: Korean users mostly hold CP949/EUC-KR or UTF-8
files (often with a BOM), Windows tools write UTF-16 with a BOM, old English files
are Windows-1252. Nothing in the file says which one it is, so this module decides
from the bytes (BOM first, then strict decodes that must also *look* right), and
refuses binary garbage with a message the user can act on.

The script check (:func:`guess_language`) lives here too because every subtitle
parser needs it: a class or file name can lie about the language, the letters do not.
"""

from __future__ import annotations

import codecs
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from langflix.errors import SubtitleError

__all__ = [
    "DecodedText",
    "decode_text",
    "detect_encoding",
    "guess_language",
    "language_from_tag",
    "script_of",
]

# Longest BOM first: the UTF-32-LE BOM starts with the UTF-16-LE one.
_BOMS: Final[tuple[tuple[bytes, str], ...]] = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)

_SNIFF_BYTES: Final[int] = 64 * 1024
"""How much of the file the heuristics look at: enough for any real subtitle header."""

_MAX_CONTROL_RATIO: Final[float] = 0.01
"""Share of C0 control bytes above which a file is binary, not text."""

_MIN_HANGUL_RATIO: Final[float] = 0.6
"""Share of Hangul syllables among non-ASCII characters for a CP949 decode to be
believed. Guards against Windows-1252 text (``"Éte"``) that happens to be valid CP949
and would otherwise come out as rare Hangul syllables."""

_MAX_RARE_HANGUL_RATIO: Final[float] = 0.1
"""Share of Hangul syllables outside EUC-KR's common 2,350 above which a CP949 decode
is mojibake (see :func:`_plausible_korean`)."""

# Control bytes that never appear in text files (tab, LF, FF, CR and SUB/0x1a are fine).
_CONTROL_BYTES: Final[bytes] = bytes(
    b for b in range(0x20) if b not in (0x09, 0x0A, 0x0C, 0x0D, 0x1A)
) + b"\x7f"
_NON_ASCII: Final[re.Pattern[str]] = re.compile(r"[^\x00-\x7f]")
_HANGUL_SYLLABLE: Final[re.Pattern[str]] = re.compile(r"[\uac00-\ud7a3]")
_NEWLINES: Final[re.Pattern[str]] = re.compile(r"\r\n?")


@dataclass(frozen=True, slots=True)
class DecodedText:
    """Text of a file plus how it was decoded (shown in logs and error messages)."""

    text: str
    encoding: str
    bom: bool


def _bom_encoding(data: bytes) -> tuple[str, int] | None:
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return encoding, len(bom)
    return None


def _utf16_without_bom(data: bytes) -> str | None:
    """Guess BOM-less UTF-16 from the NUL bytes that ASCII characters leave behind."""
    sample = data[: _SNIFF_BYTES & ~1]
    if len(sample) < 4:
        return None
    even_nuls = sample[0::2].count(0)
    odd_nuls = sample[1::2].count(0)
    half = len(sample) // 2
    # Subtitle text is mostly ASCII (digits, tags, arrows), so one half of the bytes
    # is largely NUL and the other half almost never is.
    if odd_nuls > 0.3 * half and even_nuls < 0.02 * half:
        return "utf-16-le"
    if even_nuls > 0.3 * half and odd_nuls < 0.02 * half:
        return "utf-16-be"
    return None


def _looks_binary(data: bytes) -> bool:
    sample = data[:_SNIFF_BYTES]
    if b"\x00" in sample:
        return True
    controls = len(sample) - len(sample.translate(None, _CONTROL_BYTES))
    return controls > _MAX_CONTROL_RATIO * len(sample)


def _plausible_korean(text: str) -> bool:
    """Whether a CP949/EUC-KR decode reads as Korean rather than mojibake.

    Windows-1252 text can be valid CP949: "À" followed by a letter decodes as one of
    the 8,822 rare Hangul syllables only CP949 has. Real Korean text is mostly Hangul,
    and those Hangul almost all belong to the 2,350 common syllables of EUC-KR.
    """
    total = len(_NON_ASCII.findall(text))
    if total == 0:
        return True
    # Regex scans and a C-level Counter: a feature film's text is checked in milliseconds.
    hangul = Counter(_HANGUL_SYLLABLE.findall(text))
    hangul_total = sum(hangul.values())
    if hangul_total < _MIN_HANGUL_RATIO * total:
        return False
    rare = sum(n for c, n in hangul.items() if not _in_euc_kr(c))
    return rare <= _MAX_RARE_HANGUL_RATIO * hangul_total


def _in_euc_kr(char: str) -> bool:
    try:
        # Python's euc_kr spells syllables outside the common 2,350 as 8-byte
        # KS X 1001 make-up sequences, so "encodable" is not enough: it must be 2 bytes.
        return len(char.encode("euc-kr")) == 2
    except UnicodeEncodeError:
        return False


def _strict(data: bytes, encoding: str) -> str | None:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError:
        return None


def _describe(source: str | Path | None) -> str:
    return str(source) if source is not None else "the subtitle text"


def _decode(data: bytes, source: str | Path | None) -> DecodedText:
    bom = _bom_encoding(data)
    if bom is not None:
        encoding, size = bom
        try:
            return DecodedText(data[size:].decode(encoding), encoding, True)
        except UnicodeDecodeError as exc:
            raise SubtitleError(
                f"{_describe(source)} starts with a {encoding.upper()} byte-order mark but is not "
                f"valid {encoding.upper()} (byte {exc.start + size}): the file is damaged or was "
                "converted badly. Re-save it as UTF-8 and try again."
            ) from exc

    utf16 = _utf16_without_bom(data)
    if utf16 is not None:
        text = _strict(data, utf16)
        if text is not None:
            return DecodedText(text, utf16, False)

    if _looks_binary(data):
        raise SubtitleError(
            f"{_describe(source)} is not a text subtitle file (it contains binary data). "
            "Check that you chose the subtitle file (.srt, .vtt, .ass, .smi), not the video."
        )

    text = _strict(data, "utf-8")
    if text is not None:
        return DecodedText(text, "utf-8", False)

    # CP949 is a superset of EUC-KR; report the narrower name when it fits, which is
    # what Korean tools call such a file.
    for encoding in ("euc-kr", "cp949"):
        text = _strict(data, encoding)
        if text is not None and _plausible_korean(text):
            return DecodedText(text, encoding, False)

    text = _strict(data, "cp1252")
    if text is not None:
        return DecodedText(text, "cp1252", False)

    raise SubtitleError(
        f"{_describe(source)}: cannot tell the text encoding (it is not UTF-8, UTF-16, "
        "CP949/EUC-KR or Windows-1252). Re-save the file as UTF-8 and try again."
    )


def decode_text(data: bytes, *, source: str | Path | None = None) -> DecodedText:
    """Decode subtitle bytes whatever their encoding; newlines come out as ``\\n``.

    Raises :class:`SubtitleError` naming ``source`` for binary data or an unknown
    encoding, so the user learns which file to fix instead of seeing mojibake.
    """
    decoded = _decode(data, source)
    # CRLF (Windows) and lone CR (old Mac) become LF, so line numbers in error
    # messages match what an editor shows and no parser has to care.
    text = _NEWLINES.sub("\n", decoded.text)
    return DecodedText(text, decoded.encoding, decoded.bom)


def detect_encoding(data: bytes) -> str:
    """Name of the codec :func:`decode_text` would use for ``data``."""
    return _decode(data, None).encoding


# ---------------------------------------------------------------------------
# Scripts and languages

_NON_LATIN_LANGUAGES: Final[frozenset[str]] = frozenset({"ja", "ko", "ru", "zh"})


_SCRIPT_PATTERNS: Final[tuple[tuple[str, re.Pattern[str]], ...]] = (
    ("hangul", re.compile(r"[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f]")),
    ("kana", re.compile(r"[\u3040-\u30ff]")),
    ("han", re.compile(r"[\u4e00-\u9fff\u3400-\u4dbf]")),
    ("cyrillic", re.compile(r"[\u0400-\u04ff]")),
    ("latin", re.compile(r"[A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f]")),
)


def _script_counts(texts: Iterable[str]) -> dict[str, int]:
    # One regex pass per script over the joined text: a feature film's track is
    # counted in milliseconds (a per-character Python loop took 100 ms).
    joined = "\n".join(texts)
    counts = {name: len(pattern.findall(joined)) for name, pattern in _SCRIPT_PATTERNS}
    return {name: count for name, count in counts.items() if count}


_SYLLABIC_WEIGHT: Final[int] = 3
"""A Hangul syllable, a kana or a Han character says about as much as three Latin
letters; weighing them so keeps a Korean line full of English names Korean."""


def _script_from_counts(counts: dict[str, int]) -> str | None:
    weighted = {
        script: count * (1 if script in ("latin", "cyrillic") else _SYLLABIC_WEIGHT)
        for script, count in counts.items()
    }
    total = sum(weighted.values())
    if total == 0:
        return None
    # Korean lines full of English names still read as Korean; English lines with
    # one Korean word do not. Japanese mixes kana with Han, so a little kana decides.
    if weighted.get("hangul", 0) >= 0.2 * total:
        return "hangul"
    if weighted.get("kana", 0) >= 0.1 * total:
        return "kana"
    return max(weighted, key=weighted.__getitem__)


def script_of(texts: Iterable[str]) -> str | None:
    """Dominant script of ``texts``: "hangul", "kana", "han", "cyrillic", "latin" or None."""
    return _script_from_counts(_script_counts(texts))


_SCRIPT_LANGUAGE: Final[dict[str, str]] = {
    "cyrillic": "ru",
    "han": "zh",
    "hangul": "ko",
    "kana": "ja",
}


_TAG_LANGUAGE: Final[dict[str, str]] = {
    "kr": "ko", "ko": "ko", "kor": "ko", "kokr": "ko", "krkr": "ko", "korean": "ko",
    "en": "en", "eg": "en", "eng": "en", "enus": "en", "engb": "en", "us": "en", "english": "en",
    "jp": "ja", "ja": "ja", "jajp": "ja", "jpn": "ja", "japanese": "ja",
    "cn": "zh", "zh": "zh", "zhcn": "zh", "zhtw": "zh", "ch": "zh", "chi": "zh", "chinese": "zh",
    "fr": "fr", "frfr": "fr", "fre": "fr", "fra": "fr", "french": "fr",
    "es": "es", "eses": "es", "sp": "es", "spa": "es", "spanish": "es",
    "de": "de", "dede": "de", "ge": "de", "ger": "de", "deu": "de", "german": "de",
    "it": "it", "ita": "it", "ru": "ru", "rus": "ru",
}  # fmt: skip


def language_from_tag(tag: str) -> str | None:
    """Two-letter language of a tag as files spell it ("KR", "eng", "en-US", "EnUs"), or None."""
    key = tag.strip().lower().replace("-", "").replace("_", "")
    if key in _TAG_LANGUAGE:
        return _TAG_LANGUAGE[key]
    return _TAG_LANGUAGE.get(key[:2]) if len(key) == 4 else None


def guess_language(texts: Iterable[str], hint: str | None = None) -> str | None:
    """Language of a track from its letters, with ``hint`` (a class or file name's claim)
    used only where the letters cannot decide.

    Hangul/Kana/Han/Cyrillic text is Korean/Japanese/Chinese/Russian whatever the hint
    says (the "Korean text labelled ENCC" files). Latin text takes a Latin-script hint
    and is otherwise English; text without letters keeps the hint.
    """
    script = script_of(texts)
    if script is None:
        return hint
    if script in _SCRIPT_LANGUAGE:
        return _SCRIPT_LANGUAGE[script]
    if hint is not None and hint not in _NON_LATIN_LANGUAGES:
        return hint
    return "en"
