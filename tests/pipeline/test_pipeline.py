"""LangFlixPipeline's own logic with little or no media: early failures, selection, budgets.

The full real-ffmpeg runs (outputs, manifest, failures mid-job, parallel pipelines)
are in ``test_pipeline_media.py``; the pure parts have their own modules' tests.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.fake_http import FakeServer, Reply, json_reply
from support.temp import leftovers

import langflix.main
import langflix.pipeline as pipeline_package
from langflix.cancel import CancelToken
from langflix.config import Settings
from langflix.core.output_format import OutputFormat
from langflix.errors import (
    CancelledError,
    ConfigError,
    JobError,
    LangFlixError,
    QuotaExceededError,
    SubtitleError,
)
from langflix.pipeline import LangFlixPipeline, PipelineOptions, ProgressEvent
from langflix.temp import TempArea, TempFileManager

GOOD_SRT = "1\n00:00:01,000 --> 00:00:03,000\nLet's break the ice.\n"


def test_exports_are_sorted_and_real() -> None:
    assert pipeline_package.__all__ == sorted(pipeline_package.__all__)
    for name in pipeline_package.__all__:
        assert hasattr(pipeline_package, name)


def test_langflix_main_is_the_same_pipeline() -> None:
    for name in pipeline_package.__all__:
        assert getattr(langflix.main, name) is getattr(pipeline_package, name)


# -- failures before any media work ----------------------------------------------


@pytest.fixture
def inputs(tmp_path: Path) -> tuple[Path, Path]:
    video = tmp_path / "in" / "show.mp4"
    video.parent.mkdir()
    video.write_bytes(b"never probed in these tests")
    subs = tmp_path / "in" / "show.srt"
    subs.write_text(GOOD_SRT, encoding="utf-8")
    return video, subs


def _settings() -> Settings:
    return Settings(llm_base_url=None, lemonfox_api_key=None)


def _assert_clean(manager: TempFileManager, out: Path, inputs: tuple[Path, Path]) -> None:
    assert leftovers(manager) == []
    assert not out.exists() or list(out.iterdir()) == []
    assert inputs[0].read_bytes() == b"never probed in these tests"
    assert inputs[1].read_text(encoding="utf-8") == GOOD_SRT


def test_missing_video_is_a_clear_error(
    tmp_path: Path, manager: TempFileManager, inputs: tuple[Path, Path]
) -> None:
    out = tmp_path / "out"
    pipeline = LangFlixPipeline(
        tmp_path / "nope.mp4", inputs[1], out, manager=manager, settings=_settings()
    )
    with pytest.raises(JobError, match=r"nope\.mp4 does not exist"):
        pipeline.run()
    _assert_clean(manager, out, inputs)


def test_provider_without_key_fails_before_any_work(
    tmp_path: Path, manager: TempFileManager, inputs: tuple[Path, Path]
) -> None:
    out = tmp_path / "out"
    pipeline = LangFlixPipeline(
        *inputs, out, PipelineOptions(tts="lemonfox"), manager=manager, settings=_settings()
    )
    with pytest.raises(ConfigError, match="LANGFLIX_LEMONFOX_API_KEY"):
        pipeline.run()
    _assert_clean(manager, out, inputs)


def test_progress_callback_error_aborts_the_job(
    tmp_path: Path, manager: TempFileManager, inputs: tuple[Path, Path]
) -> None:
    out = tmp_path / "out"
    seen: list[ProgressEvent] = []

    def progress(event: ProgressEvent) -> None:
        seen.append(event)
        raise ValueError("display went away")

    pipeline = LangFlixPipeline(
        *inputs, out, manager=manager, settings=_settings(), progress=progress
    )
    with pytest.raises(JobError, match="progress callback raised ValueError: display went away") as err:
        pipeline.run()
    assert isinstance(err.value.__cause__, ValueError)
    assert [e.step for e in seen] == ["subtitles"]
    _assert_clean(manager, out, inputs)


def test_cancelled_before_start(
    tmp_path: Path, manager: TempFileManager, inputs: tuple[Path, Path]
) -> None:
    out = tmp_path / "out"
    token = CancelToken()
    token.cancel("user pressed stop")
    pipeline = LangFlixPipeline(*inputs, out, manager=manager, settings=_settings(), cancel=token)
    with pytest.raises(CancelledError, match="user pressed stop"):
        pipeline.run()
    _assert_clean(manager, out, inputs)


@pytest.mark.parametrize(
    "content",
    [b"\x00\x01\x02\xff\xfe garbage \x00" * 50, b"1\n00:00:01,000 --> 00:00:02,000\n   \n\n"],
    ids=["binary", "no-usable-cue"],
)
def test_bad_subtitles_fail_before_the_video_is_touched(
    tmp_path: Path, manager: TempFileManager, inputs: tuple[Path, Path], content: bytes
) -> None:
    out = tmp_path / "out"
    bad = tmp_path / "in" / "bad.srt"
    bad.write_bytes(content)
    pipeline = LangFlixPipeline(inputs[0], bad, out, manager=manager, settings=_settings())
    with pytest.raises(SubtitleError, match=r"bad\.srt"):
        pipeline.run()
    assert bad.read_bytes() == content
    _assert_clean(manager, out, inputs)


class BuggyTTS:
    """A TTS client with a bug: the pipeline must still raise one error family."""

    name = "buggy"

    def synthesize(self, text: str, language: str, area: TempArea) -> Path:
        area.new_file(suffix=".wav").write_bytes(b"half a")  # left for the scope to remove
        raise RuntimeError("a bug in a TTS client")


def test_unexpected_errors_are_wrapped(tmp_path: Path, manager: TempFileManager, short_video: Path) -> None:
    out = tmp_path / "out"
    subs = tmp_path / "ok.srt"
    subs.write_text(LLM_SRT, encoding="utf-8")
    tiny = OutputFormat(width=160, height=120, preset="ultrafast")
    options = PipelineOptions(max_expressions=1, repeat=1, output_format=tiny)
    pipeline = LangFlixPipeline(
        short_video, subs, out, options, manager=manager, settings=_settings(), tts_client=BuggyTTS()
    )
    with pytest.raises(LangFlixError, match="failed during 'speech': a bug in a TTS client") as info:
        pipeline.run()
    assert isinstance(info.value.__cause__, RuntimeError)
    assert leftovers(manager) == []
    assert not out.exists() or list(out.iterdir()) == []


# -- expression selection: the LLM when configured, the offline list otherwise ----


def _chat_reply(status: int, content: str) -> Reply:
    """An OpenAI-compatible /v1/chat/completions answer: ``content``, or a refusal."""
    if status != 200:
        return Reply(status, b'{"error": "no"}', {"Content-Type": "application/json"})
    return json_reply(200, {"choices": [{"message": {"role": "assistant", "content": content}}]})


LLM_SRT = (
    "1\n00:00:00,200 --> 00:00:01,200\nLet's break the ice.\n\n"
    "2\n00:00:01,500 --> 00:00:02,800\nWe are burning daylight here.\n"
)
LLM_PICK = json.dumps(
    {"expressions": [{"phrase": "burning daylight", "cue_index": 1, "meaning": "wasting time"}]}
)


@pytest.mark.parametrize(
    ("status", "content", "phrase", "selector"),
    [
        (200, LLM_PICK, "burning daylight", "llm"),
        (401, "", "break the ice", "offline"),  # a refused key: the job goes on offline
        (200, "I cannot help with that.", "break the ice", "offline"),  # not JSON
    ],
    ids=["llm", "llm-refused", "llm-nonsense"],
)
def test_llm_selector_when_configured(
    tmp_path: Path,
    manager: TempFileManager,
    short_video: Path,
    status: int,
    content: str,
    phrase: str,
    selector: str,
) -> None:
    server = FakeServer(default=_chat_reply(status, content), name="fake-chat")
    subs = tmp_path / "llm.srt"
    subs.write_text(LLM_SRT, encoding="utf-8")
    settings = Settings(llm_base_url=server.url, llm_api_key="sk-test", llm_model="m", cache_dir=tmp_path / "cache")
    messages: list[str] = []

    def progress(event: ProgressEvent) -> None:
        messages.append(event.message)
        if event.step == "cut":  # the choice and the translations are made: no need to encode anything
            raise RuntimeError("stop here")

    pipeline = LangFlixPipeline(
        short_video, subs, tmp_path / "out", PipelineOptions(max_expressions=1),
        manager=manager, settings=settings, progress=progress,
    )  # fmt: skip
    try:
        with pytest.raises(JobError, match="stop here"):
            pipeline.run()
    finally:
        server.close()
    # The LLM is asked to choose, then to translate the lines the lesson shows (this
    # script's one reply is no translation: the lesson goes on in English, with a warning).
    assert len(server.requests) == 2
    assert all(r.headers["authorization"] == "Bearer sk-test" for r in server.requests)
    assert server.requests[0].json()["model"] == "m"
    assert "Translate" in server.requests[1].json()["messages"][0]["content"]
    assert any("LLM translation failed" in m and "English only" in m for m in messages)
    assert f"'{phrase}'" in messages[-1]
    assert pipeline.selector == selector
    assert leftovers(manager) == []


def test_a_job_that_cannot_fit_fails_before_encoding(tmp_path: Path, short_video: Path) -> None:
    subs = tmp_path / "ok.srt"
    subs.write_text(LLM_SRT, encoding="utf-8")
    steps: list[str] = []
    with TempFileManager(base_dir=tmp_path / "tmp", max_bytes=200_000) as small:
        pipeline = LangFlixPipeline(
            short_video, subs, tmp_path / "out", PipelineOptions(max_expressions=1),
            manager=small, settings=_settings(), progress=lambda e: steps.append(e.step),
        )  # fmt: skip
        with pytest.raises(QuotaExceededError, match="processing short.mp4 needs"):
            pipeline.run()
        assert steps == ["subtitles", "probe", "expressions"], "no encode was started"
        assert leftovers(small) == []
        assert small.stats().reserved_bytes == 0, "the check leaves no reservation behind"
    assert not (tmp_path / "out").exists()
