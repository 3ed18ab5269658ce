"""load_subtitles on real files written to tmp_path: every format, encoding and failure."""

from __future__ import annotations

import codecs
import os
import random
import re
from pathlib import Path

import pysubs2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from langflix.core import subtitles
from langflix.core.subtitles import (
    MAX_SUBTITLE_BYTES,
    SUPPORTED_SUFFIXES,
    Cue,
    Subtitles,
    SubtitleTrack,
    load_subtitles,
)
from langflix.errors import SubtitleError

SRT = (
    "1\n00:00:01,000 --> 00:00:02,500\n<i>Hello</i> &amp; <font color=\"red\">welcome</font>\nsecond line\n\n"
    "2\n00:00:03,000 --> 00:00:04,000\n{\\an8}Break a leg!\n\n"
)

BILINGUAL_SAMI = (
    "<SAMI>\n<HEAD>\n<STYLE TYPE=\"text/css\">\n<!--\n"
    ".KRCC { Name:Korean; lang:ko-KR; }\n.ENCC { Name:English; lang:en-US; }\n-->\n</STYLE>\n</HEAD>\n<BODY>\n"
    "<SYNC Start=1000><P Class=KRCC>행운을 빌어!\n"
    "<SYNC Start=1000><P Class=ENCC>Break a leg!\n"
    "<SYNC Start=3000><P Class=KRCC>&nbsp;<P Class=ENCC>&nbsp;\n"
    "<SYNC Start=4000><P Class=KRCC>식은 죽 먹기야.\n"
    "<SYNC Start=4000><P Class=ENCC>It's a piece of cake.\n"
    "<SYNC Start=6000>&nbsp;\n"
    "</BODY>\n</SAMI>\n"
)

ASS = """[Script Info]
ScriptType: v4.00+

[V4+ Styles]
Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, Alignment, MarginL, MarginR, MarginV, Encoding
Style: Default,Arial,20,&H00FFFFFF,&H000000FF,&H00000000,&H00000000,0,0,0,0,100,100,0,0,1,2,2,2,10,10,10,1
Style: Top,Arial,20,&H00FFFFFF,&H000000FF,&H00000000,&H00000000,0,0,0,0,100,100,0,0,1,2,2,8,10,10,10,1
Style: Kor,Arial,20,&H00FFFFFF,&H000000FF,&H00000000,&H00000000,0,0,0,0,100,100,0,0,1,2,2,2,10,10,10,1

[Events]
Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text
Dialogue: 0,0:00:01.00,0:00:02.50,Default,,0,0,0,,{\\i1}Hit the road{\\i0}\\Nright now
Dialogue: 0,0:00:01.00,0:00:02.50,Kor,,0,0,0,,당장\\N떠나
Dialogue: 0,0:00:03.00,0:00:04.00,Top,,0,0,0,,Sign:\\hEXIT
Comment: 0,0:00:05.00,0:00:06.00,Default,,0,0,0,,translator note
Dialogue: 0,0:00:07.00,0:00:08.00,Default,,0,0,0,,{\\p1}m 0 0 l 100 0 100 100{\\p0}
"""  # noqa: E501 - an ASS Format line is one line


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def test_exports_are_sorted_and_real() -> None:
    assert subtitles.__all__ == sorted(subtitles.__all__)
    for name in subtitles.__all__:
        assert hasattr(subtitles, name)


def test_supported_suffixes() -> None:
    assert SUPPORTED_SUFFIXES == frozenset({".srt", ".vtt", ".ass", ".ssa", ".smi", ".sami"})


# --- SRT -----------------------------------------------------------------------


def test_srt_with_utf8_bom_and_crlf(tmp_path: Path) -> None:
    path = tmp_path / "episode.srt"
    path.write_bytes(codecs.BOM_UTF8 + SRT.replace("\n", "\r\n").encode())
    subs = load_subtitles(path)
    assert subs.format == "srt"
    assert subs.path == path
    assert subs.tracks == (
        SubtitleTrack(
            "en",
            "Default",
            (Cue(1.0, 2.5, "Hello & welcome\nsecond line"), Cue(3.0, 4.0, "Break a leg!")),
        ),
    )


