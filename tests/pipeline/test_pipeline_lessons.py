"""What a learner sees, read back from a real pipeline's outputs with tesseract and pixels.

One job runs for the module (real ffmpeg, libass, a plain dark scene so pixels
tell text from picture): English subtitles full of SDH, a line longer than the
frame and a line of markup characters and emoji, with the Korean SRT beside
them. Frames from the middle of a context clip and of an expression repeat must
read back the English line and its Korean translation; the card its expression
and meaning; the expression must be lit (amber) inside its own box only.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from support.frames import Frame, frame_png, frame_rgb
from support.media import make_media, sine
from support.ocr import ocr, word_match_ratio
from support.procs import children
from support.temp import leftovers

from langflix.config import Settings
from langflix.core.expressions import expression_spans
from langflix.core.fonts import text_measure
from langflix.core.output_format import OutputFormat
from langflix.core.subtitle_render import SceneLayout
from langflix.pipeline import LangFlixPipeline, PipelineOptions, PipelineResult, ProgressEvent
from langflix.temp import TempFileManager

pytestmark = pytest.mark.slow

W, H = 640, 360
BACKGROUND = "0x283048"
FORMAT = OutputFormat(width=W, height=H, fps=25, preset="ultrafast")

SDH_LINE = "(laughs) JOHN: Don't worry, I'll figure it out by myself."
SPOKEN = "Don't worry, I'll figure it out by myself."
LONG = (
    "Honestly, this test is a piece of cake, and I already told everyone in the whole building "
    "about it twice today, so relax."
)
MARKUP = 'Trust me: 100% "sure" \\o/ & hang in there 😀'
KOREAN = {
    SPOKEN: "걱정 마, 내가 알아서 해결할게.",
    LONG: "솔직히 이 시험은 식은 죽 먹기야. 오늘 건물 사람들 모두에게 벌써 두 번이나 말했으니 긴장 풀어.",
    MARKUP: '믿어 줘: 100% "확실해" \\o/ 조금만 버텨 😀',
}
ENGLISH_SRT = f"""1
00:00:00,500 --> 00:00:01,400
[MUSIC PLAYING]

2
00:00:01,600 --> 00:00:04,200
{SDH_LINE}

3
00:00:04,400 --> 00:00:05,000
♪ la la la ♪

4
00:00:06,500 --> 00:00:10,000
{LONG}

5
00:00:11,500 --> 00:00:14,000
{MARKUP}
"""
KOREAN_SRT = f"""1
00:00:01,600 --> 00:00:04,200
(웃음) {KOREAN[SPOKEN]}

2
00:00:06,500 --> 00:00:10,000
{KOREAN[LONG]}

