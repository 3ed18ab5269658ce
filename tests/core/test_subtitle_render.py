"""Tests for langflix.core.subtitle_render: the scene's subtitles, read back from real frames."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pysubs2
import pytest
from support.frames import frame_png, frame_rgb
from support.media import make_media
from support.ocr import ocr, word_match_ratio

from langflix.core.ass import ass_filter
from langflix.core.expressions import expression_spans
from langflix.core.fonts import text_measure
from langflix.core.subtitle_render import SceneCue, SceneLayout, scene_ass, scene_cues
from langflix.core.subtitles import Cue

W, H = 640, 360
LINE = "So you finally figured it out, didn't you?"
KOREAN = "그래서 결국 알아냈구나, 그렇지?"
BACKGROUND = "0x283048"


def events(doc: str) -> list[pysubs2.SSAEvent]:
    return list(pysubs2.SSAFile.from_string(doc).events)


def render(cues: list[SceneCue], start: float = 10.0, end: float = 12.0, **kwargs) -> str:
    return scene_ass(cues, clip_start=start, clip_end=end, width=W, height=H, **kwargs)


# --------------------------------------------------------------------------- the document


def test_cues_are_shifted_to_the_clip_and_clamped() -> None:
    doc = render(
        [
            SceneCue(9.0, 10.8, "Before and into the clip."),
            SceneCue(10.5, 13.0, "Into and past the end."),
            SceneCue(3.0, 4.0, "Long before."),
            SceneCue(12.0, 14.0, "Right after."),
            SceneCue(11.995, 12.5, "Shown for less than a centisecond."),
        ]
    )
    assert [(e.start, e.end) for e in events(doc)] == [(0, 800), (500, 2000)]


def test_both_languages_sit_in_one_event_with_their_own_styles() -> None:
    spans = tuple(expression_spans("figure out", LINE))
    (event,) = events(render([SceneCue(10.0, 12.0, LINE, KOREAN, spans)]))
    english, korean = event.text.split("\\N")
    assert english == "{\\rEnglish}So you finally {\\1c&H20B0FF&\\b1}figured it out{\\1c&HFFFFFF&\\b0}, didn't you?"
    assert korean == "{\\rTranslation}" + KOREAN
    (above,) = events(render([SceneCue(10.0, 12.0, LINE, KOREAN, spans)], translation_position="above"))
    assert above.text.split("\\N")[0] == "{\\rTranslation}" + KOREAN


def test_styles_scale_with_the_output_height_and_keep_safe_margins() -> None:
    doc = scene_ass([SceneCue(0, 1, "x")], clip_start=0, clip_end=1, width=1280, height=720)
    styles = pysubs2.SSAFile.from_string(doc).styles
    assert styles["English"].fontname == "Noto Sans CJK KR"
    assert styles["English"].fontsize == pytest.approx(720 * SceneLayout().english_size, abs=0.01)
    assert styles["Translation"].fontsize < styles["English"].fontsize
    assert (styles["English"].marginl, styles["English"].marginv) == (round(1280 * 0.06), round(720 * 0.06))


def test_english_style_drops_the_translation() -> None:
    (event,) = events(render([SceneCue(10.0, 12.0, LINE, KOREAN)], style="english"))
    assert KOREAN not in event.text and "\\N" not in event.text


def test_a_very_tall_cue_is_drawn_smaller() -> None:
    long = " ".join(["Everything you said was a lie from the very start."] * 10)
    (event,) = events(render([SceneCue(10.0, 12.0, long, long)]))
    english, translation = event.text.split("{\\rTranslation")
    assert english.startswith("{\\rEnglish\\fs") and translation.startswith("\\fs")
    tall = 0.0
    for part in (english, translation):
        size = float(part.split("\\fs")[1].split("}")[0])
        assert size >= H * SceneLayout().translation_size * SceneLayout().min_scale
        tall += size * len(part.removesuffix("\\N").split("\\N"))
    assert tall <= H * SceneLayout().max_height + 0.01


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="skip the ass filter"):
        render([], style="none")
    with pytest.raises(ValueError, match="must end after it starts"):
        render([], start=5, end=5)


def test_scene_cues_translate_and_light_each_cue() -> None:
    cues = [Cue(1, 2, "We figured it out."), Cue(2, 3, "Nothing here.")]
    scene = scene_cues(cues, phrase="figure out", translate=lambda c: "알아냈어." if c.start == 1 else "")
    assert scene == [
        SceneCue(1, 2, "We figured it out.", "알아냈어.", ((3, 17),)),
        SceneCue(2, 3, "Nothing here.", None, ()),
    ]


# --------------------------------------------------------------------------- real frames


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("scene")
    return make_media(folder / "bg.mp4", video=f"color=c={BACKGROUND}:size={W}x{H}:rate=25:duration=2")


def burn(clip: Path, doc: str, folder: Path) -> Path:
    """The clip with the document burned in, encoded as the editor would (H.264, yuv420p)."""
    ass = folder / "scene.ass"
    ass.write_text(doc, encoding="utf-8")
    out = folder / "burned.mp4"
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(clip), "-vf", ass_filter(ass),
         "-c:v", "libx264", "-preset", "ultrafast", "-crf", "16", "-pix_fmt", "yuv420p", str(out)],
        check=True, timeout=60,
    )  # fmt: skip
    return out


def bright(r: int, g: int, b: int) -> bool:
    return max(r, g, b) > 140


def white(r: int, g: int, b: int) -> bool:
    return min(r, g, b) > 200 and r > 215


def amber(r: int, g: int, b: int) -> bool:
    return r > 200 and 120 < g < 210 and b < 110



@pytest.mark.slow
def test_english_and_korean_read_back_from_a_burned_frame(clip: Path, tmp_path: Path) -> None:
    spans = tuple(expression_spans("figure out", LINE))
    burned = burn(clip, render([SceneCue(10.0, 12.0, LINE, KOREAN, spans)]), tmp_path)
    text = ocr(frame_png(burned, 1.0, tmp_path / "frame.png"))
    assert word_match_ratio(LINE, text) >= 0.8, text
    assert word_match_ratio(KOREAN, text) >= 0.8, text


@pytest.mark.slow
def test_cues_appear_at_their_shifted_times(clip: Path, tmp_path: Path) -> None:
    doc = render([SceneCue(9.0, 10.6, "Before the cut."), SceneCue(11.0, 13.0, "After one second.")])
    burned = burn(clip, doc, tmp_path)
    early = ocr(frame_png(burned, 0.3, tmp_path / "early.png"), langs="eng")
    late = ocr(frame_png(burned, 1.5, tmp_path / "late.png"), langs="eng")
    assert word_match_ratio("Before the cut.", early) >= 0.8 and "second" not in early.lower()
    assert word_match_ratio("After one second.", late) >= 0.8 and "before" not in late.lower()
    assert not frame_rgb(burned, 0.8).where(bright), "nothing is shown between the two cues"


@pytest.mark.slow
def test_the_expression_is_lit_inside_its_box_and_only_there(clip: Path, tmp_path: Path) -> None:
    spans = tuple(expression_spans("figure out", LINE))
    burned = burn(clip, render([SceneCue(10.0, 12.0, LINE, None, spans)]), tmp_path)
    frame = frame_rgb(burned, 1.0)
    # Where the box must be: the line is centred, the lit words are measured bold.
    size = H * SceneLayout().english_size
    measure = text_measure()
    (start, end), = spans
    before = measure.width(LINE[:start], size)
    lit = measure.width(LINE[start:end], size, bold=True)
    total = before + lit + measure.width(LINE[end:], size)
    box_left = (W - total) / 2 + before
    box_right = box_left + lit
    lit_pixels = frame.where(amber)
    white_pixels = frame.where(white)
    assert len(lit_pixels) > 200
    xs = [x for x, _ in lit_pixels]
    assert box_left - 6 <= min(xs) and max(xs) <= box_right + 6
    assert any(x < box_left - 6 for x, _ in white_pixels) and any(x > box_right + 6 for x, _ in white_pixels)
    inside = [x for x, _ in white_pixels if box_left + 6 < x < box_right - 6]
    assert len(inside) < 0.02 * len(lit_pixels), "the expression is not in the highlight colour"


@pytest.mark.slow
def test_markup_characters_and_emoji_render_as_typed(clip: Path, tmp_path: Path) -> None:
    typed = 'Type {\\an8} or {\\b1} \\N 100% "quotes" \'too\' 😀 at C:\\new'
    spans = tuple(expression_spans("figure out", typed))
    burned = burn(clip, render([SceneCue(10.0, 12.0, typed, None, spans)]), tmp_path)
    text = ocr(frame_png(burned, 1.0, tmp_path / "frame.png"), langs="eng")
    assert word_match_ratio("Type an8 or b1 N 100 quotes too at C new", text) >= 0.8, text
    for leak in ("&h", "1c", "\\r", "english", "\\fs"):
        assert leak not in text.lower(), text
    assert "{" in text and "%" in text, text
    # The typed "\N" broke nothing: the text is one line tall.
    rows = sorted({y for _, y in frame_rgb(burned, 1.0).where(bright)})
    assert rows and rows[-1] - rows[0] < 1.5 * H * SceneLayout().english_size


@pytest.mark.slow
def test_a_line_longer_than_the_frame_wraps_inside_the_margins(clip: Path, tmp_path: Path) -> None:
    long = (
        "I told you a hundred times that we would never make it out of this town alive "
        "if you kept talking to everybody about the plan, and here we are, at the end of "
        "the road, with nothing left but the clothes on our backs and a car that will not start."
    )
    burned = burn(clip, render([SceneCue(10.0, 12.0, long, KOREAN * 3)]), tmp_path)
    frame = frame_rgb(burned, 1.0)
    text_pixels = frame.where(bright)
    xs = [x for x, _ in text_pixels]
    margin = W * SceneLayout().margin_x
    assert min(xs) >= margin / 2 and max(xs) <= W - margin / 2, (min(xs), max(xs))
    rows = sorted({y for _, y in text_pixels})
    assert rows[0] > 0 and rows[-1] < H - 1
    # One line would be one size tall; three English lines and the Korean take far more.
    assert rows[-1] - rows[0] > 3 * H * SceneLayout().translation_size, "the line did not wrap"
    text = ocr(frame_png(burned, 1.0, tmp_path / "frame.png"))
    assert word_match_ratio(long, text) >= 0.8, text


@pytest.mark.slow
def test_burned_in_the_cut_encode_the_cues_follow_the_clip_clock(tmp_path: Path) -> None:
    # The editor cuts with trim + setpts (the clip starts at 0) and burns in the same graph:
    # the ass filter placed after them sees clip time, which scene_ass writes.
    episode = make_media(tmp_path / "episode.mp4", video=f"color=c={BACKGROUND}:size={W}x{H}:rate=25:duration=14")
    doc = render([SceneCue(10.5, 11.0, "Half a second in."), SceneCue(11.5, 12.5, "Later on.")])
    ass = tmp_path / "scene.ass"
    ass.write_text(doc, encoding="utf-8")
    graph = f"trim=start=10:end=12,setpts=PTS-STARTPTS,{ass_filter(ass)},format=yuv420p"
    out = tmp_path / "cut.mp4"
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(episode), "-vf", graph,
         "-c:v", "libx264", "-preset", "ultrafast", str(out)],
        check=True, timeout=60,
    )  # fmt: skip
    assert not frame_rgb(out, 0.2).where(bright)
    assert word_match_ratio("Half a second in.", ocr(frame_png(out, 0.7, tmp_path / "a.png"), langs="eng")) >= 0.8
    assert not frame_rgb(out, 1.25).where(bright)
    assert word_match_ratio("Later on.", ocr(frame_png(out, 1.8, tmp_path / "b.png"), langs="eng")) >= 0.8
