"""LangFlixPipeline end to end on real media: real ffmpeg, espeak-ng and HTTP servers.

Every test checks the three promises after the run, success or failure: the temp
session holds no file, the output dir holds complete results or nothing, and no
ffmpeg/espeak-ng child is left running. Inputs are compared byte for byte.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import shutil
import signal
import struct
import subprocess
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from support.fake_http import FakeServer, Reply, json_reply
from support.media import make_media, pattern, sine
from support.procs import children, when_encoding
from support.temp import leftovers
from support.threads import Race, race

from langflix.cancel import CancelToken
from langflix.config import Settings
from langflix.core.ffmpeg import MEDIA_DEMUXERS, SUBTITLE_DEMUXERS, FFmpegTools
from langflix.core.output_format import OutputFormat
from langflix.errors import (
    CancelledError,
    FFmpegError,
    JobError,
    LangFlixError,
    SubtitleError,
    TTSError,
)
from langflix.pipeline import (
    MANIFEST_NAME,
    LangFlixPipeline,
    PipelineOptions,
    PipelineResult,
    ProgressEvent,
    translation_note,
)
from langflix.temp import TempFileManager

if TYPE_CHECKING:
    from conftest import Episode  # the fixture's type; fixtures come from conftest.py

pytestmark = pytest.mark.slow

probe = FFmpegTools().probe

SMALL = OutputFormat(width=320, height=240, fps=25, preset="ultrafast")
"""The output format of every run here: tiny and fast, still H.264 + AAC."""

FAST = PipelineOptions(
    max_expressions=1, repeat=1, output_format=SMALL, context_seconds=2.0, outputs="lessons,compilation"
)
"""The cheapest real job: one expression, shown once."""


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def child_processes() -> list[tuple[int, str]]:
    """(pid, command name) of every live child of this test process, from /proc."""
    return [(p.pid, p.comm) for p in children()]


def offline_settings(**overrides: Any) -> Settings:
    """Settings that never reach a network: no LLM, espeak-ng speech."""
    values: dict[str, Any] = {"llm_base_url": None, "tts": "espeak", "ffmpeg_timeout": 120.0}
    values.update(overrides)
    return Settings(**values)


@pytest.fixture(autouse=True)
def _no_children_left() -> Iterator[None]:
    """Fail any test here that leaves ffmpeg, ffprobe or espeak-ng running."""
    yield
    assert child_processes() == []


def _pipeline(
    episode: Episode | tuple[Path, Path],
    out: Path,
    manager: TempFileManager,
    options: PipelineOptions = FAST,
    **kwargs: Any,
) -> LangFlixPipeline:
    video, subs = episode if isinstance(episode, tuple) else (episode.video, episode.subtitles)
    kwargs.setdefault("settings", offline_settings())
    return LangFlixPipeline(video, subs, out, options, manager=manager, **kwargs)


def _assert_no_trace(
    manager: TempFileManager, out: Path, episode: Episode, before: dict[Path, str]
) -> None:
    """After a failure: no temp file, no output at all, inputs untouched."""
    assert leftovers(manager) == []
    assert not out.exists() or list(out.rglob("*")) == [], "a failed job must leave no output"
    assert {p: digest(p) for p in before} == before
    assert child_processes() == []


@pytest.fixture
def before(episode: Episode) -> dict[Path, str]:
    return {episode.video: digest(episode.video), episode.subtitles: digest(episode.subtitles)}


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG's header (IHDR), refusing anything that is not a PNG."""
    data = path.read_bytes()[:24]
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", f"{path} is not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def _check_result(result: PipelineResult, repeat: int) -> dict[str, Any]:
    """Every output plays with the right streams and durations; the manifest tells the truth."""
    manifest = json.loads(result.manifest.read_text(encoding="utf-8"))
    names = sorted(p.name for p in result.episode_dir.iterdir())
    files = [item["file"] for item in manifest["expressions"]]
    thumbnails = [item["thumbnail"] for item in manifest["expressions"]]
    assert names == sorted([*files, *thumbnails, "compilation.mp4", "compilation.png", "metadata.json", MANIFEST_NAME])
    assert thumbnails == [name.replace(".mp4", ".png") for name in files]
    assert [t.name for t in result.thumbnails] == thumbnails
    assert manifest["compilation"]["thumbnail"] == "compilation.png"
    assert result.compilation_thumbnail == result.episode_dir / "compilation.png"
    for thumbnail in (*result.thumbnails, result.compilation_thumbnail):
        assert png_size(thumbnail) == (1280, 720)
    assert [v.name for v in result.videos] == [item["file"] for item in manifest["expressions"]]
    assert [e.phrase for e in result.expressions] == [item["phrase"] for item in manifest["expressions"]]
    total = 0.0
    for video, item in zip(result.videos, manifest["expressions"], strict=True):
        info = probe(video)
        assert info.has_video and info.has_audio
        assert (info.width, info.height, info.video_codec, info.audio_codec) == (
            SMALL.width, SMALL.height, "h264", "aac",
        )  # fmt: skip
        parts = item["parts"]
        expected = parts["title_card"] + parts["context_clip"] + parts["expression_clip"] * repeat
        # One frame of rounding per piece at most.
        assert info.duration == pytest.approx(expected, abs=0.05 * (2 + repeat))
        assert item["duration"] == pytest.approx(info.duration, abs=0.01)
        assert parts["title_card"] >= 3.0
        # What was cut lies inside the video, the clip inside its context, around the cue.
        assert 0 <= item["context_start"] <= item["clip_start"] <= item["cue_start"]
        assert item["clip_start"] < item["clip_end"] <= item["context_end"]
        assert item["context_end"] <= manifest["source"]["video_duration"] + 1e-6
        assert item["clip_end"] >= min(item["cue_end"], manifest["source"]["video_duration"])
        total += info.duration
    comp = probe(result.compilation)
    assert comp.has_video and comp.has_audio
    assert comp.duration == pytest.approx(total, abs=0.1)
    assert manifest["compilation"]["duration"] == pytest.approx(comp.duration, abs=0.01)
    return manifest