def test_korean_srt_in_cp949_is_a_korean_track(tmp_path: Path) -> None:
    text = (
        "1\r\n00:00:01,000 --> 00:00:02,000\r\n똠방각하, 안녕하세요!\r\n\r\n"
        "2\r\n00:00:02,500 --> 00:00:04,000\r\n반갑습니다.\r\n"
    )
    subs = load_subtitles(write(tmp_path / "drama.srt", text, "cp949"))
    (track,) = subs.tracks
    assert track.language == "ko"
    assert [c.text for c in track.cues] == ["똠방각하, 안녕하세요!", "반갑습니다."]


def test_file_name_language_tag_is_a_hint_for_latin_text(tmp_path: Path) -> None:
    text = "1\n00:00:01,000 --> 00:00:02,000\nBonjour tout le monde\n"
    assert load_subtitles(write(tmp_path / "film.fr.srt", text)).tracks[0].language == "fr"
    assert load_subtitles(write(tmp_path / "film.srt", text)).tracks[0].language == "en"


def test_empty_cues_dropped_durations_fixed_and_sorted(tmp_path: Path) -> None:
    text = (
        "1\n00:00:05,000 --> 00:00:06,000\nLater line\n\n"
        "2\n00:00:01,000 --> 00:00:01,000\nZero length\n\n"
        "3\n00:00:02,000 --> 00:00:01,500\nNegative length\n\n"
        "4\n00:00:03,000 --> 00:00:04,000\n\n\n"
        "5\n00:00:03,000 --> 00:00:04,000\n<i> </i>\n\n"
        "6\n00:00:05,000 --> 00:00:06,000\nLater line\n\n"
    )
    cues = load_subtitles(write(tmp_path / "messy.srt", text)).tracks[0].cues
    assert [c.text for c in cues] == ["Zero length", "Negative length", "Later line"]
    # Fixed durations are positive and never run over the next cue.
    assert cues[0] == Cue(1.0, 2.0, "Zero length")
    assert cues[1].start == 2.0 and 2.0 < cues[1].end <= 5.0
    assert all(c.end > c.start for c in cues)


@pytest.mark.parametrize(
    ("line", "bad"),
    [
        ("00:00:01,000 --> 00:00:0x,000", 6),
        ("00:00:01,000 -> 00:00:02,000", None),  # not a timing line at all: no cue
        ("00:00:01,000 --> 00:61:02,000", 6),
        ("00:00:01 --> 00:00:02,000", 6),
        ("00:00:01,000 -->", 6),
    ],
)
def test_malformed_srt_timestamp_names_file_and_line(tmp_path: Path, line: str, bad: int | None) -> None:
    text = f"1\n00:00:00,100 --> 00:00:00,900\nFine\n\n2\n{line}\nBroken\n"
    path = write(tmp_path / "broken.srt", text)
    if bad is None:
        # The arrow-less line is text of cue 1; pysubs2 semantics, not an error.
        assert load_subtitles(path).tracks[0].cues[0].start == 0.1
        return
    with pytest.raises(SubtitleError, match=rf"broken\.srt, line {bad}: malformed timestamp"):
        load_subtitles(path)


# --- WebVTT --------------------------------------------------------------------


def test_vtt_in_utf16_with_bom_identifiers_notes_and_voice_tags(tmp_path: Path) -> None:
    text = (
        "WEBVTT - Episode 1\n\nNOTE translated by\nsomeone\n\nSTYLE\n::cue { color: yellow }\n\n"
        "intro\n00:01.000 --> 00:02.000 align:start position:10%\n<v Bob>Hold <c.loud>on</c> a <00:01.500>sec</v>\n\n"
        "00:00:03.000 --> 00:00:04.500\nI&apos;m &lt;fine&gt;\n\n"
        "outro-2\n01:00:00.000 --> 01:00:01.000\nBye\n"
    )
    subs = load_subtitles(write(tmp_path / "ep.vtt", text, "utf-16"))
    assert subs.format == "vtt"
    assert subs.tracks[0].cues == (
        Cue(1.0, 2.0, "Hold on a sec"),
        Cue(3.0, 4.5, "I'm <fine>"),
        Cue(3600.0, 3601.0, "Bye"),
    )


