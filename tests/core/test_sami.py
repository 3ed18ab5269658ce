"""The SAMI parser on the shapes real (mostly Korean, often bilingual) files have."""

from __future__ import annotations

import time
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from langflix.core import sami
from langflix.core.sami import (
    MAX_HOLD_SECONDS,
    SamiCue,
    SamiTrack,
    default_duration,
    is_sami,
    parse_sami,
)
from langflix.errors import SubtitleError

HEAD = (
    "<SAMI>\r\n<HEAD>\r\n<TITLE>Episode</TITLE>\r\n<STYLE TYPE=\"text/css\">\r\n<!--\r\n"
    "P { margin-left:8pt; margin-right:8pt; }\r\n"
    ".KRCC { Name:Korean; lang:ko-KR; SAMIType:CC; }\r\n"
    ".ENCC { Name:English; lang:en-US; SAMIType:CC; }\r\n"
    "-->\r\n</STYLE>\r\n</HEAD>\r\n<BODY>\r\n"
)
TAIL = "</BODY>\r\n</SAMI>\r\n"


def doc(body: str) -> str:
    return HEAD + body + TAIL


def track(tracks: Sequence[SamiTrack], language: str) -> SamiTrack:
    (found,) = [t for t in tracks if t.language == language]
    return found


def test_exports_are_sorted_and_real() -> None:
    assert sami.__all__ == sorted(sami.__all__)
    for name in sami.__all__:
        assert hasattr(sami, name)


def test_bilingual_interleaved_file_gives_one_track_per_class() -> None:
    text = doc(
        "<SYNC Start=1000><P Class=KRCC>안녕하세요\r\n"
        "<SYNC Start=1000><P Class=ENCC>Hello there\r\n"
        "<SYNC Start=3000><P Class=KRCC>&nbsp;\r\n"
        "<SYNC Start=3200><P Class=ENCC>&nbsp;\r\n"
        "<SYNC Start=4000><P Class=KRCC>잘 가요\r\n"
        "<SYNC Start=4000><P Class=ENCC>Goodbye\r\n"
        "<SYNC Start=5500><P Class=KRCC>&nbsp;<P Class=ENCC>&nbsp;\r\n"
    )
    tracks = parse_sami(text)
    assert [(t.label, t.language) for t in tracks] == [("KRCC", "ko"), ("ENCC", "en")]
    assert track(tracks, "ko").cues == (SamiCue(1.0, 3.0, "안녕하세요"), SamiCue(4.0, 5.5, "잘 가요"))
    # Each class ends at its own clear: 3.2 s for English, not KRCC's 3.0 s.
    assert track(tracks, "en").cues == (SamiCue(1.0, 3.2, "Hello there"), SamiCue(4.0, 5.5, "Goodbye"))


@pytest.mark.parametrize("start", ["1500", '"1500"', "'1500'", " 1500 ", '" 1500"', "1500ms"])
def test_start_with_or_without_quotes(start: str) -> None:
    tracks = parse_sami(doc(f"<SYNC Start={start}><P Class=ENCC>Hi\n<SYNC Start=2500><P Class=ENCC>&nbsp;\n"))
    assert tracks[0].cues == (SamiCue(1.5, 2.5, "Hi"),)


def test_closed_and_unclosed_tags_and_lower_case_parse_alike() -> None:
    closed = doc(
        '<SYNC Start="1000"><P Class="ENCC">One</P></SYNC>\n'
        '<SYNC Start="2000"><P Class="ENCC">Two</P></SYNC>\n'
        '<SYNC Start="3000"><P Class="ENCC">&nbsp;</P></SYNC>\n'
    )
    unclosed = doc(
        "<sync start=1000><p class=ENCC>One\n<sync start=2000><p class=ENCC>Two\n"
        "<sync start=3000><p class=ENCC>&nbsp;\n"
    )
    expected = (SamiCue(1.0, 2.0, "One"), SamiCue(2.0, 3.0, "Two"))
    assert parse_sami(closed)[0].cues == expected
    assert parse_sami(unclosed)[0].cues == expected


def test_end_time_is_the_next_sync_of_the_same_class_only() -> None:
    text = doc(
        "<SYNC Start=1000><P Class=ENCC>Long English line\n"
        "<SYNC Start=2000><P Class=KRCC>짧은 줄\n"
        "<SYNC Start=2500><P Class=KRCC>&nbsp;\n"
        "<SYNC Start=4000><P Class=ENCC>Next\n"
        "<SYNC Start=5000><P Class=ENCC>&nbsp;\n"
    )
    en = track(parse_sami(text), "en")
    assert en.cues[0] == SamiCue(1.0, 4.0, "Long English line")