# -- a good run -------------------------------------------------------------------


def test_run_makes_playable_outputs_and_a_true_manifest(
    tmp_path: Path, episode: Episode, manager: TempFileManager, before: dict[Path, str]
) -> None:
    events: list[ProgressEvent] = []
    reserved: dict[str, int] = {}

    def record(event: ProgressEvent) -> None:
        events.append(event)
        reserved[event.step] = manager.stats().reserved_bytes

    out = tmp_path / "out"
    options = PipelineOptions(
        max_expressions=2, repeat=2, output_format=SMALL, context_seconds=2.0, outputs="lessons,compilation"
    )
    result = _pipeline(episode, out, manager, options, progress=record).run()
    # The job's disk claim is held from the first encode to publishing, then given back.
    assert reserved["cut"] > 0 and reserved["compilation"] > 0
    assert manager.stats().reserved_bytes == 0

    assert result.episode_dir == out / "langflix-sample"
    assert len(result.videos) == 2
    manifest = _check_result(result, repeat=2)
    assert manifest["episode"] == "langflix-sample"
    assert manifest["source"]["video_duration"] == pytest.approx(episode.duration, abs=0.1)
    phrases = [item["phrase"] for item in manifest["expressions"]]
    assert "break the ice" in phrases
    assert all(item["meaning"] for item in manifest["expressions"])
    assert [item["file"] for item in manifest["expressions"]][0].startswith("01-")

    steps = [e.step for e in events]
    assert steps[:3] == ["subtitles", "probe", "expressions"]
    assert steps.count("cut") == steps.count("speech") == steps.count("assemble") == 2
    assert steps[-4:] == ["compilation", "metadata", "publish", "done"]
    percents = [e.percent for e in events]
    assert percents == sorted(percents) and percents[-1] == 100.0

    assert 0 < result.peak_temp_bytes
    assert leftovers(manager) == [], "the job's scope must be gone"
    assert {p: digest(p) for p in before} == before, "inputs must be byte-identical"
    assert list(out.iterdir()) == [result.episode_dir]


