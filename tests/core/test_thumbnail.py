"""Tests for langflix.core.thumbnail: real ffmpeg, real frames read back."""

from __future__ import annotations

import threading
from pathlib import Path

import pysubs2
import pytest
from support.frames import frame_rgb
from support.media import make_media, pattern
from support.ocr import ocr, word_match_ratio
from support.temp import leftovers, temp_manager

from langflix.cancel import CancelToken
from langflix.core.ffmpeg import MediaInput
from langflix.core.thumbnail import THUMBNAIL_HEIGHT, THUMBNAIL_WIDTH, make_thumbnail, thumbnail_ass
from langflix.errors import CancelledError, FFmpegError

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> MediaInput:
    # testsrc2 prints its own clock in the top-left corner: the frame tells its time.
    folder = tmp_path_factory.mktemp("thumb")
    return MediaInput(make_media(folder / "clip.mp4", video=pattern("640x360", 25, 3, name="testsrc2")), "mov")


@pytest.fixture(scope="module")
def square_clip(tmp_path_factory: pytest.TempPathFactory) -> MediaInput:
    folder = tmp_path_factory.mktemp("thumb43")
    return MediaInput(make_media(folder / "clip43.mp4", video=pattern("480x360", 25, 1, name="testsrc2")), "mov")


def test_a_thumbnail_is_the_frame_at_the_time_with_the_expression_large(clip: MediaInput, tmp_path: Path) -> None:
    with temp_manager(tmp_path) as area:
        png = make_thumbnail("ffmpeg", clip, area, at=2.0, title="figure out", caption="PHRASAL VERB")
        assert leftovers(area) == [png], "the overlay file must be gone, the PNG kept"
        assert png.suffix == ".png" and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        frame = frame_rgb(png, 0)
        assert (frame.width, frame.height) == (THUMBNAIL_WIDTH, THUMBNAIL_HEIGHT)
        # The lower part holds the title, white over the picture.
        text = ocr(png, langs="eng", upscale=1, crop=(0, 400, 1280, 320), white_only=True)
        assert word_match_ratio("figure out", text) == 1.0, text
        caption = frame.where(lambda r, g, b: r > 200 and 120 < g < 210 and b < 110, box=(0, 300, 1280, 720))
        assert len(caption) > 300, "the caption is missing"
        # The clock of testsrc2 (scaled up) says which frame this is.
        clock = ocr(png, langs="eng", upscale=1, crop=(0, 0, 420, 90))
        assert "00:00:02" in clock.replace(" ", ""), clock


def test_a_4_3_clip_is_cropped_to_fill_the_frame(square_clip: MediaInput, tmp_path: Path) -> None:
    with temp_manager(tmp_path) as area:
        frame = frame_rgb(make_thumbnail("ffmpeg", square_clip, area, at=0.5, title="x"), 0)
    assert (frame.width, frame.height) == (THUMBNAIL_WIDTH, THUMBNAIL_HEIGHT)
    for x in (2, THUMBNAIL_WIDTH - 3):  # where a letterboxed frame would have black bars
        column = [frame.pixel(x, y) for y in range(0, 250, 25)]
        assert any(max(pixel) > 60 for pixel in column), f"black bar at x={x}"


def test_a_time_past_the_end_is_a_clear_error_and_leaves_nothing(clip: MediaInput, tmp_path: Path) -> None:
    with temp_manager(tmp_path) as area:
        with pytest.raises(FFmpegError, match=r"clip\.mp4 has no frame at 9\.000 s"):
            make_thumbnail("ffmpeg", clip, area, at=9.0, title="figure out")
        assert leftovers(area) == []


def test_a_missing_ffmpeg_names_the_fix_and_leaves_nothing(clip: MediaInput, tmp_path: Path) -> None:
    with temp_manager(tmp_path) as area:
        with pytest.raises(FFmpegError, match="is not installed: install FFmpeg"):
            make_thumbnail(tmp_path / "no-ffmpeg", clip, area, at=1.0, title="figure out")
        assert leftovers(area) == []


def test_cancelling_stops_it_and_leaves_nothing(clip: MediaInput, tmp_path: Path) -> None:
    token = CancelToken()
    token.cancel("job cancelled")
    with temp_manager(tmp_path) as area:
        with pytest.raises(CancelledError, match="job cancelled"):
            make_thumbnail("ffmpeg", clip, area, at=1.0, title="figure out", cancel=token)
        assert leftovers(area) == []


def test_thumbnails_in_parallel_share_nothing(clip: MediaInput, tmp_path: Path) -> None:
    with temp_manager(tmp_path) as area:
        made: list[Path] = []
        threads = [
            threading.Thread(target=lambda t=t: made.append(make_thumbnail("ffmpeg", clip, area, at=t, title="x")))
            for t in (0.5, 1.5)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(leftovers(area)) == sorted(made) and len(set(made)) == 2


def test_a_long_title_is_drawn_smaller_inside_the_frame() -> None:
    short = pysubs2.SSAFile.from_string(thumbnail_ass("figure out")).styles["Title"].fontsize
    long_title = " ".join(["give someone the benefit of the doubt"] * 4)
    long = pysubs2.SSAFile.from_string(thumbnail_ass(long_title)).styles["Title"].fontsize
    assert long < short
    with pytest.raises(ValueError, match="needs a title"):
        thumbnail_ass("  ")


def test_bad_arguments_are_refused(clip: MediaInput, tmp_path: Path) -> None:
    with temp_manager(tmp_path) as area:
        with pytest.raises(ValueError, match="time must be a number >= 0"):
            make_thumbnail("ffmpeg", clip, area, at=-1, title="x")
        with pytest.raises(ValueError, match="even size"):
            make_thumbnail("ffmpeg", clip, area, at=1, title="x", width=641)
        assert leftovers(area) == []