def test_classless_nbsp_sync_ends_every_open_cue() -> None:
    text = doc(
        "<SYNC Start=1000><P Class=KRCC>하나\n<SYNC Start=1000><P Class=ENCC>One\n"
        "<SYNC Start=2000>&nbsp;\n"
        "<SYNC Start=3000><P Class=ENCC>Two\n<SYNC Start=3500><P>&nbsp;\n"
    )
    tracks = parse_sami(text)
    assert track(tracks, "ko").cues == (SamiCue(1.0, 2.0, "하나"),)
    assert track(tracks, "en").cues == (SamiCue(1.0, 2.0, "One"), SamiCue(3.0, 3.5, "Two"))


def test_br_is_a_line_break_and_raw_newlines_are_spaces() -> None:
    text = doc(
        "<SYNC Start=1000><P Class=ENCC>first<br>second<BR/>third< br >fourth\n"
        "split across\r\nsource   lines\n"
        "<SYNC Start=2000><P Class=ENCC>&nbsp;\n"
    )
    assert parse_sami(text)[0].cues[0].text == "first\nsecond\nthird\nfourth split across source lines"


def test_font_italic_and_other_tags_are_stripped_entities_decoded() -> None:
    text = doc(
        '<SYNC Start=1000><P Class=ENCC><font color="#ffff00"><i>Tom &amp; Jerry</i></font> say '
        "&lt;hi&gt; &quot;now&quot; &#39;ok&#39; &#xAC00; &#44032;<b>!</b> I <3 you\n"
        "<SYNC Start=2000><P Class=ENCC>&nbsp;\n"
    )
    assert parse_sami(text)[0].cues[0].text == "Tom & Jerry say <hi> \"now\" 'ok' 가 가! I <3 you"


def test_block_after_block_layout_restarts_times_per_language() -> None:
    times = list(enumerate(range(1000, 200_000, 2000)))
    korean = "".join(f"<SYNC Start={t}><P Class=KRCC>한국어 대사 {i}\n" for i, t in times)
    english = "".join(f"<SYNC Start={t}><P Class=ENCC>English line {i}\n" for i, t in times)
    tracks = parse_sami(doc(korean + "<SYNC Start=200000><P Class=KRCC>&nbsp;\n" + english))
    ko, en = track(tracks, "ko"), track(tracks, "en")
    assert len(ko.cues) == len(en.cues) == 100
    assert en.cues[0] == SamiCue(1.0, 3.0, "English line 0")
    assert ko.cues[-1] == SamiCue(199.0, 200.0, "한국어 대사 99")


def test_block_layout_under_one_lying_class_is_split_by_script() -> None:
    # Both blocks labelled ENCC: the second block's times restart at 1 s.
    times = list(enumerate(range(1000, 300_000, 3000)))
    korean = "".join(f"<SYNC Start={t}><P Class=ENCC>한국어 대사 {i}\n" for i, t in times)
    english = "".join(f"<SYNC Start={t}><P Class=ENCC>English line {i}\n" for i, t in times)
    tracks = parse_sami(doc(korean + english))
    assert sorted((t.label, t.language, len(t.cues)) for t in tracks) == [("ENCC", "en", 100), ("ENCC", "ko", 100)]
    en = track(tracks, "en")
    # Without the split, the first English cue would end at the next Korean SYNC.
    assert en.cues[0] == SamiCue(1.0, 4.0, "English line 0")
    assert all(cue.end > cue.start for t in tracks for cue in t.cues)


def test_classless_clear_in_second_block_leaves_first_block_alone() -> None:
    text = doc(
        "<SYNC Start=100000><P Class=KRCC>마지막 대사\n"
        "<SYNC Start=1000><P Class=ENCC>First\n<SYNC Start=2000>&nbsp;\n"
    )
    ko = track(parse_sami(text), "ko")
    assert ko.cues == (SamiCue(100.0, 100.0 + default_duration("마지막 대사"), "마지막 대사"),)


def test_korean_text_labelled_english_is_korean() -> None:
    text = doc("<SYNC Start=1000><P Class=ENCC>이건 한국어입니다\n<SYNC Start=2000><P Class=ENCC>&nbsp;\n")
    (only,) = parse_sami(text)
    assert (only.label, only.language) == ("ENCC", "ko")


def test_english_text_labelled_korean_is_english() -> None:
    text = doc("<SYNC Start=1000><P Class=KRCC>This is English\n<SYNC Start=2000><P Class=KRCC>&nbsp;\n")
    (only,) = parse_sami(text)
    assert (only.label, only.language) == ("KRCC", "en")