def test_second_run_does_not_clobber_the_first(
    tmp_path: Path, episode: Episode, manager: TempFileManager
) -> None:
    out = tmp_path / "out"
    earlier = out / "langflix-sample"  # an earlier run's result (its content is the user's)
    earlier.mkdir(parents=True)
    (earlier / "compilation.mp4").write_bytes(b"earlier compilation")
    (earlier / MANIFEST_NAME).write_text('{"earlier": true}')
    (out / "langflix-sample-2").write_text("a file squatting on the next name")

    result = _pipeline(episode, out, manager).run()
    assert result.episode_dir == out / "langflix-sample-3"
    assert (earlier / "compilation.mp4").read_bytes() == b"earlier compilation"
    assert (earlier / MANIFEST_NAME).read_text() == '{"earlier": true}'
    assert sorted(p.name for p in earlier.iterdir()) == ["compilation.mp4", MANIFEST_NAME]
    assert (out / "langflix-sample-2").read_text() == "a file squatting on the next name"
    _check_result(result, repeat=1)
    assert leftovers(manager) == []


def test_four_parallel_pipelines_into_one_output_dir(
    tmp_path: Path, episode: Episode, manager: TempFileManager, before: dict[Path, str]
) -> None:
    out = tmp_path / "out"
    outcome: Race[PipelineResult] = race(lambda: _pipeline(episode, out, manager).run(), 4, timeout=240)
    results = outcome.results
    assert outcome.errors == []
    assert sorted(r.episode_dir.name for r in results) == [
        "langflix-sample", "langflix-sample-2", "langflix-sample-3", "langflix-sample-4",
    ]  # fmt: skip
    for result in results:
        _check_result(result, repeat=1)
    assert leftovers(manager) == []
    assert {p: digest(p) for p in before} == before


# -- failures at each stage ---------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"\x00\xff\xfe\x00 not a subtitle \x00\x01" * 64, "bad.srt"),
        (
            b"1\n00:00:01,000 --> 00:00:02,000\n   \n\n"
            b"2\n00:00:03,000 --> 00:00:04,000\n<i></i>\n",
            "bad.srt",
        ),
    ],
    ids=["unreadable", "no-usable-cue"],
)
def test_bad_subtitle_is_a_clear_error(
    tmp_path: Path,
    episode: Episode,
    manager: TempFileManager,
    before: dict[Path, str],
    content: bytes,
    needle: str,
) -> None:
    bad = tmp_path / "bad.srt"
    bad.write_bytes(content)
    out = tmp_path / "out"
    with pytest.raises(SubtitleError, match=needle):
        _pipeline((episode.video, bad), out, manager).run()
    assert bad.read_bytes() == content
    _assert_no_trace(manager, out, episode, before)


def test_subtitle_without_any_expression(
    tmp_path: Path, episode: Episode, manager: TempFileManager, before: dict[Path, str]
) -> None:
    plain = tmp_path / "plain.srt"
    plain.write_text("1\n00:00:01,000 --> 00:00:02,000\nThe weather is nice.\n", encoding="utf-8")
    out = tmp_path / "out"
    with pytest.raises(LangFlixError, match="no known idiom"):
        _pipeline((episode.video, plain), out, manager).run()
    _assert_no_trace(manager, out, episode, before)


def test_corrupt_video_fails_before_any_heavy_work(
    tmp_path: Path, episode: Episode, manager: TempFileManager, before: dict[Path, str]
) -> None:
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(os.urandom(64 * 1024))
    events: list[ProgressEvent] = []
    out = tmp_path / "out"
    with pytest.raises(FFmpegError, match=r"corrupt\.mp4 is not a readable media file"):
        _pipeline((corrupt, episode.subtitles), out, manager, progress=events.append).run()
    assert [e.step for e in events] == ["subtitles", "probe"]
    _assert_no_trace(manager, out, episode, before)


def test_ffmpeg_error_mid_job(
    tmp_path: Path, episode: Episode, manager: TempFileManager, before: dict[Path, str]
) -> None:
    """A real ffmpeg failure after pieces exist (fault injected into the 4th run's args)."""
    calls = 0
    held: list[list[Path]] = []

    class FailingFourthRun(FFmpegTools):
        def run(self, args: Sequence[str], **kwargs: Any) -> None:
            nonlocal calls
            calls += 1
            if calls == 4:  # the scene, the card, the lesson's concat, then the compilation's
                held.append([p for p in leftovers(manager) if p.is_file()])
                args = [*args[:-1], "-c:v", "no_such_encoder", args[-1]]
            super().run(args, **kwargs)

    out = tmp_path / "out"
    with pytest.raises(FFmpegError, match="no_such_encoder"):
        _pipeline(episode, out, manager, ffmpeg=FailingFourthRun()).run()
    assert len(held[0]) >= 3, "pieces existed when ffmpeg failed"
    _assert_no_trace(manager, out, episode, before)