3
00:00:11,500 --> 00:00:14,000
{KOREAN[MARKUP]}
"""


@dataclass(frozen=True)
class Run:
    result: PipelineResult
    manifest: dict[str, Any]
    steps: list[str]
    folder: Path

    def lesson(self, phrase: str) -> tuple[Path, dict[str, Any]]:
        for video, item in zip(self.result.videos, self.manifest["expressions"], strict=True):
            if item["phrase"] == phrase:
                return video, item
        raise AssertionError(f"no lesson for {phrase!r}: {[i['phrase'] for i in self.manifest['expressions']]}")

    def png(self, video: Path, at: float, name: str) -> Path:
        return frame_png(video, at, self.folder / f"{name}.png")


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    root = tmp_path_factory.mktemp("lessons")
    video = make_media(
        root / "scene.mp4",
        video=f"color=c={BACKGROUND}:size={W}x{H}:rate=25:duration=16",
        audio=sine(330, 44100, 16),
        args=["-pix_fmt", "yuv420p", "-shortest"],
    )
    english = root / "scene.en.srt"
    english.write_text(ENGLISH_SRT, encoding="utf-8")
    korean = root / "scene.ko.srt"
    korean.write_text(KOREAN_SRT, encoding="utf-8")
    inputs = {path: digest(path) for path in (video, english, korean)}
    steps: list[str] = []

    def progress(event: ProgressEvent) -> None:
        steps.append(event.step)

    options = PipelineOptions(
        max_expressions=3, repeat=2, output_format=FORMAT, context_seconds=3.0, tts="none", language_level="beginner"
    )
    with TempFileManager(base_dir=root / "tmp") as manager:
        result = LangFlixPipeline(
            video, english, root / "out", options, translation_subtitles=korean, manager=manager,
            settings=Settings(llm_base_url=None), progress=progress,
        ).run()  # fmt: skip
        assert leftovers(manager) == [], "the job's scope is gone"
    assert {path: digest(path) for path in inputs} == inputs, "inputs are byte-identical"
    assert [p for p in children() if p.comm in ("ffmpeg", "ffprobe", "espeak-ng")] == []
    manifest = json.loads(result.manifest.read_text(encoding="utf-8"))
    frames = root / "frames"
    frames.mkdir()
    yield Run(result, manifest, steps, frames)


def cue_middle(item: dict[str, Any]) -> float:
    return (item["cue_start"] + item["cue_end"]) / 2


def in_context(item: dict[str, Any], at: float) -> float:
    """The lesson time showing episode time ``at`` inside the context clip."""
    return item["parts"]["title_card"] + at - item["context_start"]


def in_repeat(item: dict[str, Any], at: float, repeat: int = 1) -> float:
    """The lesson time showing episode time ``at`` in expression repeat ``repeat`` (from 1)."""
    parts = item["parts"]
    start = parts["title_card"] + parts["context_clip"] + (repeat - 1) * parts["expression_clip"]
    return start + at - item["clip_start"]


def subtitle_area(png: Path) -> str:
    """What tesseract reads in the lower half, where the subtitles are."""
    return ocr(png, crop=(0, H // 2, W, H // 2))


def text_rows(ys: list[int]) -> list[tuple[int, int]]:
    """The bands of rows that hold ink: one per line of text."""
    rows: list[tuple[int, int]] = []
    for y in sorted(set(ys)):
        if rows and y - rows[-1][1] <= 2:
            rows[-1] = (rows[-1][0], y)
        else:
            rows.append((y, y))
    return rows


def bright(r: int, g: int, b: int) -> bool:
    return max(r, g, b) > 120  # the scene is (40, 48, 72): anything brighter is drawn text


def white(r: int, g: int, b: int) -> bool:
    return min(r, g, b) > 200 and r > 215


def amber(r: int, g: int, b: int) -> bool:
    return r > 200 and 120 < g < 210 and b < 110


# -- the scene and the repeats: both languages, read back -----------------------------------


def test_the_scene_shows_the_english_line_and_its_korean_translation(run: Run) -> None:
    video, item = run.lesson("figure out")
    text = subtitle_area(run.png(video, in_context(item, cue_middle(item)), "context"))
    assert word_match_ratio(SPOKEN, text) >= 0.8, text
    assert word_match_ratio(KOREAN[SPOKEN], text) >= 0.8, text


@pytest.mark.parametrize("repeat", [1, 2])
def test_each_expression_repeat_shows_them_too(run: Run, repeat: int) -> None:
    video, item = run.lesson("figure out")
    text = subtitle_area(run.png(video, in_repeat(item, cue_middle(item), repeat), f"repeat{repeat}"))
    assert word_match_ratio(SPOKEN, text) >= 0.8, text
    assert word_match_ratio(KOREAN[SPOKEN], text) >= 0.8, text


def test_sound_descriptions_and_speaker_labels_are_neither_chosen_nor_drawn(run: Run) -> None:
    video, item = run.lesson("figure out")
    assert item["line"] == SPOKEN and item["translation"] == KOREAN[SPOKEN]
    text = subtitle_area(run.png(video, in_context(item, cue_middle(item)), "sdh")).lower()
    assert "john" not in text and "laugh" not in text and "웃음" not in text, text
    # [MUSIC PLAYING] (0.5-1.4 s) was inside this scene: it is gone, nothing is drawn then.
    assert item["context_start"] < 0.9
    assert not frame_rgb(video, in_context(item, 0.9)).where(bright), "a sound description was drawn"
    assert [e["line"] for e in run.manifest["expressions"]] == [SPOKEN, LONG, MARKUP]


def test_the_expression_is_lit_inside_its_box_and_only_there(run: Run) -> None:
    video, item = run.lesson("figure out")
    frame = frame_rgb(video, in_context(item, cue_middle(item)))
    (start, end), = expression_spans("figure out", SPOKEN)
    assert SPOKEN[start:end] == "figure it out"
    # Where the box must be: the English line is centred, the lit words are measured bold.
    size = H * SceneLayout().english_size
    measure = text_measure()
    before = measure.width(SPOKEN[:start], size)
    lit = measure.width(SPOKEN[start:end], size, bold=True)
    total = before + lit + measure.width(SPOKEN[end:], size)
    box_left = (W - total) / 2 + before
    box_right = box_left + lit
    lit_pixels = frame.where(amber)
    white_pixels = frame.where(white)
    assert len(lit_pixels) > 150, "the expression is not lit"
    xs = [x for x, _ in lit_pixels]
    assert box_left - 6 <= min(xs) and max(xs) <= box_right + 6, (min(xs), max(xs), box_left, box_right)
    assert any(x < box_left - 6 for x, _ in white_pixels) and any(x > box_right + 6 for x, _ in white_pixels)
    inside = [x for x, _ in white_pixels if box_left + 6 < x < box_right - 6]
    assert len(inside) < 0.02 * len(lit_pixels), "the expression is not in the highlight colour"


def test_a_line_longer_than_the_frame_wraps_inside_the_margins(run: Run) -> None:
    video, item = run.lesson("a piece of cake")
    at = in_context(item, cue_middle(item))
    pixels = frame_rgb(video, at).where(bright)
    xs, ys = [x for x, _ in pixels], [y for _, y in pixels]
    margin = W * SceneLayout().margin_x
    assert min(xs) >= margin / 2 and max(xs) <= W - margin / 2, (min(xs), max(xs))
    assert max(ys) < H - 1
    assert len(text_rows(ys)) == 3, "the long line wraps to two lines, its translation under them"
    text = ocr(run.png(video, at, "long"), crop=(0, H // 3, W, H - H // 3))
    assert word_match_ratio(LONG, text) >= 0.8, text
    assert word_match_ratio(KOREAN[LONG], text) >= 0.8, text


def test_markup_characters_and_emoji_render_as_typed(run: Run) -> None:
    video, item = run.lesson("hang in there")
    assert item["line"] == MARKUP, "the parser and the cleaner kept the line as typed"
    text = subtitle_area(run.png(video, in_repeat(item, cue_middle(item)), "markup"))
    assert word_match_ratio("Trust me 100 sure o hang in there", text) >= 0.8, text
    assert "%" in text, text
    for leak in ("\\N", "1c", "&h", "\\b"):
        assert leak.lower() not in text.lower(), text


# -- the card -------------------------------------------------------------------------------


def test_the_card_reads_back_the_expression_and_its_meaning(run: Run) -> None:
    video, item = run.lesson("figure out")
    text = ocr(run.png(video, item["parts"]["title_card"] / 2, "card"))
    assert word_match_ratio("figure out", text) == 1.0, text
    assert word_match_ratio(item["meaning"], text) >= 0.8, (item["meaning"], text)
    assert word_match_ratio(KOREAN[SPOKEN], text) >= 0.8, text
    assert word_match_ratio("phrasal verb intermediate", text) >= 0.8, text


def test_tts_none_leaves_the_card_silent_and_as_long_as_the_minimum(run: Run) -> None:
    assert "speech" not in run.steps
    video, item = run.lesson("figure out")
    assert item["parts"]["title_card"] == 3.0
    card = item["parts"]["title_card"]
    volume = subprocess.run(
        ["ffmpeg", "-nostdin", "-i", str(video), "-t", f"{card - 0.1:.2f}", "-map", "0:a", "-af", "volumedetect",
         "-f", "null", "-"],
        capture_output=True, text=True, check=True,
    ).stderr  # fmt: skip
    match = re.search(r"max_volume: (-?[\d.]+|-inf) dB", volume)
    assert match and (match.group(1) == "-inf" or float(match.group(1)) < -80), volume
    assert run.manifest["options"]["tts"] == "none"


# -- thumbnails and the manifest --------------------------------------------------------------


def test_each_lesson_has_a_thumbnail_with_its_expression_large(run: Run) -> None:
    assert [t.name for t in run.result.thumbnails] == [e["thumbnail"] for e in run.manifest["expressions"]]
    thumbnail = run.result.thumbnails[0]
    frame: Frame = frame_rgb(thumbnail, 0)
    assert (frame.width, frame.height) == (1280, 720)
    text = ocr(thumbnail, langs="eng", upscale=1, crop=(0, 400, 1280, 320), white_only=True)
    assert word_match_ratio("figure out", text) == 1.0, text
    cover = run.result.compilation_thumbnail
    assert cover is not None and run.manifest["compilation"]["thumbnail"] == cover.name
    text = ocr(cover, langs="eng", upscale=1, crop=(0, 300, 1280, 420), white_only=True)
    assert word_match_ratio("figure out a piece of cake hang in there", text) >= 0.8, text


def test_the_manifest_says_where_each_translation_came_from(run: Run) -> None:
    manifest = run.manifest
    assert manifest["translation"] == {"language": "ko", "lines": {"translation_file": 3}}
    assert {e["translation_source"] for e in manifest["expressions"]} == {"translation_file"}
    assert [e["translation"] for e in manifest["expressions"]] == [KOREAN[SPOKEN], KOREAN[LONG], KOREAN[MARKUP]]
    assert manifest["options"]["subtitles_style"] == "bilingual"
    assert manifest["source"]["translation_subtitles"].endswith("scene.ko.srt")
    assert run.steps[:4] == ["subtitles", "translation", "probe", "expressions"]