def test_malformed_vtt_timestamp(tmp_path: Path) -> None:
    text = "WEBVTT\n\n00:01.000 --> 00:02.000\nok\n\n00:03.00 --> 00:04.000\nshort millis\n"
    with pytest.raises(SubtitleError, match=r"bad\.vtt, line 6: malformed timestamp"):
        load_subtitles(write(tmp_path / "bad.vtt", text))


# --- ASS / SSA -----------------------------------------------------------------


def test_ass_styles_become_language_tracks(tmp_path: Path) -> None:
    subs = load_subtitles(write(tmp_path / "show.ass", ASS, "utf-8-sig"))
    assert subs.format == "ass"
    en, ko = subs.track("en"), subs.track("ko")
    assert en.label == "Default, Top"
    # Comments and drawings are not dialogue.
    assert en.cues == (Cue(1.0, 2.5, "Hit the road\nright now"), Cue(3.0, 4.0, "Sign: EXIT"))
    assert ko.cues == (Cue(1.0, 2.5, "당장\n떠나"),)
    assert subs.translation_for(en.cues[0]) == "당장\n떠나"
    assert subs.translation_for(en.cues[1]) is None


def test_ssa_v4(tmp_path: Path) -> None:
    text = (
        "[Script Info]\nScriptType: v4.00\n\n[V4 Styles]\n"
        "Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, TertiaryColour, BackColour, Bold, Italic, "
        "BorderStyle, Outline, Shadow, Alignment, MarginL, MarginR, MarginV, AlphaLevel, Encoding\n"
        "Style: Default,Arial,20,16777215,65535,65535,-2147483640,-1,0,1,3,0,2,30,30,30,0,0\n\n"
        "[Events]\nFormat: Marked, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n"
        "Dialogue: Marked=0,0:00:01.00,0:00:02.00,Default,,0000,0000,0000,,Old school\n"
    )
    subs = load_subtitles(write(tmp_path / "old.ssa", text))
    assert subs.format == "ssa"
    assert subs.tracks[0].cues == (Cue(1.0, 2.0, "Old school"),)


def test_malformed_ass_timestamp_names_line(tmp_path: Path) -> None:
    broken = ASS.replace("0:00:03.00,0:00:04.00", "0:00:03.00,soon")
    line = broken[: broken.index(",soon")].count("\n") + 1
    assert line == 14
    with pytest.raises(SubtitleError, match=rf"show\.ass, line {line}: malformed timestamp"):
        load_subtitles(write(tmp_path / "show.ass", broken))


# --- SAMI ----------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["cp949", "euc-kr", "utf-8-sig", "utf-16", "utf-8"])
def test_bilingual_sami_in_every_encoding(tmp_path: Path, encoding: str) -> None:
    path = write(tmp_path / "movie.smi", BILINGUAL_SAMI.replace("\n", "\r\n"), encoding)
    if encoding == "utf-8-sig":
        # The trap this guards against: with the BOM, pysubs2 cannot tell it is SAMI.
        with pytest.raises(pysubs2.exceptions.FormatAutodetectionError):
            pysubs2.load(str(path), encoding="utf-8")
    subs = load_subtitles(path)
    assert subs.format == "sami"
    assert [(t.language, t.label) for t in subs.tracks] == [("ko", "KRCC"), ("en", "ENCC")]
    en = subs.track("en")
    assert en.cues == (Cue(1.0, 3.0, "Break a leg!"), Cue(4.0, 6.0, "It's a piece of cake."))
    assert subs.translation_for(en.cues[0]) == "행운을 빌어!"
    assert subs.translation_for(en.cues[1], "ko") == "식은 죽 먹기야."
    assert subs.translation_for(en.cues[1], "ja") is None