def test_ffmpeg_timeout_mid_job(
    tmp_path: Path, episode: Episode, manager: TempFileManager, before: dict[Path, str]
) -> None:
    out = tmp_path / "out"
    pipeline = _pipeline(episode, out, manager, settings=offline_settings(ffmpeg_timeout=0.05))
    with pytest.raises(FFmpegError, match="timed out"):
        pipeline.run()
    _assert_no_trace(manager, out, episode, before)


@pytest.fixture
def speech_server() -> Iterator[FakeServer]:
    """A LemonFox-like /v1/audio/speech on 127.0.0.1 whose engine always fails (HTTP 500)."""
    broken = json_reply(500, {"error": {"message": "engine on fire"}})
    with FakeServer(default=broken, name="broken-speech") as server:
        yield server


def test_tts_failure(
    tmp_path: Path,
    episode: Episode,
    manager: TempFileManager,
    before: dict[Path, str],
    speech_server: FakeServer,
) -> None:
    settings = offline_settings(
        lemonfox_api_key="test-key", lemonfox_base_url=speech_server.url, tts_retries=1
    )
    options = FAST.replace(tts="lemonfox")
    out = tmp_path / "out"
    with pytest.raises(TTSError, match="HTTP 500.*engine on fire") as err:
        _pipeline(episode, out, manager, options, settings=settings).run()
    assert "test-key" not in str(err.value)
    bodies = [request.json() for request in speech_server.requests]
    assert len(bodies) == 2, "one retry, then a clear error"
    _assert_no_trace(manager, out, episode, before)


@pytest.mark.parametrize("at_step", ["assemble", "done"])
def test_progress_callback_error_aborts_cleanly(
    tmp_path: Path, episode: Episode, manager: TempFileManager, before: dict[Path, str], at_step: str
) -> None:
    def progress(event: ProgressEvent) -> None:
        if event.step == at_step:
            raise RuntimeError("the progress bar crashed")

    out = tmp_path / "out"
    with pytest.raises(JobError, match="progress callback raised RuntimeError") as err:
        _pipeline(episode, out, manager, progress=progress).run()
    assert at_step in str(err.value)
    # "done" comes after the videos were persisted: they must be taken back.
    _assert_no_trace(manager, out, episode, before)


def test_cancellation_mid_encode_kills_ffmpeg(
    tmp_path: Path, episode: Episode, manager: TempFileManager, before: dict[Path, str]
) -> None:
    token = CancelToken()
    victims: list[int] = []

    def cancel(pid: int) -> None:
        victims.append(pid)
        token.cancel("stopped by the user")

    out = tmp_path / "out"
    watcher = when_encoding(cancel)
    with pytest.raises(CancelledError, match="stopped by the user"):
        _pipeline(episode, out, manager, cancel=token).run()
    watcher.join(5)
    assert victims, "the job was cancelled while ffmpeg was encoding"
    assert not Path(f"/proc/{victims[0]}").exists(), "the encoding ffmpeg was killed and reaped"
    _assert_no_trace(manager, out, episode, before)


def test_keyboard_interrupt_mid_encode(
    tmp_path: Path, episode: Episode, manager: TempFileManager, before: dict[Path, str]
) -> None:
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    victims: list[int] = []

    def interrupt(pid: int) -> None:
        victims.append(pid)
        os.kill(os.getpid(), signal.SIGINT)  # what Ctrl-C in the terminal does

    out = tmp_path / "out"
    try:
        watcher = when_encoding(interrupt)
        with pytest.raises(KeyboardInterrupt):
            _pipeline(episode, out, manager, FAST.replace(max_expressions=2)).run()
        watcher.join(5)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert victims and not Path(f"/proc/{victims[0]}").exists()
    _assert_no_trace(manager, out, episode, before)


