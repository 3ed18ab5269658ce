"""What a job reads: missing inputs refused by name, and which lines need a translation (plain values)."""

from __future__ import annotations

from pathlib import Path

import pytest

from langflix.core.expressions import Expression
from langflix.core.subtitles import Cue, SubtitleTrack
from langflix.errors import JobError
from langflix.pipeline.inputs import check_files, shown_lines
from langflix.pipeline.lesson import LessonPlan, Window

CUES = (Cue(0.0, 1.0, "Hi."), Cue(1.0, 2.0, "Let's break the ice."), Cue(2.0, 3.0, "Sure."), Cue(9.0, 10.0, "Far."))
ENGLISH = SubtitleTrack("en", "English", CUES)
EXPRESSION = Expression("break the ice", CUES[1], 0.5, 2.5, "idiom")
PLAN = LessonPlan(Window(0.5, 2.5), Window(0.8, 2.2))


def test_the_cards_lines_are_always_shown() -> None:
    assert shown_lines([EXPRESSION], [PLAN], ENGLISH, bilingual_scenes=False) == [CUES[1]]


def test_bilingual_scenes_add_every_line_of_the_scene() -> None:
    assert shown_lines([EXPRESSION], [PLAN], ENGLISH, bilingual_scenes=True) == [CUES[1], *CUES[:3]]


@pytest.mark.parametrize("missing", ["video", "subtitle", "translation subtitle"])
def test_a_missing_input_is_refused_by_what_it_is_and_its_path(tmp_path: Path, missing: str) -> None:
    files = {what: tmp_path / f"{what.replace(' ', '_')}.bin" for what in ("video", "subtitle", "translation subtitle")}
    for what, path in files.items():
        if what != missing:
            path.write_bytes(b"x")
    with pytest.raises(JobError, match=f"^{missing} file {files[missing]} does not exist"):
        check_files(files["video"], files["subtitle"], files["translation subtitle"])


def test_no_translation_file_is_nothing_to_check(tmp_path: Path) -> None:
    (tmp_path / "v.mkv").write_bytes(b"x")
    (tmp_path / "s.srt").write_bytes(b"x")
    check_files(tmp_path / "v.mkv", tmp_path / "s.srt", None)