def test_sami_content_under_another_name_is_still_sami(tmp_path: Path) -> None:
    subs = load_subtitles(write(tmp_path / "renamed.srt", BILINGUAL_SAMI))
    assert subs.format == "sami"
    assert len(subs.tracks) == 2


def test_sami_malformed_sync_names_file_and_line(tmp_path: Path) -> None:
    text = BILINGUAL_SAMI.replace("<SYNC Start=4000><P Class=KRCC>", "<SYNC Start=4O00><P Class=KRCC>")
    path = write(tmp_path / "movie.smi", text.replace("\n", "\r\n"), "cp949")
    line = text[: text.index("4O00")].count("\n") + 1
    assert line == 14
    with pytest.raises(SubtitleError, match=rf"movie\.smi, line {line}: malformed SAMI timestamp"):
        load_subtitles(path)


# --- Subtitles API ---------------------------------------------------------------


def test_track_lookup_accepts_tags_and_names_the_file_when_missing(tmp_path: Path) -> None:
    subs = load_subtitles(write(tmp_path / "movie.smi", BILINGUAL_SAMI))
    assert subs.track("en-US") is subs.track("eng") is subs.track()
    assert subs.track("KR").label == "KRCC"
    assert subs.languages == ("ko", "en")
    expected = r"movie\.smi has no 'ja' subtitle track \(it has: ko \(KRCC\), en \(ENCC\)\)"
    with pytest.raises(SubtitleError, match=expected):
        subs.track("ja")


def test_translation_joins_every_cue_that_mostly_coincides() -> None:
    en = SubtitleTrack("en", "ENCC", (Cue(10.0, 14.0, "Long English sentence"),))
    ko = SubtitleTrack(
        "ko",
        "KRCC",
        (
            Cue(5.0, 10.2, "앞 대사"),  # grazes the start: not a translation
            Cue(10.0, 12.0, "첫 부분"),
            Cue(12.0, 14.0, "둘째 부분"),
            Cue(20.0, 21.0, "나중"),
        ),
    )
    subs = Subtitles(Path("x.smi"), "sami", (en, ko))
    assert subs.translation_for(en.cues[0]) == "첫 부분\n둘째 부분"
    # With only a grazing neighbour, the best overlap is still better than nothing.
    assert subs.translation_for(Cue(9.0, 10.1, "Edge")) == "앞 대사"
    assert subs.translation_for(Cue(30.0, 31.0, "Silence")) is None


def test_translation_without_another_language_is_none(tmp_path: Path) -> None:
    subs = load_subtitles(write(tmp_path / "ep.srt", SRT))
    assert subs.translation_for(subs.track().cues[0]) is None


def test_overlapping_finds_cues_by_bisection_even_behind_a_long_cue() -> None:
    cues = (Cue(0.0, 100.0, "long"), *(Cue(float(i), i + 0.5, f"c{i}") for i in range(1, 90)))
    track = SubtitleTrack("en", "x", tuple(sorted(cues, key=lambda c: (c.start, c.end))))
    assert [c.text for c in track.overlapping(50.2, 51.2)] == ["long", "c50", "c51"]
    assert track.overlapping(200.0, 300.0) == ()


# --- Bad files -------------------------------------------------------------------


def test_unknown_extension(tmp_path: Path) -> None:
    with pytest.raises(SubtitleError, match=r"notes\.txt: unsupported subtitle extension '\.txt'; supported: \.ass"):
        load_subtitles(write(tmp_path / "notes.txt", SRT))


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(SubtitleError, match=r"nope\.srt does not exist"):
        load_subtitles(tmp_path / "nope.srt")
    (tmp_path / "dir.srt").mkdir()
    with pytest.raises(SubtitleError, match=r"dir\.srt is a directory"):
        load_subtitles(tmp_path / "dir.srt")


def test_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.srt"
    os.mkfifo(fifo)
    with pytest.raises(SubtitleError, match=r"pipe\.srt is not a regular file"):
        load_subtitles(fifo)