# -- awkward inputs ---------------------------------------------------------------


def test_cues_beyond_the_end_and_overlapping(
    tmp_path: Path, episode: Episode, manager: TempFileManager
) -> None:
    srt = tmp_path / "edge.srt"
    srt.write_text(
        "1\n00:00:02,000 --> 00:00:04,000\nThe weather is nice today.\n\n"
        "2\n00:00:03,000 --> 00:00:05,000\nWe should call it a day.\n\n"  # overlaps cue 1
        "3\n00:00:14,500 --> 00:00:19,000\nDon't give up now.\n\n"  # runs past the 16 s end
        "4\n00:00:40,000 --> 00:00:42,000\nLet's hang in there.\n",  # after the end
        encoding="utf-8",
    )
    options = PipelineOptions(
        max_expressions=3, repeat=1, output_format=SMALL, context_seconds=1.0, outputs="lessons,compilation"
    )
    result = _pipeline((episode.video, srt), tmp_path / "out", manager, options).run()
    manifest = _check_result(result, repeat=1)
    by_phrase = {item["phrase"]: item for item in manifest["expressions"]}
    assert sorted(by_phrase) == ["call it a day", "give up"]
    # The cue that runs past the end is cut up to the end, not beyond it.
    assert by_phrase["give up"]["clip_end"] == pytest.approx(episode.duration, abs=0.05)
    assert by_phrase["call it a day"]["cue_start"] == 3.0
    assert leftovers(manager) == []


def test_one_second_video(tmp_path: Path, manager: TempFileManager) -> None:
    video = make_media(
        tmp_path / "tiny.mp4",
        video=pattern("320x240", 25, 1, name="testsrc2"),
        audio=sine(440, 44100, 1),
        args=["-pix_fmt", "yuv420p"],
    )
    srt = tmp_path / "tiny.srt"
    srt.write_text(
        "1\n00:00:00,200 --> 00:00:00,900\nLet's break the ice.\n\n"
        "2\n00:00:00,500 --> 00:00:03,000\nIt's a piece of cake.\n",
        encoding="utf-8",
    )
    options = PipelineOptions(
        max_expressions=2, repeat=1, output_format=SMALL, context_seconds=2.0, outputs="lessons,compilation"
    )
    result = _pipeline((video, srt), tmp_path / "out", manager, options).run()
    manifest = _check_result(result, repeat=1)
    for item in manifest["expressions"]:
        assert item["parts"]["context_clip"] <= 1.0 + 1e-6
        assert item["parts"]["expression_clip"] <= 1.0 + 1e-6
    assert leftovers(manager) == []


_KOREAN = {
    "Hi everyone, let's break the ice before the meeting.": "여러분, 회의 전에 어색한 분위기를 깨 봅시다.",
    "The weather is nice today.": "오늘 날씨가 좋네요.",
    "Don't worry, I'll figure it out by myself.": "걱정 마, 내가 알아서 해결할게.",
    "Honestly, this test is a piece of cake.": "솔직히 이 시험은 식은 죽 먹기야.",
    "Can you pick up some milk on the way home?": "집에 오는 길에 우유 좀 사 올래?",
}


