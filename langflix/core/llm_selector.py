"""Optional expression selector and translator backed by an OpenAI-compatible chat API.

The model sees the numbered cues and answers with JSON; the reply is validated with
pydantic and every phrase is checked against the text of the cue it cites, because a
model will sometimes "find" a phrase the speaker never said. With a
``translation_language`` each pick also carries its line's translation, and
:meth:`LLMExpressionSelector.translate` translates the other lines a lesson shows.
Transient failures (timeouts, HTTP 429 and 5xx) are retried with a short backoff;
everything else becomes an :class:`~langflix.errors.ExpressionError` (choosing) or a
:class:`~langflix.errors.TranslationError` (translating) that names the setting to fix.
With an :class:`~langflix.core.llm_cache.LLMCache`, a question already answered
(the same request, or a line already translated into the language) is never sent again.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Final

import httpx
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from langflix.core.expressions import (
    LANGUAGE_LEVELS,
    Expression,
    context_window,
    find_known_expressions,
    phrase_in_text,
    usable_cues,
)
from langflix.core.http import HttpOptions
from langflix.core.llm_cache import LLMCache, cache_key, line_key
from langflix.core.subtitles import Cue
from langflix.errors import ConfigError, ExpressionError, TranslationError

__all__ = ["DEFAULT_LLM_HTTP", "LANGUAGE_NAMES", "LLMExpressionSelector", "LLMPick", "TRANSLATION_BATCH"]

log = logging.getLogger(__name__)

_MAX_RETRY_AFTER: Final[float] = 30.0
DEFAULT_LLM_HTTP: Final[HttpOptions] = HttpOptions(timeout=60.0)
"""A chat completion may take a while: a longer timeout than the TTS calls'."""
_BODY_TAIL: Final[int] = 300

_SYSTEM_PROMPT: Final[str] = (
    "You help {level} learners of English. From the numbered subtitle cues, choose up to "
    "{count} idioms, phrasal verbs or collocations worth teaching. Copy each phrase exactly "
    "as it is written in its cue. Answer with JSON only, in this shape: "
    '{{"expressions": [{{"phrase": "...", "cue_index": 0, "meaning": "short meaning in '
    'simple English", "translation": {translation}}}]}}'
)


class LLMPick(BaseModel):
    """One expression as the model must return it."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    phrase: str = Field(min_length=1)
    cue_index: int = Field(ge=0)
    meaning: str | None = None
    translation: str | None = None

    @field_validator("meaning", "translation")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value or None


class _Message(BaseModel):
    content: str


class _Choice(BaseModel):
    message: _Message


class _ChatReply(BaseModel):
    choices: list[_Choice] = Field(min_length=1)


_PICKS: Final = TypeAdapter(list[LLMPick])

_TRANSLATE_PROMPT: Final[str] = (
    "Translate each numbered line of an English TV episode's subtitles into {language}, the way a "
    "subtitler would: the meaning and the tone, idioms by what they mean. Answer with JSON only, in "
    'this shape: {{"translations": [{{"index": 0, "text": "..."}}]}}'
)
TRANSLATION_BATCH: Final[int] = 40
"""Lines per translation request: a short answer the model keeps in order."""
LANGUAGE_NAMES: Final[dict[str, str]] = {
    "ko": "Korean", "ja": "Japanese", "zh": "Chinese", "es": "Spanish", "fr": "French",
    "de": "German", "pt": "Portuguese", "vi": "Vietnamese", "th": "Thai", "id": "Indonesian",
}  # fmt: skip
"""How the prompt names a language code (other codes are named as they are)."""


class _Line(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    index: int = Field(ge=0)
    text: str = Field(min_length=1)


_LINES: Final = TypeAdapter(list[_Line])
_CHOOSING: Final[str] = "or use the offline selector"
_TRANSLATING: Final[str] = "or translate with --translation-subtitles"


def _tail(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _BODY_TAIL else "..." + text[-_BODY_TAIL:]


def _strip_fences(content: str) -> str:
    """Models often wrap JSON in ```json fences despite being asked not to."""
    text = content.strip()
    if text.startswith("```"):
        text = text.split("\n", 1)[1] if "\n" in text else ""
        if text.rstrip().endswith("```"):
            text = text.rstrip()[:-3]
    return text.strip()


