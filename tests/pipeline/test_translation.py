"""Where each line's translation comes from: bilingual track, then the translation file, then the LLM."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.fake_http import FakeServer, json_reply

from langflix.core.http import HttpOptions
from langflix.core.llm_cache import LLMCache
from langflix.core.llm_selector import LLMExpressionSelector
from langflix.core.subtitles import Cue, SubtitleTrack
from langflix.pipeline.translation import TRANSLATION_SOURCES, translate_cues

ENGLISH = (
    Cue(1.0, 2.0, "Let's break the ice."),
    Cue(3.0, 4.0, "It's a piece of cake."),
    Cue(5.0, 6.0, "Hang in there."),
)
BILINGUAL = SubtitleTrack("ko", "KRCC", (Cue(1.0, 2.0, "어색함을 깨자."),))
FILE = SubtitleTrack("ko", "episode.ko.srt", (Cue(1.0, 2.0, "파일: 어색함을 깨자."), Cue(3.0, 4.0, "식은 죽 먹기야.")))


def _reply(*texts: str) -> bytes:
    items = [{"index": i, "text": text} for i, text in enumerate(texts)]
    content = json.dumps({"translations": items})
    return json.dumps({"choices": [{"message": {"role": "assistant", "content": content}}]}).encode()


@pytest.fixture
def chat() -> Iterator[FakeServer]:
    with FakeServer(name="fake-chat") as server:
        yield server


def _llm(server: FakeServer, cache: Path) -> LLMExpressionSelector:
    return LLMExpressionSelector(
        server.url, "sk-test", "m", http=HttpOptions(timeout=5, retries=0), cache=LLMCache(cache / "llm.sqlite3")
    )


def test_each_line_takes_the_first_source_that_has_it(chat: FakeServer, tmp_path: Path) -> None:
    chat.add(200, _reply("버텨."), headers={"Content-Type": "application/json"})
    selector = _llm(chat, tmp_path)
    found = translate_cues(ENGLISH, bilingual=BILINGUAL, translation_file=FILE, llm=lambda: selector)
    assert [found(cue) for cue in ENGLISH] == ["어색함을 깨자.", "식은 죽 먹기야.", "버텨."]
    assert [found.source(cue) for cue in ENGLISH] == ["bilingual_track", "translation_file", "llm"]
    assert found.language == "ko"
    assert found.counts() == {"bilingual_track": 1, "translation_file": 1, "llm": 1}
    assert tuple(found.counts()) == TRANSLATION_SOURCES
    # The LLM was asked only for the line no file had, in the files' language.
    (request,) = chat.requests
    messages = request.json()["messages"]
    assert "Korean" in messages[0]["content"] and messages[1]["content"] == "[0] Hang in there."


def test_without_any_source_the_lines_stay_english() -> None:
    found = translate_cues(ENGLISH)
    assert [found(cue) for cue in ENGLISH] == [None, None, None]
    assert (found.language, found.counts()) == (None, {})


def test_the_llm_answers_what_it_knew_from_its_picks_without_asking(chat: FakeServer, tmp_path: Path) -> None:
    chat.add(200, _reply("식은 죽 먹기.", "버텨."), headers={"Content-Type": "application/json"})
    selector = _llm(chat, tmp_path)
    known = {ENGLISH[0]: "아이스 브레이킹."}
    found = translate_cues(ENGLISH, llm=lambda: selector, llm_language="ko", llm_known=known)
    assert [found(cue) for cue in ENGLISH] == ["아이스 브레이킹.", "식은 죽 먹기.", "버텨."]
    assert chat.requests[0].json()["messages"][1]["content"] == "[0] It's a piece of cake.\n[1] Hang in there."


def test_a_failing_llm_costs_its_lines_and_says_so(chat: FakeServer, tmp_path: Path) -> None:
    chat.default = json_reply(500, {"error": "down"})
    warnings: list[str] = []
    found = translate_cues(ENGLISH, translation_file=FILE, llm=lambda: _llm(chat, tmp_path), warn=warnings.append)
    assert [found(cue) for cue in ENGLISH] == ["파일: 어색함을 깨자.", "식은 죽 먹기야.", None]
    assert len(warnings) == 1 and "1 line(s) show in English only" in warnings[0] and "HTTP 500" in warnings[0]


def test_a_rerun_asks_the_llm_nothing(chat: FakeServer, tmp_path: Path) -> None:
    chat.add(200, _reply("a", "b", "c"), headers={"Content-Type": "application/json"})
    first = translate_cues(ENGLISH, llm=lambda: _llm(chat, tmp_path))
    second = translate_cues(ENGLISH, llm=lambda: _llm(chat, tmp_path))  # a new selector: only the file remembers
    assert [second(cue) for cue in ENGLISH] == [first(cue) for cue in ENGLISH] == ["a", "b", "c"]
    assert len(chat.requests) == 1
    # Another language is another question.
    chat.add(200, _reply("x", "y", "z"), headers={"Content-Type": "application/json"})
    japanese = translate_cues(ENGLISH, llm=lambda: _llm(chat, tmp_path), llm_language="ja")
    assert (japanese(ENGLISH[0]), japanese.language) == ("x", "ja")
    assert "Japanese" in chat.requests[1].json()["messages"][0]["content"]