def test_non_ascii_names_and_a_bilingual_sami(
    tmp_path: Path, episode: Episode, manager: TempFileManager
) -> None:
    """Korean file names, a Korean translation track, and quotes/colons/% in the text."""
    from langflix.core.subtitles import load_subtitles

    video = tmp_path / "에피소드 1: 시작.mp4"
    shutil.copyfile(episode.video, video)
    cues = load_subtitles(episode.subtitles).track("en").cues
    body = []
    for cue in cues:
        english = cue.text.replace("break the ice", 'break the ice: 100% "café" style')
        for cls, text in (("ENCC", english), ("KRCC", _KOREAN[cue.text])):
            body.append(f"<SYNC Start={round(cue.start * 1000)}><P Class={cls}>{text}")
        for cls in ("ENCC", "KRCC"):
            body.append(f"<SYNC Start={round(cue.end * 1000)}><P Class={cls}>&nbsp;")
    sami = tmp_path / "에피소드 1.smi"
    sami.write_text(
        "<SAMI>\n<HEAD>\n<STYLE TYPE=\"text/css\">\n<!--\n"
        ".ENCC { Name:English; lang:en-US; }\n.KRCC { Name:Korean; lang:ko-KR; }\n-->\n"
        "</STYLE>\n</HEAD>\n<BODY>\n" + "\n".join(body) + "\n</BODY>\n</SAMI>\n",
        encoding="utf-8",
    )
    options = PipelineOptions(
        max_expressions=2, repeat=1, output_format=SMALL, context_seconds=2.0, outputs="lessons,compilation"
    )
    result = _pipeline((video, sami), tmp_path / "out", manager, options).run()
    assert result.episode_dir.name == "에피소드_1_시작"
    manifest = _check_result(result, repeat=1)
    by_phrase = {item["phrase"]: item for item in manifest["expressions"]}
    assert by_phrase["break the ice"]["translation"] == _KOREAN[cues[0].text]
    assert by_phrase["break the ice"]["translation_source"] == "bilingual_track"
    assert manifest["translation"]["language"] == "ko" and set(manifest["translation"]["lines"]) == {"bilingual_track"}
    assert '100% "café"' in by_phrase["break the ice"]["line"]
    # The manifest is UTF-8 JSON with the Korean as text, not \u escapes.
    assert "어색한" in result.manifest.read_text(encoding="utf-8")
    assert leftovers(manager) == []


# -- translations: the source of each, and the LLM asked nothing twice ------------------------


def test_an_english_only_srt_makes_english_only_lessons_and_says_so(
    tmp_path: Path, episode: Episode, manager: TempFileManager
) -> None:
    events: list[ProgressEvent] = []
    result = _pipeline(episode, tmp_path / "out", manager, progress=events.append).run()
    manifest = _check_result(result, repeat=1)
    assert manifest["translation"] == {"language": None, "lines": {}}
    assert [(e["translation"], e["translation_source"]) for e in manifest["expressions"]] == [(None, None)]
    assert "English only" in events[-1].message and "--translation-subtitles" in events[-1].message
    assert translation_note(manifest).startswith("English only")


def _chat(content: dict[str, Any]) -> Reply:
    return json_reply(200, {"choices": [{"message": {"role": "assistant", "content": json.dumps(content)}}]})


def test_the_llm_translates_every_line_shown_and_a_rerun_asks_it_nothing(
    tmp_path: Path, episode: Episode, manager: TempFileManager, before: dict[Path, str]
) -> None:
    pick = {"expressions": [{"phrase": "break the ice", "cue_index": 0, "meaning": "to make people relaxed"}]}
    lines = {"translations": [{"index": i, "text": f"번역 {i}"} for i in range(6)]}
    with FakeServer(name="fake-chat") as server:
        server.replies += [_chat(pick), _chat(lines)]
        settings = offline_settings(
            llm_base_url=server.url, llm_api_key="sk-test", llm_model="m", cache_dir=tmp_path / "cache"
        )
        first = _pipeline(episode, tmp_path / "out", manager, settings=settings).run()
        asked = [r.json()["messages"][0]["content"] for r in server.requests]
        second = _pipeline(episode, tmp_path / "out", manager, settings=settings).run()
        assert len(server.requests) == 2, "the second run asked the LLM nothing"
    assert "choose" in asked[0] and "Translate" in asked[1] and "Korean" in asked[1]
    for result in (first, second):
        manifest = _check_result(result, repeat=1)
        assert manifest["selector"] == "llm"
        (lesson,) = manifest["expressions"]
        # The expression's line is asked first: its translation is the first answer.
        assert (lesson["translation"], lesson["translation_source"]) == ("번역 0", "llm")
        assert manifest["translation"]["language"] == "ko" and manifest["translation"]["lines"]["llm"] >= 1
    assert leftovers(manager) == []
    assert {p: digest(p) for p in before} == before


# -- failures at the new stages -----------------------------------------------------------------