class LLMExpressionSelector:
    """Select expressions by asking a chat model, then keep only what the cues really say."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        model: str,
        *,
        http: HttpOptions = DEFAULT_LLM_HTTP,
        context_seconds: float = 10.0,
        translation_language: str | None = None,
        cache: LLMCache | None = None,
    ) -> None:
        if not base_url:
            raise ConfigError("the LLM selector needs a base URL; set LANGFLIX_LLM_BASE_URL")
        if not api_key:
            raise ConfigError("the LLM selector needs an API key; set LANGFLIX_LLM_API_KEY")
        root = base_url.rstrip("/")
        # Accept both "https://host" and "https://host/v1" as the base URL.
        self.url: Final[str] = (
            root + "/chat/completions" if root.endswith("/v1") else root + "/v1/chat/completions"
        )
        self.model = model
        self.http = http
        self.context_seconds = context_seconds
        self.translation_language = translation_language
        self.cache = cache
        self._api_key = api_key

    def __repr__(self) -> str:  # never show the key
        return f"LLMExpressionSelector(url={self.url!r}, model={self.model!r})"

    # ----------------------------------------------------------------- public

    def select(
        self,
        cues: Sequence[Cue],
        max_expressions: int = 5,
        *,
        language_level: str = "intermediate",
        media_duration: float | None = None,
        context_seconds: float | None = None,
    ) -> list[Expression]:
        """Ask the model for up to ``max_expressions`` expressions, in time order.

        ``context_seconds`` (default: the constructor's) sizes the scene around each cue,
        as in :func:`~langflix.core.expressions.select_expressions`.
        """
        if max_expressions < 1:
            raise ExpressionError(f"max_expressions must be at least 1, got {max_expressions}")
        if context_seconds is not None and not context_seconds >= 0:
            raise ExpressionError(f"context_seconds must be a number >= 0, got {context_seconds}")
        if language_level not in LANGUAGE_LEVELS:
            raise ExpressionError(
                f"unknown language level {language_level!r}; "
                f"use one of: {', '.join(LANGUAGE_LEVELS)}"
            )
        usable = set(map(id, usable_cues(cues, media_duration)))
        numbered = [(i, cue) for i, cue in enumerate(cues) if id(cue) in usable]
        if not numbered:
            raise ExpressionError("the subtitles hold no usable cue to send to the LLM")
        messages = self._messages(numbered, max_expressions, language_level)
        key = cache_key(self.model, messages)
        context = self.context_seconds if context_seconds is None else context_seconds
        cached = self.cache.reply(key) if self.cache is not None else None
        if cached is not None:
            try:
                return self._keep_valid(self._parse(cached), cues, usable, max_expressions, media_duration, context)
            except ExpressionError:
                log.info("the cached LLM reply no longer fits these cues; asking the model again")
        content = self._chat(messages, fallback=_CHOOSING)
        chosen = self._keep_valid(self._parse(content), cues, usable, max_expressions, media_duration, context)
        if self.cache is not None:
            self.cache.store_reply(key, content)  # only a reply that chose something
            if self.translation_language:
                done = {e.cue.text: e.translation for e in chosen if e.translation}
                self.cache.store_translations(self.translation_language, done, model=self.model)
        return chosen

    def translate(self, lines: Sequence[str], language: str) -> dict[str, str]:
        """``lines`` translated into ``language`` (a code such as "ko"), by line key.

        Keys are the lines with their whitespace folded (:func:`~langflix.core.llm_cache.line_key`);
        a line the model skipped is missing from the result. Lines the cache knows
        are not sent; what the model answers is cached. Raises TranslationError.
        """
        keys = list(dict.fromkeys(key for key in map(line_key, lines) if key))
        found = self.cache.translations(language, keys) if self.cache is not None else {}
        missing = [key for key in keys if key not in found]
        for start in range(0, len(missing), TRANSLATION_BATCH):
            batch = missing[start : start + TRANSLATION_BATCH]
            try:
                content = self._chat(self._translation_messages(batch, language), fallback=_TRANSLATING)
            except ExpressionError as exc:
                raise TranslationError(str(exc)) from exc
            answered = self._parse_translations(content, batch)
            if self.cache is not None:
                self.cache.store_translations(language, answered, model=self.model)
            found.update(answered)
        return {key: found[key] for key in keys if key in found}

    # ----------------------------------------------------------------- request

    def _messages(
        self, numbered: Sequence[tuple[int, Cue]], count: int, level: str
    ) -> list[dict[str, str]]:
        translation = (
            f'"the cue translated into {self.translation_language}"'
            if self.translation_language
            else "null"
        )
        system = _SYSTEM_PROMPT.format(level=level, count=count, translation=translation)
        lines = "\n".join(f"[{i}] {' '.join(cue.text.split())}" for i, cue in numbered)
        return [{"role": "system", "content": system}, {"role": "user", "content": lines}]

    def _translation_messages(self, lines: Sequence[str], language: str) -> list[dict[str, str]]:
        name = LANGUAGE_NAMES.get(language.lower(), language)
        numbered = "\n".join(f"[{i}] {line}" for i, line in enumerate(lines))
        return [
            {"role": "system", "content": _TRANSLATE_PROMPT.format(language=name)},
            {"role": "user", "content": numbered},
        ]

    def _parse_translations(self, content: str, lines: Sequence[str]) -> dict[str, str]:
        text = _strip_fences(content)
        try:
            data = json.loads(text)
            if isinstance(data, dict):
                data = data.get("translations")
            items = _LINES.validate_python(data)
        except (ValueError, ValidationError) as exc:
            raise TranslationError(
                f"the LLM (model {self.model!r}) did not answer with a JSON list of {{index, text}} "
                f"translations: {_tail(text) or '(empty)'}; try another LANGFLIX_LLM_MODEL {_TRANSLATING}"
            ) from exc
        answered = {lines[item.index]: item.text for item in items if item.index < len(lines)}
        if len(answered) < len(lines):
            log.warning("the LLM translated %d of %d lines; the others show in English only", len(answered), len(lines))
        return answered

    def _chat(self, messages: list[dict[str, str]], *, fallback: str) -> str:
        body = {
            "model": self.model,
            "messages": messages,
            "temperature": 0,
            "response_format": {"type": "json_object"},
        }
        headers = {"Authorization": f"Bearer {self._api_key}"}
        # A completion has no side effect, so any transport failure, a read
        # timeout included, is worth another try.
        policy = self.http.policy(
            f"LLM at {self.url}", retry_on=(httpx.TransportError,), max_retry_after=_MAX_RETRY_AFTER
        )
        with self.http.open() as client:
            try:
                response, attempt = policy.send(
                    lambda: client.post(self.url, json=body, headers=headers, timeout=self.http.timeout)
                )
            except httpx.TimeoutException as exc:
                raise ExpressionError(
                    f"the LLM at {self.url} timed out after {self.http.timeout:g} s "
                    f"({self.http.retries + 1} attempts); raise LANGFLIX_LLM_TIMEOUT {fallback}"
                ) from exc
            except httpx.TransportError as exc:
                raise ExpressionError(
                    f"cannot reach the LLM at {self.url} ({exc}); check "
                    "LANGFLIX_LLM_BASE_URL and the network"
                ) from exc
            return self._content(response, attempt, fallback)

    def _content(self, response: httpx.Response, attempts: int, fallback: str) -> str:
        status = response.status_code
        if status in (401, 403):
            raise ExpressionError(
                f"the LLM at {self.url} rejected the API key (HTTP {status}); "
                "check LANGFLIX_LLM_API_KEY"
            )
        if status != 200:
            raise ExpressionError(
                f"the LLM at {self.url} answered HTTP {status} after {attempts} attempt(s): "
                f"{_tail(response.text)}; check LANGFLIX_LLM_BASE_URL and LANGFLIX_LLM_MODEL "
                f"({self.model!r}) {fallback}"
            )
        try:
            reply = _ChatReply.model_validate_json(response.content)
        except ValidationError as exc:
            raise ExpressionError(
                f"the LLM at {self.url} sent a reply that is not an OpenAI-style chat "
                f"completion ({_tail(response.text)}); check LANGFLIX_LLM_BASE_URL"
            ) from exc
        return reply.choices[0].message.content

    # ----------------------------------------------------------------- reply

    def _parse(self, content: str) -> list[LLMPick]:
        text = _strip_fences(content)
        try:
            data = json.loads(text)
            if isinstance(data, dict):
                data = data.get("expressions")
            return _PICKS.validate_python(data)
        except (ValueError, ValidationError) as exc:
            raise ExpressionError(
                f"the LLM (model {self.model!r}) did not answer with a JSON list of "
                f"{{phrase, cue_index, meaning, translation}}: {_tail(text) or '(empty)'}; "
                "try another LANGFLIX_LLM_MODEL or the offline selector"
            ) from exc

    def _keep_valid(
        self,
        picks: Sequence[LLMPick],
        cues: Sequence[Cue],
        usable: set[int],
        max_expressions: int,
        media_duration: float | None,
        context_seconds: float,
    ) -> list[Expression]:
        kept: list[tuple[int, Expression]] = []
        seen: set[tuple[int, str]] = set()
        rejected: list[str] = []
        for pick in picks:
            if len(kept) >= max_expressions:
                break
            if pick.cue_index >= len(cues) or id(cues[pick.cue_index]) not in usable:
                rejected.append(
                    f"{pick.phrase!r} cites cue {pick.cue_index}, which is not a usable cue"
                )
                continue
            cue = cues[pick.cue_index]
            # A model may invent or paraphrase; only what the speaker said can be taught.
            if not phrase_in_text(pick.phrase, cue.text):
                rejected.append(f"{pick.phrase!r} is not in cue {pick.cue_index} ({cue.text!r})")
                continue
            key = (pick.cue_index, pick.phrase.lower())
            if key in seen:
                continue
            seen.add(key)
            known = find_known_expressions(pick.phrase)
            start, end = context_window(cue, context_seconds, media_duration)
            expression = Expression(
                phrase=pick.phrase,
                cue=cue,
                context_start=start,
                context_end=end,
                kind=known[0].kind if known else "expression",
                meaning=pick.meaning or (known[0].meaning if known else None),
                translation=pick.translation,
            )
            kept.append((pick.cue_index, expression))
        for reason in rejected:
            log.warning("dropped an LLM suggestion: %s", reason)
        if not kept:
            detail = f" ({rejected[0]})" if rejected else ""
            raise ExpressionError(
                f"the LLM suggested {len(picks)} expression(s) but none is actually in the "
                f"cue it cites{detail}; try again, another LANGFLIX_LLM_MODEL or the offline "
                "selector"
            )
        kept.sort(key=lambda item: (item[1].cue.start, item[0]))
        return [expression for _, expression in kept]