def test_class_name_hint_without_style_block() -> None:
    text = "<SAMI><BODY><SYNC Start=1000><P Class=KRCC>♪♪♪<SYNC Start=2000><P Class=KRCC>&nbsp;</BODY></SAMI>"
    (only,) = parse_sami(text)
    assert only.language == "ko"  # no letters: the class name decides


def test_last_cue_gets_its_reading_time() -> None:
    (only,) = parse_sami(doc("<SYNC Start=1000><P Class=ENCC>The very last words of the film"))
    (cue,) = only.cues
    assert cue.end - cue.start == pytest.approx(default_duration(cue.text))
    assert 2.0 <= cue.end - cue.start <= 6.0


def test_cue_never_cleared_is_not_held_over_minutes_of_silence() -> None:
    text = doc("<SYNC Start=1000><P Class=ENCC>Hi\n<SYNC Start=300000><P Class=ENCC>Much later\n")
    first = parse_sami(text)[0].cues[0]
    assert first.end - first.start <= MAX_HOLD_SECONDS
    assert first.end == pytest.approx(1.0 + default_duration("Hi"))


def test_same_time_twice_keeps_the_later_text_and_no_zero_duration() -> None:
    text = doc(
        "<SYNC Start=1000><P Class=ENCC>typo\n<SYNC Start=1000><P Class=ENCC>fixed\n"
        "<SYNC Start=2000><P Class=ENCC>&nbsp;\n"
    )
    assert parse_sami(text)[0].cues == (SamiCue(1.0, 2.0, "fixed"),)


def test_slightly_out_of_order_syncs_are_sorted() -> None:
    text = doc(
        "<SYNC Start=3000><P Class=ENCC>Three\n<SYNC Start=1000><P Class=ENCC>One\n"
        "<SYNC Start=2000><P Class=ENCC>Two\n<SYNC Start=4000><P Class=ENCC>&nbsp;\n"
    )
    assert parse_sami(text)[0].cues == (
        SamiCue(1.0, 2.0, "One"),
        SamiCue(2.0, 3.0, "Two"),
        SamiCue(3.0, 4.0, "Three"),
    )


def test_sync_without_p_and_p_without_class_join_the_last_class() -> None:
    text = doc(
        "<SYNC Start=1000>No paragraph at all\n<SYNC Start=2000><P Class=ENCC>Classed\n"
        "<SYNC Start=3000><P>Unclassed\n<SYNC Start=4000>&nbsp;\n"
    )
    tracks = parse_sami(text)
    assert [(t.label, [c.text for c in t.cues]) for t in tracks] == [
        ("", ["No paragraph at all"]),
        ("ENCC", ["Classed", "Unclassed"]),
    ]


def test_two_paragraphs_of_one_class_are_two_lines() -> None:
    text = doc("<SYNC Start=1000><P Class=ENCC>Line one<P Class=ENCC>Line two\n<SYNC Start=2000>&nbsp;")
    assert parse_sami(text)[0].cues[0].text == "Line one\nLine two"


def test_comments_in_body_are_ignored() -> None:
    text = doc(
        "<!-- <SYNC Start=500><P Class=ENCC>commented out -->\n"
        "<SYNC Start=1000><P Class=ENCC>Kept<!-- not this -->\n<SYNC Start=2000>&nbsp;\n"
    )
    assert parse_sami(text)[0].cues == (SamiCue(1.0, 2.0, "Kept"),)


@pytest.mark.parametrize(
    "tag", ["<SYNC Start=12a4>", "<SYNC Start=>", "<SYNC>", "<SYNC Start=-100>", "<SYNC Begin=100>"]
)
def test_malformed_start_names_source_and_line(tag: str) -> None:
    text = doc(
        "<!-- a comment\nspanning lines -->\n"
        f"<SYNC Start=1000><P Class=ENCC>ok\n{tag}<P Class=ENCC>bad\n"
    )
    line = text[: text.index(tag)].count("\n") + 1
    with pytest.raises(SubtitleError, match=rf"^movie\.smi, line {line}: malformed SAMI timestamp"):
        parse_sami(text, source="movie.smi")


@pytest.mark.parametrize(
    "text",
    [
        doc(""),
        doc("<SYNC Start=1000><P Class=ENCC>&nbsp;\n<SYNC Start=2000><P Class=ENCC>  <br> \n"),
        "<SAMI><HEAD><TITLE>nothing</TITLE></HEAD></SAMI>",
    ],
)
def test_no_usable_cue_is_an_error(text: str) -> None:
    with pytest.raises(SubtitleError, match=r"^empty\.smi holds no usable SAMI cue"):
        parse_sami(text, source="empty.smi")