def test_a_translation_file_of_another_episode_fails_before_any_encode(
    tmp_path: Path, episode: Episode, manager: TempFileManager, before: dict[Path, str]
) -> None:
    other = tmp_path / "other.ko.srt"
    other.write_text("1\n01:00:00,000 --> 01:00:02,000\n다른 에피소드의 대사.\n", encoding="utf-8")
    events: list[ProgressEvent] = []
    out = tmp_path / "out"
    with pytest.raises(SubtitleError, match=r"other\.ko\.srt: only 0 of .* another episode"):
        _pipeline(episode, out, manager, translation_subtitles=other, progress=events.append).run()
    assert [e.step for e in events] == ["subtitles", "translation"]
    _assert_no_trace(manager, out, episode, before)


def test_a_missing_translation_file_is_a_clear_error(
    tmp_path: Path, episode: Episode, manager: TempFileManager, before: dict[Path, str]
) -> None:
    out = tmp_path / "out"
    with pytest.raises(JobError, match=r"translation subtitle file .*nope\.srt does not exist"):
        _pipeline(episode, out, manager, translation_subtitles=tmp_path / "nope.srt").run()
    _assert_no_trace(manager, out, episode, before)


def test_a_failing_thumbnail_fails_the_job_and_leaves_nothing(
    tmp_path: Path, episode: Episode, manager: TempFileManager, before: dict[Path, str]
) -> None:
    # A real ffmpeg behind a wrapper that refuses the compilation's thumbnail (one frame to a PNG).
    wrapper = tmp_path / "ffmpeg"
    wrapper.write_text(
        '#!/bin/sh\ncase "$*" in *"-vf "*".png") echo "thumbnail refused on purpose" >&2; exit 1;; esac\n'
        'exec ffmpeg "$@"\n'
    )
    wrapper.chmod(0o755)
    out = tmp_path / "out"
    with pytest.raises(FFmpegError, match="thumbnail refused on purpose"):
        _pipeline(episode, out, manager, ffmpeg=FFmpegTools(ffmpeg=str(wrapper))).run()
    _assert_no_trace(manager, out, episode, before)


def test_a_failing_lesson_stops_the_one_made_beside_it(
    tmp_path: Path, episode: Episode, manager: TempFileManager, before: dict[Path, str]
) -> None:
    """Two lessons at once: the first card's encode fails, the other lesson's ffmpeg is stopped."""
    failed = threading.Event()

    class FailingCard(FFmpegTools):
        def run(self, args: Sequence[str], **kwargs: Any) -> None:
            if any(str(a).startswith("color=c=") for a in args) and not failed.is_set():
                failed.set()
                args = [*args[:-1], "-c:v", "no_such_encoder", args[-1]]
            super().run(args, **kwargs)

    out = tmp_path / "out"
    options = FAST.replace(max_expressions=2)
    settings = offline_settings(job_concurrency=2)
    with pytest.raises(FFmpegError, match="no_such_encoder"):
        _pipeline(episode, out, manager, options, settings=settings, ffmpeg=FailingCard()).run()
    assert failed.is_set()
    _assert_no_trace(manager, out, episode, before)


@pytest.mark.parametrize("fps", [12, 30])
def test_jobs_work_at_12_and_30_fps(tmp_path: Path, episode: Episode, manager: TempFileManager, fps: int) -> None:
    """LANGFLIX_VIDEO_FPS=30 (or 12): the compilation joins the lessons the editor made."""
    fmt = SMALL.replace(fps=fps, preset="veryfast")  # B-frames too
    options = PipelineOptions(
        max_expressions=2, repeat=2, output_format=fmt, context_seconds=2.0, outputs="lessons,compilation"
    )
    result = _pipeline(episode, tmp_path / "out", manager, options).run()
    for video in (*result.videos, result.compilation):
        info = probe(video)
        assert info.frame_rate == fps and info.fps == pytest.approx(fps, rel=3e-3)
    assert len(result.videos) == 2
    assert leftovers(manager) == []


def frame_times(video: Path) -> list[float]:
    """The presentation time of every video frame of ``video``, as ffprobe decodes them."""
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "frame=pts_time",
         "-of", "csv=p=0", str(video)],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout  # fmt: skip
    return [float(line.strip().rstrip(",")) for line in out.split()]


