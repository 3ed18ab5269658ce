"""Tests for the LLM expression selector against a real HTTP server on 127.0.0.1.

The fake chat API is ``support.fake_http.FakeServer``, a ``ThreadingHTTPServer`` on
port 0 that plays a script of replies (status, body, headers, delay) and records
each request, so retries and headers are checked as they went over the wire.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.fake_http import FakeServer, Reply

import langflix.core.llm_selector as llm_module
from langflix.cancel import CancelToken
from langflix.core.expressions import Expression
from langflix.core.http import HttpOptions, exponential_backoff
from langflix.core.llm_cache import LLMCache
from langflix.core.llm_selector import LLMExpressionSelector
from langflix.core.subtitles import Cue
from langflix.errors import CancelledError, ConfigError, ExpressionError, TranslationError

API_KEY = "sk-test-secret-123"


class FakeChatAPI(FakeServer):
    """Scripted OpenAI-compatible server; unscripted requests get HTTP 599."""

    def chat(self, content: str, status: int = 200, **kwargs: Any) -> None:
        """Script an OpenAI-style completion whose message content is ``content``."""
        body = {"id": "x", "choices": [{"index": 0, "message": {"role": "assistant", "content": content}}]}
        self.replies.append(Reply(status, json.dumps(body).encode(), **kwargs))

    def picks(self, *items: dict[str, Any]) -> None:
        self.chat(json.dumps({"expressions": list(items)}))


@pytest.fixture
def api() -> Iterator[FakeChatAPI]:
    with FakeChatAPI(name="fake-chat") as server:
        yield server
    assert not server.thread.is_alive()


@pytest.fixture
def delays() -> list[float]:
    return []


@pytest.fixture
def selector(api: FakeChatAPI, delays: list[float]) -> LLMExpressionSelector:
    http = HttpOptions(timeout=2.0, retries=2, backoff=exponential_backoff(0.01), sleep=delays.append)
    return LLMExpressionSelector(api.url, API_KEY, "test-model", http=http)


CUES = [
    Cue(1.0, 3.0, "Hi, nice to meet you."),
    Cue(20.0, 22.0, "Well, that broke the ice."),
    Cue(40.0, 42.5, "I finally figured it out!"),
    Cue(60.0, 62.0, "You're pulling my leg."),
]


def test_exports_are_sorted_and_real() -> None:
    assert list(llm_module.__all__) == sorted(llm_module.__all__)
    for name in llm_module.__all__:
        assert hasattr(llm_module, name)


def test_good_reply_becomes_expressions(api: FakeChatAPI, selector: LLMExpressionSelector) -> None:
    api.picks(
        {"phrase": "figured it out", "cue_index": 2, "meaning": "solved it", "translation": "알아냈다"},
        {"phrase": "broke the ice", "cue_index": 1, "meaning": "", "translation": None},
    )
    result = selector.select(CUES, 5, language_level="advanced", media_duration=100.0)

    assert [e.phrase for e in result] == ["broke the ice", "figured it out"]  # time order
    ice, figured = result
    assert isinstance(ice, Expression)
    assert ice.cue is CUES[1]
    assert (ice.context_start, ice.context_end) == (15.0, 27.0)
    assert ice.kind == "idiom"  # looked up in the curated list
    assert ice.meaning and "relaxed" in ice.meaning  # blank LLM meaning -> list's meaning
    assert ice.translation is None
    assert figured.meaning == "solved it" and figured.translation == "알아냈다"
    assert figured.kind == "phrasal_verb"

    (request,) = api.requests
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    body = request.json()
    assert body["model"] == "test-model"
    assert body["response_format"] == {"type": "json_object"}
    prompt = "\n".join(message["content"] for message in body["messages"])
    assert "[1] Well, that broke the ice." in prompt
    assert "advanced" in prompt and "JSON" in prompt


def test_context_seconds_per_call(api: FakeChatAPI, selector: LLMExpressionSelector) -> None:
    api.picks({"phrase": "broke the ice", "cue_index": 1})
    (ice,) = selector.select(CUES, 1, context_seconds=4.0, media_duration=21.0)
    assert (ice.context_start, ice.context_end) == (18.0, 21.0)


def test_bare_list_in_code_fences_is_accepted(api: FakeChatAPI, selector: LLMExpressionSelector) -> None:
    api.chat('```json\n[{"phrase": "pulling my leg", "cue_index": 3}]\n```')
    (only,) = selector.select(CUES, 3, language_level="intermediate")
    assert only.cue is CUES[3] and only.kind == "idiom"


def test_phrases_not_in_the_cue_are_rejected(api: FakeChatAPI, selector: LLMExpressionSelector) -> None:
    api.picks(
        {"phrase": "piece of cake", "cue_index": 1},  # invented
        {"phrase": "broke the ice", "cue_index": 2},  # wrong cue
        {"phrase": "break the ice", "cue_index": 1},  # dictionary form of what was said
        {"phrase": "broke the ice", "cue_index": 99},  # no such cue
    )
    result = selector.select(CUES, 5)
    assert [(e.phrase, e.cue) for e in result] == [("break the ice", CUES[1])]


def test_all_rejected_is_an_actionable_error(api: FakeChatAPI, selector: LLMExpressionSelector) -> None:
    api.picks({"phrase": "piece of cake", "cue_index": 1})
    with pytest.raises(ExpressionError, match=r"none is actually in the cue.*'piece of cake' is not in cue 1"):
        selector.select(CUES, 5)


def test_max_expressions_and_duplicates(api: FakeChatAPI, selector: LLMExpressionSelector) -> None:
    api.picks(
        {"phrase": "pulling my leg", "cue_index": 3},
        {"phrase": "Pulling my leg", "cue_index": 3},
        {"phrase": "broke the ice", "cue_index": 1},
        {"phrase": "figured it out", "cue_index": 2},
    )
    result = selector.select(CUES, 2)
    assert [e.phrase for e in result] == ["broke the ice", "pulling my leg"]


def test_cues_past_the_video_are_neither_sent_nor_accepted(
    api: FakeChatAPI, selector: LLMExpressionSelector
) -> None:
    api.picks({"phrase": "pulling my leg", "cue_index": 3}, {"phrase": "broke the ice", "cue_index": 1})
    result = selector.select(CUES, 5, media_duration=50.0)
    assert [e.cue for e in result] == [CUES[1]]
    assert "pulling my leg" not in api.requests[0].body.decode()


@pytest.mark.parametrize(
    "content",
    [
        "Sure! Here are some idioms: break the ice",
        json.dumps({"expressions": [{"phrase": "broke the ice"}]}),  # no cue_index
        json.dumps({"expressions": [{"phrase": "broke the ice", "cue_index": -1}]}),
        json.dumps({"items": []}),
        "",
    ],
)
def test_malformed_reply_is_an_expression_error(
    api: FakeChatAPI, selector: LLMExpressionSelector, content: str
) -> None:
    api.chat(content)
    with pytest.raises(ExpressionError, match=r"did not answer with a JSON list.*LANGFLIX_LLM_MODEL"):
        selector.select(CUES, 5)
    assert len(api.requests) == 1  # not retried: it is not a transient failure


def test_body_that_is_not_a_chat_completion(api: FakeChatAPI, selector: LLMExpressionSelector) -> None:
    api.replies.append(Reply(200, b"<html>proxy login</html>"))
    with pytest.raises(ExpressionError, match="not an OpenAI-style chat completion"):
        selector.select(CUES, 5)


@pytest.mark.parametrize("status", [500, 503, 429])
def test_transient_error_then_ok_is_retried(
    api: FakeChatAPI, selector: LLMExpressionSelector, delays: list[float], status: int
) -> None:
    api.replies.append(Reply(status, b"busy"))
    api.picks({"phrase": "broke the ice", "cue_index": 1})
    result = selector.select(CUES, 5)
    assert [e.phrase for e in result] == ["broke the ice"]
    assert len(api.requests) == 2
    assert delays == [0.01]


def test_retry_after_is_honoured(api: FakeChatAPI, selector: LLMExpressionSelector, delays: list[float]) -> None:
    api.replies.append(Reply(429, b"slow down", {"Retry-After": "3"}))
    api.replies.append(Reply(502, b"bad gateway"))
    api.picks({"phrase": "broke the ice", "cue_index": 1})
    selector.select(CUES, 5)
    assert delays == [3.0, 0.02]  # Retry-After, then exponential backoff


def test_persistent_5xx_gives_up_with_the_status(
    api: FakeChatAPI, selector: LLMExpressionSelector, delays: list[float]
) -> None:
    for _ in range(3):
        api.replies.append(Reply(500, b"internal error: model overloaded"))
    with pytest.raises(ExpressionError, match=r"HTTP 500 after 3 attempt\(s\): internal error: model overloaded"):
        selector.select(CUES, 5)
    assert len(api.requests) == 3
    assert delays == [0.01, 0.02]


def test_bad_key_is_not_retried_and_not_leaked(api: FakeChatAPI, selector: LLMExpressionSelector) -> None:
    api.replies.append(Reply(401, b'{"error": "invalid key"}'))
    with pytest.raises(ExpressionError, match="LANGFLIX_LLM_API_KEY") as info:
        selector.select(CUES, 5)
    assert API_KEY not in str(info.value)
    assert API_KEY not in repr(selector)
    assert len(api.requests) == 1


def test_other_client_error_names_the_model(api: FakeChatAPI, selector: LLMExpressionSelector) -> None:
    api.replies.append(Reply(404, b'{"error": "model not found"}'))
    with pytest.raises(ExpressionError, match=r"HTTP 404.*model not found.*'test-model'"):
        selector.select(CUES, 5)
    assert len(api.requests) == 1


def test_slow_server_times_out(api: FakeChatAPI, delays: list[float]) -> None:
    http = HttpOptions(timeout=0.2, retries=1, backoff=lambda n: 0.0, sleep=delays.append)
    selector = LLMExpressionSelector(api.url, API_KEY, "m", http=http)
    api.replies.extend([Reply(200, b"{}", delay=10.0), Reply(200, b"{}", delay=10.0)])
    started = time.monotonic()
    with pytest.raises(ExpressionError, match=r"timed out after 0.2 s \(2 attempts\).*LANGFLIX_LLM_TIMEOUT"):
        selector.select(CUES, 5)
    assert time.monotonic() - started < 3.0
    assert len(api.requests) == 2


def test_slow_first_reply_then_ok(api: FakeChatAPI, delays: list[float]) -> None:
    http = HttpOptions(timeout=0.2, retries=1, backoff=lambda n: 0.0, sleep=delays.append)
    selector = LLMExpressionSelector(api.url, API_KEY, "m", http=http)
    api.replies.append(Reply(200, b"{}", delay=10.0))
    api.picks({"phrase": "broke the ice", "cue_index": 1})
    assert [e.phrase for e in selector.select(CUES, 5)] == ["broke the ice"]


def test_unreachable_server(delays: list[float]) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    http = HttpOptions(timeout=1.0, retries=1, sleep=delays.append)
    selector = LLMExpressionSelector(f"http://127.0.0.1:{port}", API_KEY, "m", http=http)
    with pytest.raises(ExpressionError, match="cannot reach the LLM.*LANGFLIX_LLM_BASE_URL"):
        selector.select(CUES, 5)
    assert len(delays) == 1


@pytest.mark.parametrize("suffix", ["", "/", "/v1", "/v1/"])
def test_base_url_forms(suffix: str) -> None:
    selector = LLMExpressionSelector("https://llm.example" + suffix, API_KEY, "m")
    assert selector.url == "https://llm.example/v1/chat/completions"


def test_transport_is_used() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        content = json.dumps([{"phrase": "broke the ice", "cue_index": 1}])
        return httpx.Response(200, json={"choices": [{"message": {"content": content}}]})

    selector = LLMExpressionSelector(
        "https://llm.example", API_KEY, "m", http=HttpOptions(transport=httpx.MockTransport(handler))
    )
    assert [e.cue for e in selector.select(CUES, 1)] == [CUES[1]]


def test_missing_url_or_key_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="LANGFLIX_LLM_BASE_URL"):
        LLMExpressionSelector("", API_KEY, "m")
    with pytest.raises(ConfigError, match="LANGFLIX_LLM_API_KEY"):
        LLMExpressionSelector("http://127.0.0.1:1", "", "m")


def test_cancel_ends_the_retry_backoff(api: FakeChatAPI) -> None:
    token = CancelToken()
    api.replies.append(Reply(503, b"busy"))
    # The "wait" cancels the job: the selector must stop there, not send again.
    http = HttpOptions(retries=2, backoff=lambda n: 30.0, cancel=token, sleep=lambda s: token.cancel("stop"))
    with pytest.raises(CancelledError, match="stop"):
        LLMExpressionSelector(api.url, API_KEY, "m", http=http).select(CUES, 1)
    assert len(api.requests) == 1


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [({"max_expressions": 0}, "at least 1"), ({"language_level": "native"}, "unknown language level")],
)
def test_bad_arguments(selector: LLMExpressionSelector, api: FakeChatAPI, kwargs, pattern) -> None:
    args = {"max_expressions": 5, **kwargs}
    with pytest.raises(ExpressionError, match=pattern):
        selector.select(CUES, args.pop("max_expressions"), **args)
    assert api.requests == []


# -- translating, and remembering what was answered ---------------------------------


def _cached(api: FakeChatAPI, tmp_path: Path, **kwargs: Any) -> LLMExpressionSelector:
    http = HttpOptions(timeout=2.0, retries=0)
    return LLMExpressionSelector(api.url, API_KEY, "test-model", http=http, cache=LLMCache(tmp_path / "c.db"), **kwargs)


def test_translate_sends_numbered_lines_and_keys_the_answer_by_line(
    api: FakeChatAPI, selector: LLMExpressionSelector
) -> None:
    api.chat(json.dumps({"translations": [{"index": 1, "text": "알아냈어!"}, {"index": 0, "text": "잘 깼다."}]}))
    found = selector.translate(["Well, that broke\n the ice.", "I finally figured it out!"], "ko")
    assert found == {"Well, that broke the ice.": "잘 깼다.", "I finally figured it out!": "알아냈어!"}
    (request,) = api.requests
    system, user = request.json()["messages"]
    assert "into Korean" in system["content"] and "JSON" in system["content"]
    assert user["content"] == "[0] Well, that broke the ice.\n[1] I finally figured it out!"


def test_a_line_the_model_skipped_is_missing_not_invented(api: FakeChatAPI, selector: LLMExpressionSelector) -> None:
    api.chat(json.dumps({"translations": [{"index": 0, "text": "하나"}, {"index": 7, "text": "없는 줄"}]}))
    assert selector.translate(["one", "two"], "ko") == {"one": "하나"}


@pytest.mark.parametrize("content", ["not json", '{"translations": [{"index": -1, "text": "x"}]}', "[]x"])
def test_a_reply_that_is_not_translations_is_a_translation_error(
    api: FakeChatAPI, selector: LLMExpressionSelector, content: str
) -> None:
    api.chat(content)
    with pytest.raises(TranslationError, match="JSON list of .index, text. translations.*--translation-subtitles"):
        selector.translate(["one"], "ko")


def test_a_failing_server_is_a_translation_error_naming_the_fallback(
    api: FakeChatAPI, selector: LLMExpressionSelector
) -> None:
    api.default = Reply(503, b"busy")
    with pytest.raises(TranslationError, match="HTTP 503.*--translation-subtitles"):
        selector.translate(["one"], "ko")


def test_a_second_translation_asks_nothing(api: FakeChatAPI, tmp_path: Path) -> None:
    api.chat(json.dumps({"translations": [{"index": 0, "text": "하나"}, {"index": 1, "text": "둘"}]}))
    assert _cached(api, tmp_path).translate(["one", "two"], "ko") == {"one": "하나", "two": "둘"}
    # A new selector (a new job, a new process): the file remembers.
    assert _cached(api, tmp_path).translate(["two", "one"], "ko") == {"two": "둘", "one": "하나"}
    assert len(api.requests) == 1
    # Only the line not known yet is sent.
    api.chat(json.dumps({"translations": [{"index": 0, "text": "셋"}]}))
    assert _cached(api, tmp_path).translate(["one", "three"], "ko") == {"one": "하나", "three": "셋"}
    assert api.requests[1].json()["messages"][1]["content"] == "[0] three"


def test_a_second_selection_asks_nothing_and_its_picks_translations_are_kept(
    api: FakeChatAPI, tmp_path: Path
) -> None:
    api.picks({"phrase": "figured it out", "cue_index": 2, "meaning": "solved it", "translation": "알아냈다"})
    first = _cached(api, tmp_path, translation_language="ko").select(CUES, 1)
    again = _cached(api, tmp_path, translation_language="ko").select(CUES, 1)
    assert [(e.phrase, e.translation) for e in again] == [(e.phrase, e.translation) for e in first]
    assert len(api.requests) == 1
    # The pick's translation is the line's: translating that line asks nothing either.
    assert _cached(api, tmp_path).translate([CUES[2].text], "ko") == {CUES[2].text: "알아냈다"}
    assert len(api.requests) == 1
    # Other cues (or another level) are another question.
    api.picks({"phrase": "broke the ice", "cue_index": 1})
    _cached(api, tmp_path).select(CUES, 1, language_level="beginner")
    assert len(api.requests) == 2


def test_a_reply_that_chose_nothing_is_not_remembered(api: FakeChatAPI, tmp_path: Path) -> None:
    api.picks({"phrase": "piece of cake", "cue_index": 1})  # not in that cue: rejected
    with pytest.raises(ExpressionError):
        _cached(api, tmp_path).select(CUES, 1)
    api.picks({"phrase": "broke the ice", "cue_index": 1})
    assert [e.phrase for e in _cached(api, tmp_path).select(CUES, 1)] == ["broke the ice"]
    assert len(api.requests) == 2
