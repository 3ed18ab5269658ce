"""LangFlixPipeline's own logic without media: names, claims, options, early failures.

The real-ffmpeg runs (outputs, manifest, failures mid-job, parallel pipelines) are in
``tests/integration/test_pipeline.py``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.fake_http import FakeServer, Reply, json_reply
from support.media import make_media, pattern
from support.temp import leftovers, temp_manager
from support.threads import race

import langflix.main as main_module
from langflix.config import Settings
from langflix.core.cancel import CancelToken
from langflix.errors import (
    CancelledError,
    ConfigError,
    JobError,
    LangFlixError,
    QuotaExceededError,
    SubtitleError,
)
from langflix.main import (
    LangFlixPipeline,
    PipelineOptions,
    ProgressEvent,
    claim_episode_dir,
    sanitize_episode_name,
)
from langflix.utils.temp_file_manager import TempFileManager

GOOD_SRT = "1\n00:00:01,000 --> 00:00:03,000\nLet's break the ice.\n"


def test_exports_are_sorted_and_real() -> None:
    assert main_module.__all__ == sorted(main_module.__all__)
    for name in main_module.__all__:
        assert hasattr(main_module, name)


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("Friends S01E01", "Friends_S01E01"),
        ("../../etc/passwd", "etc_passwd"),
        (".hidden", "hidden"),
        ("에피소드 1", "에피소드_1"),
        ("a:b*c?d", "a_b_c_d"),
        ("///", ""),
        ("..", ""),
        ("x" * 200, "x" * 80),
    ],
)
def test_sanitize_episode_name(raw: str, clean: str) -> None:
    assert sanitize_episode_name(raw) == clean


def test_claim_takes_the_first_free_name(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert claim_episode_dir(out, "ep") == out / "ep"
    (out / "ep-2").write_text("somebody's file, not a dir")
    assert claim_episode_dir(out, "ep") == out / "ep-3"
    assert claim_episode_dir(out, "ep") == out / "ep-4"
    assert (out / "ep-2").read_text() == "somebody's file, not a dir"


def test_parallel_claims_never_collide(tmp_path: Path) -> None:
    out = tmp_path / "out"
    # All threads race for the same name at once.
    outcome = race(lambda: claim_episode_dir(out, "ep"), 16)
    assert outcome.errors == []
    claimed = outcome.results
    assert len(set(claimed)) == 16
    assert {p.name for p in claimed} == {"ep"} | {f"ep-{i}" for i in range(2, 17)}


def test_claim_in_an_impossible_place_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    with pytest.raises(JobError, match="output directory"):
        claim_episode_dir(blocker, "ep")


def test_unpublish_removes_only_what_the_job_wrote(tmp_path: Path) -> None:
    episode = tmp_path / "ep"
    episode.mkdir()
    ours = episode / "01-x.mp4"
    ours.write_bytes(b"partial")
    foreign = episode / "notes.txt"
    foreign.write_text("the user's")
    main_module._unpublish(episode, [ours, episode / "never-written.mp4"])
    assert not ours.exists()
    assert foreign.read_text() == "the user's", "a file the job did not write is never removed"
    main_module._unpublish(episode, [])
    assert episode.exists()
    foreign.unlink()
    main_module._unpublish(episode, [])
    assert not episode.exists(), "an empty claimed dir goes"


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"max_expressions": 0}, "max_expressions"),
        ({"repeat": 0}, "repeat"),
        ({"repeat": 21}, "repeat"),
        ({"tts": "nope"}, "TTS provider"),
        ({"language_level": "expert"}, "language level"),
        ({"episode_name": "///"}, "episode name"),
    ],
)
def test_options_are_validated(kwargs: dict[str, object], needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        PipelineOptions(**kwargs)  # type: ignore[arg-type]


# -- failures before any media work ----------------------------------------------


@pytest.fixture
def manager(tmp_path: Path) -> Iterator[TempFileManager]:
    with temp_manager(tmp_path) as mgr:
        yield mgr


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


def test_unexpected_errors_are_wrapped(
    tmp_path: Path, manager: TempFileManager, inputs: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"

    def broken_loader(path: Path) -> object:
        raise RuntimeError("a bug in a parser")

    monkeypatch.setattr(main_module, "load_subtitles", broken_loader)
    pipeline = LangFlixPipeline(*inputs, out, manager=manager, settings=_settings())
    with pytest.raises(LangFlixError, match="failed during 'subtitles': a bug in a parser"):
        pipeline.run()
    _assert_clean(manager, out, inputs)


# -- expression selection: the LLM when configured, the offline list otherwise ----


def _chat_reply(status: int, content: str) -> Reply:
    """An OpenAI-compatible /v1/chat/completions answer: ``content``, or a refusal."""
    if status != 200:
        return Reply(status, b'{"error": "no"}', {"Content-Type": "application/json"})
    return json_reply(200, {"choices": [{"message": {"role": "assistant", "content": content}}]})


@pytest.fixture(scope="module")
def short_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real 3-second video (probed by the pipeline before selecting)."""
    return make_media(
        tmp_path_factory.mktemp("media") / "short.mp4",
        video=pattern("160x120", 10, 3, name="testsrc2"),
        audio="anullsrc=r=22050:cl=mono",
        args=["-t", "3"],
    )


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
    settings = Settings(llm_base_url=server.url, llm_api_key="sk-test", llm_model="m")
    messages: list[str] = []

    def progress(event: ProgressEvent) -> None:
        messages.append(event.message)
        if event.step == "cut":  # the choice is made: no need to encode anything
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
    assert len(server.requests) == 1
    assert server.requests[0].headers["authorization"] == "Bearer sk-test"
    assert server.requests[0].json()["model"] == "m"
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