def test_a_25_fps_source_makes_15_fps_lessons_that_play_at_15_fps(
    tmp_path: Path, episode: Episode, manager: TempFileManager
) -> None:
    """Cut from a 25 fps source into a 15 fps format: every lesson and the compilation play at 15 fps,
    each frame shown once for 1/15 s (a join adds at most one AAC priming), none lost in the joins."""
    assert probe(episode.video).frame_rate == 25
    fps, repeat = 15, 2
    options = PipelineOptions(max_expressions=2, repeat=repeat, output_format=SMALL.replace(fps=fps),
                              context_seconds=2.0)  # fmt: skip
    result = _pipeline(episode, tmp_path / "out", manager, options).run()
    manifest = json.loads(result.manifest.read_text(encoding="utf-8"))
    counts = []
    for video, lesson in zip((*result.videos, result.compilation), (*manifest["expressions"], None), strict=True):
        info = probe(video)
        assert info.frame_rate == fps and info.fps == pytest.approx(fps, rel=3e-3), video.name
        times = frame_times(video)
        steps = [b - a for a, b in itertools.pairwise(times)]
        assert min(steps) > 1 / fps - 0.002, f"{video.name}: a frame shown for less than 1/{fps} s"
        assert max(steps) < 1 / fps + 0.03, f"{video.name}: a frame dropped (or a gap) at {max(steps):.3f} s"
        counts.append(len(times))
        if lesson is not None:
            parts = lesson["parts"]
            planned = parts["title_card"] + parts["context_clip"] + repeat * parts["expression_clip"]
            assert len(times) == pytest.approx(planned * fps, abs=2 + repeat), video.name
    assert counts[-1] == sum(counts[:-1]), "the compilation holds every frame of every lesson"
    assert leftovers(manager) == []


def _option(options: list[str], name: str) -> str | None:
    """The value of the last ``name`` among one input's ``options``, None when it is not given."""
    spots = [i for i, option in enumerate(options[:-1]) if option == name]
    return options[spots[-1] + 1] if spots else None


def test_every_file_a_job_hands_ffmpeg_is_opened_with_its_demuxer_forced(
    tmp_path: Path, episode: Episode, manager: TempFileManager
) -> None:
    """The source, the speech, every piece, the concat lists, the thumbnails: no run lets ffmpeg guess
    a format (a file swapped for a playlist after its probe is then still opened as what it was)."""
    runs = tmp_path / "runs"
    runs.mkdir()
    wrapper = tmp_path / "ffmpeg"
    wrapper.write_text(f'#!/bin/sh\nprintf \'%s\\0\' "$@" > "$(mktemp {runs}/run.XXXXXX)"\nexec ffmpeg "$@"\n')
    wrapper.chmod(0o755)
    translation = tmp_path / "episode.ko.srt"
    translation.write_text("1\n00:00:00,000 --> 00:00:16,000\n자, 다들 어색한 분위기를 깨 봅시다.\n", encoding="utf-8")
    _pipeline(episode, tmp_path / "out", manager, translation_subtitles=translation,
              ffmpeg=FFmpegTools(ffmpeg=str(wrapper))).run()  # fmt: skip
    opened: list[str] = []
    for run in sorted(runs.iterdir()):
        args = [os.fsdecode(a) for a in run.read_bytes().split(b"\0")[:-1]]
        start = 0
        for i, arg in enumerate(args):
            if arg != "-i":
                continue
            options, value, start = args[start:i], args[i + 1], i + 2
            demuxer = _option(options, "-f")
            assert demuxer is not None, f"{value} opened with its format guessed: {args}"
            opened.append(demuxer)
            if demuxer == "lavfi":
                assert not value.startswith("file:"), args
                continue
            assert demuxer in MEDIA_DEMUXERS | SUBTITLE_DEMUXERS | {"concat"}, args
            assert _option(options, "-protocol_whitelist") == "file", f"{value}: any protocol allowed: {args}"
            allowed = _option(options, "-format_whitelist")
            assert allowed == demuxer or (demuxer == "concat" and allowed == "concat,mov"), args
    # Each kind of input was seen: the source and the pieces (mp4), espeak's speech, concat lists, lavfi.
    assert {"mov", "wav", "concat", "lavfi"} <= set(opened), opened
    assert leftovers(manager) == []
