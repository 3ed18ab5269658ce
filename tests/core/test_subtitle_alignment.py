"""Tests for langflix.core.subtitle_alignment: an English SRT + a Korean SRT of the same episode."""

from __future__ import annotations

from pathlib import Path

import pytest

from langflix.core.subtitle_alignment import align_translations, load_translation_track, translation_track_of
from langflix.core.subtitles import Cue, SubtitleTrack, load_subtitles
from langflix.errors import SubtitleError

ENGLISH_SRT = """\
1
00:00:01,000 --> 00:00:04,000
We finally figured it out.

2
00:00:04,500 --> 00:00:06,000
Let's call it a day.

3
00:00:07,000 --> 00:00:08,000
Wait.

4
00:00:20,000 --> 00:00:21,000
Nobody translated this.
"""

# Other boundaries: the first English line is two Korean cues, the others start and end
# a little off, and a Korean cue grazes the edge of the second English one.
KOREAN_SRT = """\
1
00:00:01,100 --> 00:00:02,400
우리가 마침내

2
00:00:02,400 --> 00:00:03,900
(웃음) 알아냈어.

3
00:00:04,400 --> 00:00:06,200
오늘은 여기까지 하자.

4
00:00:06,150 --> 00:00:06,950
[음악]

5
00:00:06,900 --> 00:00:08,200
잠깐만.
"""


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_each_english_cue_gets_the_korean_said_with_it(tmp_path: Path) -> None:
    english = load_subtitles(_write(tmp_path, "show.en.srt", ENGLISH_SRT)).track("en").cues
    korean = load_translation_track(_write(tmp_path, "show.srt", KOREAN_SRT), english)
    assert korean.language == "ko"  # told by its script: the file name has no language tag
    assert align_translations(english, korean) == (
        "우리가 마침내\n알아냈어.",  # SDH cleaned out of the translation too
        "오늘은 여기까지 하자.",
        "잠깐만.",
        None,
    )


def test_a_neighbour_that_only_grazes_is_not_the_translation() -> None:
    track = SubtitleTrack("ko", "ko", (Cue(0.0, 2.1, "앞"), Cue(2.0, 4.0, "뒤")))
    assert align_translations([Cue(2.0, 4.0, "Back.")], track) == ("뒤",)


def test_the_english_file_twice_is_refused_by_name(tmp_path: Path) -> None:
    english_path = _write(tmp_path, "show.en.srt", ENGLISH_SRT)
    english = load_subtitles(english_path).track("en").cues
    with pytest.raises(SubtitleError, match=r"show\.en\.srt has no non-English track to translate from \(it has: en"):
        load_translation_track(english_path, english)


def test_another_episode_is_refused(tmp_path: Path) -> None:
    english = load_subtitles(_write(tmp_path, "show.en.srt", ENGLISH_SRT)).track("en").cues
    shifted = KOREAN_SRT.replace("00:00:0", "00:10:0")
    with pytest.raises(SubtitleError, match=r"only 0 of 4 English cues .* times are shifted"):
        load_translation_track(_write(tmp_path, "other.ko.srt", shifted), english)


def test_a_language_can_be_chosen_from_a_bilingual_file(tmp_path: Path) -> None:
    sami = """<SAMI><BODY>
<SYNC Start=1000><P Class=ENCC>We finally figured it out.
<SYNC Start=1000><P Class=KRCC>우리가 마침내 알아냈어.
<SYNC Start=4000><P Class=ENCC>&nbsp;
<SYNC Start=4000><P Class=KRCC>&nbsp;
</BODY></SAMI>"""
    subtitles = load_subtitles(_write(tmp_path, "both.smi", sami))
    track = translation_track_of(subtitles, "ko")
    assert align_translations([Cue(1.0, 4.0, "x")], track) == ("우리가 마침내 알아냈어.",)
    with pytest.raises(SubtitleError, match=r"both\.smi has no 'ja' track"):
        translation_track_of(subtitles, "ja")
