"""Tests for langflix.core.subtitle_cleaning: SDH lines as real files carry them."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from langflix.core.subtitle_cleaning import clean_cues, clean_subtitles, clean_text, clean_track
from langflix.core.subtitles import Cue, SubtitleTrack, load_subtitles
from langflix.errors import SubtitleError


@pytest.mark.parametrize(
    ("raw", "spoken"),
    [
        ("[MUSIC PLAYING]", ""),
        ("[door slams]", ""),
        ("(laughs) Fine.", "Fine."),
        ("Fine. (laughs)", "Fine."),
        ("He is (CLEARS THROAT) ready.", "He is ready."),
        ("he's (clears throat) fine", "he's fine"),
        ("Well [sighs] , fine.", "Well, fine."),
        ("JOHN: Hi there.", "Hi there."),
        ("- MARY: Hi.\n- JOHN: Hello.", "- Hi.\n- Hello."),
        ("DR. SMITH (V.O.): Take a seat.", "Take a seat."),
        ("MAN #2: Get down!", "Get down!"),
        (">> ANCHOR: Good evening.", "Good evening."),
        ("WOMAN: [whispering] Over here.", "Over here."),
        ("- [door slams]\n- Who is it?", "Who is it?"),
        ("♪ Happy birthday to you ♪", ""),
        ("♪ la la la", ""),
        ("♪ Oh, baby ♪ Stop singing.", "Stop singing."),
        ("<i>What?</i>", "What?"),
        ('<font color="#ffff00">Run!</font>', "Run!"),
        ("{\\an8}Up here.", "Up here."),
        ("  double   spaces  ", "double spaces"),
        ("(SIGHING)\n(DOOR CLOSES)", ""),
        ("(door\ncloses) Hello?", "Hello?"),
        ("[speaking\nSpanish]", ""),
        ("(웃음) 좋아요.", "좋아요."),
        ("[음악]", ""),
    ],
)
def test_sound_descriptions_labels_and_tags_go(raw: str, spoken: str) -> None:
    assert clean_text(raw) == spoken


@pytest.mark.parametrize(
    "line",
    [
        "I (really) mean it.",  # an aside inside the sentence is dialogue
        "I said (and I quote) no.",
        "The price is 30% (maybe 40%) off today.",
        "Note: this matters.",  # mixed case before a colon is not a speaker label
        "It's 10:30: late.",
        "Q: Why?",  # one letter: an interview's Q/A is kept rather than guessed at
        "Wait... what?",
        "You owe me {five} bucks.",  # braces without a backslash are text, not ASS tags
        "- Hi.\n- Hello.",
    ],
)
def test_dialogue_is_kept_as_typed(line: str) -> None:
    assert clean_text(line) == line


def test_cues_with_only_sounds_are_dropped_and_times_kept() -> None:
    cues = [
        Cue(1.0, 2.0, "[MUSIC]"),
        Cue(2.0, 4.0, "JOHN: We figured it out."),
        Cue(4.0, 5.0, "(laughs)"),
        Cue(5.0, 6.0, "Exactly."),
    ]
    assert clean_cues(cues) == (Cue(2.0, 4.0, "We figured it out."), Cue(5.0, 6.0, "Exactly."))


def test_clean_track_keeps_language_and_label() -> None:
    track = SubtitleTrack("en", "ENCC", (Cue(0, 1, "[MUSIC]"), Cue(1, 2, "Hi.")))
    cleaned = clean_track(track)
    assert (cleaned.language, cleaned.label, cleaned.cues) == ("en", "ENCC", (Cue(1, 2, "Hi."),))
    assert cleaned.overlapping(0, 5) == (Cue(1, 2, "Hi."),)


SDH_SRT = """\
1
00:00:01,000 --> 00:00:02,000
[DRAMATIC MUSIC]

2
00:00:02,500 --> 00:00:04,000
<i>JOHN:</i> So you finally
figured it out?

3
00:00:04,000 --> 00:00:05,000
- (laughs)
- MARY: I did.

4
00:00:05,500 --> 00:00:07,000
♪ We will rock you ♪
"""


def test_an_sdh_srt_file_becomes_dialogue(tmp_path: Path) -> None:
    path = tmp_path / "episode.en.srt"
    path.write_text(SDH_SRT, encoding="utf-8")
    cleaned = clean_subtitles(load_subtitles(path))
    assert [(c.start, c.end, c.text) for c in cleaned.track("en").cues] == [
        (2.5, 4.0, "So you finally\nfigured it out?"),
        (4.0, 5.0, "I did."),
    ]


def test_a_file_of_only_sounds_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "sounds.srt"
    path.write_text("1\n00:00:01,000 --> 00:00:02,000\n[MUSIC]\n\n2\n00:00:03,000 --> 00:00:04,000\n(applause)\n")
    with pytest.raises(SubtitleError, match=r"sounds\.srt holds only sound descriptions"):
        clean_subtitles(load_subtitles(path))


_PIECES = st.sampled_from(
    ["Hi", "there", "(laughs)", "[MUSIC]", "JOHN:", "- ", "♪", "la", "<i>", "</i>", "{\\an8}", ",", ".",
     "  ", "\n", "(really)", "좋아요", "MARY (V.O.):", "?", "'s"]
)


@settings(max_examples=300, deadline=None, database=None)
@given(st.lists(_PIECES, max_size=12).map(" ".join))
def test_cleaning_is_idempotent_and_leaves_no_markup(raw: str) -> None:
    once = clean_text(raw)
    assert clean_text(once) == once
    for mark in ("[", "]", "♪", "<i>", "</i>", "{\\", "  ", "(laughs)"):
        assert mark not in once
    assert all(line == line.strip() and line for line in once.split("\n")) or once == ""
