"""The title card as a video piece, and how any encode is stopped: real ffmpeg, real scopes, real kills."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import pytest
from support.editing import FMT, FRAME, SLACK, assert_normalised, gray_frames, scope_files, stream_durations
from support.procs import child_pids

from langflix.cancel import CancelToken
from langflix.core.card import CARD_BACKGROUND, CardText
from langflix.core.card_video import make_card
from langflix.core.ffmpeg import FFmpegTools
from langflix.core.output_format import OutputFormat
from langflix.core.video_editor import VideoEditor
from langflix.errors import CancelledError, FFmpegError
from langflix.temp import TempScope

pytestmark = pytest.mark.slow

probe = FFmpegTools().probe


def test_cancel_mid_encode_kills_ffmpeg_and_leaves_nothing(
    scope: TempScope, media: dict[str, Path]
) -> None:
    token = CancelToken()
    seen: list[int] = []
    grown: list[int] = []

    def cancel_mid_encode() -> None:
        end = time.monotonic() + 20
        while time.monotonic() < end:
            pids = child_pids("ffmpeg")
            outputs = [p for p in scope.path.glob("card_*.mp4") if p.stat().st_size > 0]
            if pids and outputs:  # ffmpeg runs and has started writing
                seen.extend(pids)
                grown.append(outputs[0].stat().st_size)
                break
            time.sleep(0.02)
        token.cancel("job cancelled")

    # A long card at a slow preset: minutes of work unless it is stopped.
    slow = OutputFormat(width=1280, height=720, preset="veryslow")
    editor = VideoEditor(scope, fmt=slow, cancel=token)
    thread = threading.Thread(target=cancel_mid_encode, daemon=True)
    thread.start()
    started = time.monotonic()
    with pytest.raises(CancelledError, match="job cancelled"):
        make_card(editor, CardText("a long card", line="nobody waits for this"), duration=600.0)
    thread.join(5)
    assert time.monotonic() - started < 20
    assert seen and grown, "ffmpeg was never seen writing"
    assert child_pids("ffmpeg") == []
    assert all(not Path(f"/proc/{pid}").exists() for pid in seen)
    assert scope_files(scope) == [], "the card and its ASS file are released"


def test_timeout_kills_ffmpeg_and_leaves_nothing(scope: TempScope, media: dict[str, Path]) -> None:
    slow = OutputFormat(width=1280, height=720, preset="veryslow")
    editor = VideoEditor(scope, fmt=slow, tools=FFmpegTools(timeout=0.5))
    with pytest.raises(FFmpegError, match="timed out after 0.5 s"):
        make_card(editor, CardText("too slow", line="for the timeout"), duration=600.0)
    assert child_pids("ffmpeg") == []
    assert scope_files(scope) == []



# -- card -------------------------------------------------------------------

CARD = CardText(
    "hit the sack", kind="idiom", level="beginner", meaning="to go to bed",
    line='I\'m beat: "100%" done, let\'s [hit the sack]; ok\\ %{pts} {\\b1} \\n',
    translation="나는 피곤해: \"이제\" 자러 갈게 100%",
)  # fmt: skip


def test_a_card_is_drawn_by_libass_from_a_file_on_its_background(
    editor: VideoEditor, scope: TempScope, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="langflix.core.process"):
        card = make_card(editor, CARD, duration=2.0)
    encode = next(r.getMessage() for r in caplog.records if "libx264" in r.getMessage())
    assert "ass=filename=" in encode and "drawtext" not in encode
    assert "hit the sack" not in encode and "피곤해" not in encode, "the text reaches libass through a file"
    assert card.frames == 50
    assert_normalised(card, 2.0)
    assert scope_files(scope) == [card.path], "the ASS file was only needed for the encode"
    frames = gray_frames(card, FMT.width, FMT.height)
    background = round(0.299 * 0x1B + 0.587 * 0x24 + 0.114 * 0x40)
    assert abs(frames[10][5] - background) < 8, "the corner shows the card's background"
    assert CARD_BACKGROUND == "#1B2440"
    # Text was drawn: many pixels far from the plain background.
    assert sum(1 for px in frames[10] if abs(px - background) > 60) > 500


def test_a_card_speech_is_padded_to_the_duration(editor: VideoEditor, media: dict[str, Path]) -> None:
    card = make_card(editor, CARD, duration=2.0, speech=probe(media["short_speech"]))
    assert_normalised(card, 2.0)
    durations = stream_durations(card)
    assert durations["audio"] == pytest.approx(2.0, abs=SLACK)
    assert durations["video"] == pytest.approx(2.0, abs=FRAME)


def test_a_card_is_lengthened_so_speech_is_never_cut(editor: VideoEditor, media: dict[str, Path]) -> None:
    card = make_card(editor, CARD, duration=1.0, speech=probe(media["speech"]))
    # 3 s of speech plus the short tail of silence after it.
    assert card.seconds == pytest.approx(3.4)
    assert_normalised(card, 3.4)


def test_a_card_refuses_speech_without_sound(
    editor: VideoEditor, scope: TempScope, media: dict[str, Path]
) -> None:
    with pytest.raises(FFmpegError, match="has no audio stream"):
        make_card(editor, CARD, duration=1.0, speech=probe(media["portrait"]))
    assert scope_files(scope) == []