def test_is_sami() -> None:
    assert is_sami(HEAD)
    assert is_sami("  \n<!-- made by X -->\n<sami>")
    assert not is_sami("1\n00:00:01,000 --> 00:00:02,000\n<SAMI>\n")


def _feature_film(cues_per_language: int) -> str:
    parts = [HEAD]
    for i in range(cues_per_language):
        t = 1000 + i * 3000
        parts.append(
            f"<SYNC Start={t}><P Class=KRCC><font color=yellow>대사 번호 {i}입니다</font><br>두 번째 줄\r\n"
            f"<SYNC Start={t}><P Class=ENCC><i>Line number {i}</i><br>second line\r\n"
            f"<SYNC Start={t + 2500}><P Class=KRCC>&nbsp;<P Class=ENCC>&nbsp;\r\n"
        )
    parts.append(TAIL)
    return "".join(parts)


def test_feature_film_parses_in_well_under_a_second() -> None:
    text = _feature_film(1500)
    # Best of three: the suite shares two cores with ffmpeg runs.
    elapsed = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        tracks = parse_sami(text)
        elapsed = min(elapsed, time.perf_counter() - started)
    assert [len(t.cues) for t in tracks] == [1500, 1500]
    assert track(tracks, "en").cues[1499] == SamiCue(4498.0, 4500.5, "Line number 1499\nsecond line")
    assert elapsed < 1.0, f"parsing 3,000 cues took {elapsed:.3f} s"


_WORDS = st.lists(
    st.sampled_from(["hello", "world", "Tom", "&", "<", "café", "it's", "a<b", "100%"]),
    min_size=1,
    max_size=4,
).map(" ".join)
_TEXTS = st.lists(_WORDS, min_size=1, max_size=3).map("\n".join)


_KOREAN_WORDS = {
    "hello": "안녕", "world": "세상", "Tom": "톰", "café": "카페", "it's": "그건", "a<b": "가<나", "100%": "백%",
}  # fmt: skip


def _korean(text: str) -> str:
    """The Korean track's line for an English one, word by word."""
    return "\n".join(" ".join(_KOREAN_WORDS.get(w, w) for w in line.split(" ")) for line in text.split("\n"))


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\n", "<br>")


@settings(max_examples=60, deadline=None, database=None)
@given(
    gaps=st.lists(st.tuples(st.integers(1, 5000), st.integers(1, 9000)), min_size=1, max_size=25),
    texts=st.lists(_TEXTS, min_size=25, max_size=25),
    block_layout=st.booleans(),
)
def test_round_trip_recovers_times_and_texts(gaps: list[tuple[int, int]], texts: list[str], block_layout: bool) -> None:
    """Generated bilingual SAMI (English, then a Korean line at the same times)."""
    expected: list[tuple[int, int, str]] = []
    t = 0
    for (gap, length), text in zip(gaps, texts, strict=False):  # as many texts as gaps: the first ones
        start = t + gap
        expected.append((start, start + length, text))
        t = start + length
    blocks = {"ENCC": [], "KRCC": []}
    for start, end, text in expected:
        for label, line in (("ENCC", text), ("KRCC", _korean(text))):
            blocks[label].append(
                f"<SYNC Start={start}><P Class={label}>{_escape(line)}\n"
                f"<SYNC Start={end}><P Class={label}>&nbsp;\n"
            )
    if block_layout:
        body = "".join(blocks["ENCC"]) + "".join(blocks["KRCC"])
    else:
        body = "".join(e + k for e, k in zip(blocks["ENCC"], blocks["KRCC"], strict=True))
    tracks = parse_sami(doc(body))
    en = [(round(c.start * 1000), round(c.end * 1000), c.text) for c in track(tracks, "en").cues]
    ko = [(round(c.start * 1000), round(c.end * 1000), c.text) for c in track(tracks, "ko").cues]
    assert en == expected
    assert ko == [(s, e, _korean(text)) for s, e, text in expected]


def test_two_sami_documents_pasted_one_after_the_other() -> None:
    korean = doc("<SYNC Start=1000><P Class=KRCC>첫 번째\n<SYNC Start=2000><P Class=KRCC>&nbsp;\n")
    english = doc("<SYNC Start=1000><P Class=ENCC>The first\n<SYNC Start=2000><P Class=ENCC>&nbsp;\n")
    tracks = parse_sami(korean + english)
    assert track(tracks, "ko").cues == (SamiCue(1.0, 2.0, "첫 번째"),)
    # The second document's HEAD (title, CSS) is not dialogue of either track.
    assert track(tracks, "en").cues == (SamiCue(1.0, 2.0, "The first"),)