def test_empty_file(tmp_path: Path) -> None:
    with pytest.raises(SubtitleError, match=r"blank\.smi is empty"):
        load_subtitles(write(tmp_path / "blank.smi", "\r\n  \n"))


def test_binary_garbage(tmp_path: Path) -> None:
    path = tmp_path / "video.srt"
    path.write_bytes(random.Random(1).randbytes(20_000))
    with pytest.raises(SubtitleError, match=r"video\.srt is not a text subtitle file"):
        load_subtitles(path)


def test_huge_file_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "movie.srt"
    with path.open("wb") as handle:  # sparse: costs no disk
        handle.truncate(MAX_SUBTITLE_BYTES + 1)
    with pytest.raises(SubtitleError, match=r"movie\.srt is \d+ MB, too large"):
        load_subtitles(path)


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("words.srt", "just some words\nwithout any timing\n"),
        ("silent.srt", "1\n00:00:01,000 --> 00:00:02,000\n\n"),
        ("empty.vtt", "WEBVTT\n\nNOTE nothing here\n"),
        ("empty.ass", ASS.split("[Events]")[0] + "[Events]\nFormat: Layer, Start, End, Style, Text\n"),
        ("clear.smi", "<SAMI><BODY><SYNC Start=0><P Class=ENCC>&nbsp;</BODY></SAMI>"),
    ],
)
def test_no_usable_cue(tmp_path: Path, name: str, text: str) -> None:
    with pytest.raises(SubtitleError, match=re.escape(name) + " holds no usable"):
        load_subtitles(write(tmp_path / name, text))


def test_unreadable_file(tmp_path: Path) -> None:
    path = write(tmp_path / "locked.srt", SRT)
    path.chmod(0)
    if os.geteuid() != 0:
        with pytest.raises(SubtitleError, match=r"locked\.srt cannot be read \(permission denied\)"):
            load_subtitles(path)
    # Root reads any file: also check an OS error root cannot bypass (ENOTDIR).
    beneath_a_file = write(tmp_path / "plain.txt", "x") / "episode.srt"
    with pytest.raises(SubtitleError, match=r"episode\.srt cannot be read: Not a directory"):
        load_subtitles(beneath_a_file)
    folder = tmp_path / "folder.srt"
    folder.mkdir()
    with pytest.raises(SubtitleError, match=r"folder\.srt is a directory"):
        load_subtitles(folder)


# --- Round trip ----------------------------------------------------------------

_WORD = st.sampled_from(["Hello", "world", "it's", "a", "piece", "of", "cake", "&", "<3", "café"])
_LINE = st.lists(_WORD, min_size=1, max_size=5).map(" ".join)


def _srt_time(ms: int) -> str:
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"


@settings(
    max_examples=40, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    spans=st.lists(st.tuples(st.integers(0, 4000), st.integers(1, 8000)), min_size=1, max_size=30),
    lines=st.lists(st.lists(_LINE, min_size=1, max_size=2), min_size=30, max_size=30),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "cp1252"]),
    crlf=st.booleans(),
)
def test_srt_round_trip(
    tmp_path: Path, spans: list[tuple[int, int]], lines: list[list[str]], encoding: str, crlf: bool
) -> None:
    """Generated SRT in several encodings: times (ms) and texts come back exactly."""
    expected: list[tuple[int, int, str]] = []
    t = 0
    for (gap, length), text_lines in zip(spans, lines, strict=False):  # as many lines as spans: the first ones
        start = t + gap
        expected.append((start, start + length, "\n".join(text_lines)))
        t = start + length
    blocks = [
        f"{i}\n{_srt_time(s)} --> {_srt_time(e)}\n{text.replace('&', '&amp;').replace('<', '&lt;')}\n"
        for i, (s, e, text) in enumerate(expected, 1)
    ]
    text = "\n".join(blocks)
    if crlf:
        text = text.replace("\n", "\r\n")
    path = write(tmp_path / "round.srt", text, encoding)
    (track,) = load_subtitles(path).tracks
    assert [(round(c.start * 1000), round(c.end * 1000), c.text) for c in track.cues] == expected
