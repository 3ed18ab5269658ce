"""Encoding detection on the byte patterns real subtitle files have, and script checks."""

from __future__ import annotations

import codecs
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from langflix.core import text_encoding
from langflix.core.text_encoding import (
    DecodedText,
    decode_text,
    detect_encoding,
    guess_language,
    language_from_tag,
    script_of,
)
from langflix.errors import SubtitleError

KOREAN = "안녕하세요, 반갑습니다.\n오늘 날씨가 정말 좋네요!"
# "똠" and "햏" exist only in CP949's extension, not in EUC-KR.
KOREAN_CP949_ONLY = "똠방각하가 말했다. 안녕하세요, 여러분.\n햏자는 웃었다."
# Upper-case accented letters followed by a letter are valid CP949 byte pairs.
FRENCH_TRAP = "Àlors, Ámen! Àllez Ålice, Ãnne et Ålbert."


def test_exports_are_sorted_and_real() -> None:
    assert text_encoding.__all__ == sorted(text_encoding.__all__)
    for name in text_encoding.__all__:
        assert hasattr(text_encoding, name)


@pytest.mark.parametrize(
    ("raw", "encoding", "bom"),
    [
        (codecs.BOM_UTF8 + KOREAN.encode("utf-8"), "utf-8", True),
        (codecs.BOM_UTF16_LE + KOREAN.encode("utf-16-le"), "utf-16-le", True),
        (codecs.BOM_UTF16_BE + KOREAN.encode("utf-16-be"), "utf-16-be", True),
        (codecs.BOM_UTF32_LE + KOREAN.encode("utf-32-le"), "utf-32-le", True),
        (KOREAN.encode("utf-8"), "utf-8", False),
        (KOREAN.encode("euc-kr"), "euc-kr", False),
        (KOREAN_CP949_ONLY.encode("cp949"), "cp949", False),
    ],
)
def test_decodes_korean_in_every_encoding_users_have(raw: bytes, encoding: str, bom: bool) -> None:
    decoded = decode_text(raw)
    expected = KOREAN_CP949_ONLY if encoding == "cp949" else KOREAN
    assert decoded == DecodedText(expected, encoding, bom)
    assert not decoded.text.startswith("\ufeff")


def test_python_utf16_writer_output_is_read_back() -> None:
    # Python's "utf-16" codec writes a BOM in native order: the common Windows shape.
    assert decode_text("00:01 Hi 안녕".encode("utf-16")).text == "00:01 Hi 안녕"


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_utf16_without_bom_is_recognised_from_its_nul_bytes(codec: str) -> None:
    text = "1\n00:00:01,000 --> 00:00:02,000\n안녕하세요 Hello\n"
    assert decode_text(text.encode(codec)) == DecodedText(text, codec, False)


def test_windows_1252_is_not_mistaken_for_cp949() -> None:
    raw = FRENCH_TRAP.encode("cp1252")
    trap = raw.decode("cp949")  # the trap is real: this does not raise...
    assert any("\uac00" <= c <= "\ud7a3" for c in trap)  # ...and yields Hangul
    assert decode_text(raw) == DecodedText(FRENCH_TRAP, "cp1252", False)


def test_crlf_and_lone_cr_become_lf() -> None:
    assert decode_text(b"a\r\nb\rc\n").text == "a\nb\nc\n"
    assert decode_text(codecs.BOM_UTF16_LE + "a\r\nb".encode("utf-16-le")).text == "a\nb"


def test_binary_garbage_is_refused_naming_the_file(tmp_path: Path) -> None:
    noise = random.Random(7).randbytes(4096)
    with pytest.raises(SubtitleError, match=r"movie\.srt is not a text subtitle file"):
        decode_text(noise, source=tmp_path / "movie.srt")


def test_control_bytes_without_nul_are_binary() -> None:
    raw = bytes(range(1, 32)) * 50 + b"hello"
    with pytest.raises(SubtitleError, match="binary"):
        decode_text(raw, source="x.smi")


def test_damaged_bom_file_names_the_encoding_and_fix() -> None:
    raw = codecs.BOM_UTF8 + b"hello \xff\xfe world"
    with pytest.raises(SubtitleError, match=r"bad\.srt starts with a UTF-8 byte-order mark.*Re-save it as UTF-8"):
        decode_text(raw, source="bad.srt")


def test_undecodable_text_is_refused_with_the_fix() -> None:
    # Valid in no candidate: not UTF-8, not CP949 (0x81 0x20), 0x81 undefined in cp1252.
    raw = b"hello \x81 there \x81\x20 world " * 3
    with pytest.raises(SubtitleError, match=r"x\.srt: cannot tell the text encoding.*Re-save"):
        decode_text(raw, source="x.srt")


def test_detect_encoding_agrees_with_decode() -> None:
    assert detect_encoding(KOREAN.encode("euc-kr")) == "euc-kr"
    assert detect_encoding(b"plain ascii") == "utf-8"


@settings(max_examples=60, deadline=None, database=None)
@given(st.text(alphabet=st.sampled_from("가나다라마바사아자차카타파하한국어 영화자막\n.,!?abcXYZ0123")))
def test_korean_round_trips_through_every_encoding(text: str) -> None:
    # A real file has at least a line of Korean; two CP949 bytes alone can be valid
    # UTF-8 ("카" is C4 AB, which is UTF-8 "ī") and no detector can tell those apart.
    text = "자막 파일입니다. " + text
    for codec in ("utf-8", "utf-8-sig", "utf-16", "cp949"):
        assert decode_text(text.encode(codec)).text == text


@pytest.mark.parametrize(
    ("texts", "script"),
    [
        (["Hello there", "How are you?"], "latin"),
        (["안녕하세요", "Tom이 왔어요"], "hangul"),
        (["こんにちは", "東京"], "kana"),
        (["你好吗"], "han"),
        (["Привет"], "cyrillic"),
        (["♪ ... 123 ♪"], None),
    ],
)
def test_script_of(texts: list[str], script: str | None) -> None:
    assert script_of(texts) == script


def test_guess_language_trusts_letters_over_a_lying_hint() -> None:
    assert guess_language(["안녕하세요"], hint="en") == "ko"
    assert guess_language(["Hello"], hint="ko") == "en"
    assert guess_language(["Bonjour"], hint="fr") == "fr"
    assert guess_language(["Hello"], hint=None) == "en"
    assert guess_language(["♪♪"], hint="ko") == "ko"
    assert guess_language([], hint=None) is None
    # A few English names in Korean lines stay Korean.
    assert guess_language(["John이 말했어요 Seoul에서 만나자"]) == "ko"


@pytest.mark.parametrize(
    ("tag", "language"),
    [("KR", "ko"), ("kor", "ko"), ("en-US", "en"), ("EnUs", "en"), ("eng", "en"), ("JP", "ja"), ("xx", None)],
)
def test_language_from_tag(tag: str, language: str | None) -> None:
    assert language_from_tag(tag) == language
