"""Choose the expressions worth teaching from an episode's cues, offline.

The curated list ``langflix/data/expressions.json`` holds common English idioms,
phrasal verbs and collocations with a short meaning and a level. A cue is matched
against it in its inflected forms ("broke the ice", "figured it out", "made up her
mind"), case- and punctuation-insensitively; cues are ranked by what they contain
and the best few, spread over the episode, become :class:`Expression` objects.
No network, no randomness: the same cues always give the same picks.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Final

from langflix.core.subtitles import Cue
from langflix.errors import ExpressionError

__all__ = [
    "EXPRESSION_KINDS",
    "Expression",
    "KnownExpression",
    "LANGUAGE_LEVELS",
    "MAX_SIMILAR",
    "context_window",
    "expression_spans",
    "find_known_expressions",
    "known_expressions",
    "parse_expression_list",
    "phrase_in_text",
    "select_expressions",
    "usable_cues",
]

log = logging.getLogger(__name__)

LANGUAGE_LEVELS: Final[tuple[str, ...]] = ("beginner", "intermediate", "advanced")
EXPRESSION_KINDS: Final[tuple[str, ...]] = ("collocation", "idiom", "phrasal_verb")

# Idioms teach the most per second of video; collocations the least.
_KIND_WEIGHTS: Final[dict[str, float]] = {"idiom": 3.0, "phrasal_verb": 2.0, "collocation": 1.5}
# How well an entry's level suits the learner, indexed by (entry - learner) level steps.
# One step above the learner is the sweet spot after an exact fit; two steps above is
# excluded outright (see _too_hard) because it would be noise to a beginner.
_LEVEL_FIT: Final[dict[int, float]] = {0: 1.0, 1: 0.8, -1: 0.6, -2: 0.3}
# Each further expression in the same cue makes that line a little richer.
_EXTRA_MATCH_BONUS: Final[float] = 0.25
# A separable phrasal verb's object ("figure [the whole thing] out") is at most this long.
_MAX_OBJECT_WORDS: Final[int] = 3

MAX_SIMILAR: Final[int] = 2
"""Similar expressions a card has room for (and an entry may list)."""

_DATA_PACKAGE: Final[str] = "langflix"
_DATA_NAME: Final[str] = "data/expressions.json"


@dataclass(frozen=True)
class Expression:
    """One expression to teach: the phrase, the cue that says it, and the scene around it."""

    phrase: str
    cue: Cue
    context_start: float
    context_end: float
    kind: str
    meaning: str | None = None
    translation: str | None = None
    level: str | None = None
    similar: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class KnownExpression:
    """One entry of the curated list, in its dictionary form.

    ``similar`` names up to :data:`MAX_SIMILAR` well-known expressions that mean
    nearly the same (shown on the card); empty for most entries.
    """

    phrase: str
    kind: str
    level: str
    meaning: str
    separable: bool = False
    similar: tuple[str, ...] = ()


# --------------------------------------------------------------------------- words

_TOKEN_RE: Final = re.compile(r"[a-z0-9]+(?:'[a-z0-9]+)*")
# Curly quotes from subtitle editors would otherwise split "don’t" into two words.
_APOSTROPHES: Final = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'"})


def _tokens(text: str) -> list[str]:
    """Lower-case words of ``text``; punctuation, line breaks and hyphens separate them."""
    return _TOKEN_RE.findall(text.lower().translate(_APOSTROPHES))


# base -> irregular past and past-participle forms (-s and -ing stay regular).
_IRREGULAR: Final[dict[str, tuple[str, ...]]] = {
    "be": ("am", "is", "are", "was", "were", "been"),
    "bear": ("bore", "borne", "born"),
    "beat": ("beat", "beaten"),
    "become": ("became", "become"),
    "begin": ("began", "begun"),
    "bend": ("bent",),
    "bite": ("bit", "bitten"),
    "blow": ("blew", "blown"),
    "break": ("broke", "broken"),
    "bring": ("brought",),
    "build": ("built",),
    "burn": ("burnt", "burned"),
    "buy": ("bought",),
    "catch": ("caught",),
    "choose": ("chose", "chosen"),
    "come": ("came", "come"),
    "cost": ("cost",),
    "cut": ("cut",),
    "deal": ("dealt",),
    "dig": ("dug",),
    "do": ("did", "done", "does"),
    "draw": ("drew", "drawn"),
    "drink": ("drank", "drunk"),
    "drive": ("drove", "driven"),
    "eat": ("ate", "eaten"),
    "fall": ("fell", "fallen"),
    "feel": ("felt",),
    "fight": ("fought",),
    "find": ("found",),
    "fly": ("flew", "flown"),
    "forget": ("forgot", "forgotten"),
    "get": ("got", "gotten"),
    "give": ("gave", "given"),
    "go": ("went", "gone"),
    "grow": ("grew", "grown"),
    "hang": ("hung", "hanged"),
    "have": ("has", "had"),
    "hear": ("heard",),
    "hide": ("hid", "hidden"),
    "hit": ("hit",),
    "hold": ("held",),
    "keep": ("kept",),
    "know": ("knew", "known"),
    "lay": ("laid",),
    "lead": ("led",),
    "learn": ("learnt", "learned"),
    "leave": ("left",),
    "let": ("let",),
    "lose": ("lost",),
    "make": ("made",),
    "mean": ("meant",),
    "meet": ("met",),
    "pay": ("paid",),
    "put": ("put",),
    "read": ("read",),
    "ride": ("rode", "ridden"),
    "ring": ("rang", "rung"),
    "rise": ("rose", "risen"),
    "run": ("ran", "run"),
    "say": ("said", "says"),
    "see": ("saw", "seen"),
    "sell": ("sold",),
    "send": ("sent",),
    "set": ("set",),
    "shake": ("shook", "shaken"),
    "shoot": ("shot",),
    "show": ("showed", "shown"),
    "shut": ("shut",),
    "sing": ("sang", "sung"),
    "sit": ("sat",),
    "sleep": ("slept",),
    "speak": ("spoke", "spoken"),
    "spend": ("spent",),
    "spill": ("spilt", "spilled"),
    "stand": ("stood",),
    "steal": ("stole", "stolen"),
    "stick": ("stuck",),
    "swim": ("swam", "swum"),
    "take": ("took", "taken"),
    "teach": ("taught",),
    "tear": ("tore", "torn"),
    "tell": ("told",),
    "think": ("thought",),
    "throw": ("threw", "thrown"),
    "understand": ("understood",),
    "wake": ("woke", "woken"),
    "wear": ("wore", "worn"),
    "win": ("won",),
    "write": ("wrote", "written"),
}
_VOWELS: Final = frozenset("aeiou")
# Words that start phrases but are never verbs: inflecting them would only add noise.
_NOT_VERBS: Final[frozenset[str]] = frozenset(
    "a an the in on at by of for from to with under over out up down off once all every "
    "no not so too as it it's you you're my your his her its our their when".split()
)


def _doubles_final_consonant(word: str) -> bool:
    """stop -> stopped: consonant-vowel-consonant ending (not w/x/y)."""
    return (
        len(word) >= 3
        and word[-1] not in _VOWELS
        and word[-1] not in "wxy"
        and word[-2] in _VOWELS
        and word[-3] not in _VOWELS
    )


def _vowel_groups(word: str) -> int:
    return len(re.findall(r"[aeiouy]+", word))


def _verb_forms(base: str) -> frozenset[str]:
    """Every form a speaker might use: -s/-es/-ies, -ed/-ied, -ing, doubling, irregulars."""
    if base in _NOT_VERBS or not base.isalpha():
        return frozenset({base})
    forms = {base}
    # third person singular
    if base.endswith(("s", "x", "z", "ch", "sh", "o")):
        forms.add(base + "es")
    elif len(base) > 1 and base.endswith("y") and base[-2] not in _VOWELS:
        forms.add(base[:-1] + "ies")
    else:
        forms.add(base + "s")
    # -ing
    if base.endswith("ie"):
        forms.add(base[:-2] + "ying")
    elif base.endswith("e") and not base.endswith(("ee", "ye", "oe")) and len(base) > 2:
        forms.add(base[:-1] + "ing")
    else:
        forms.add(base + "ing")
    # -ed, only for regular verbs ("breaked" is never said)
    past: set[str] = set()
    if base.endswith("e"):
        past.add(base + "d")
    elif len(base) > 1 and base.endswith("y") and base[-2] not in _VOWELS:
        past.add(base[:-1] + "ied")
    else:
        past.add(base + "ed")
    if _doubles_final_consonant(base):
        doubled = base + base[-1]
        # One syllable always doubles (stop -> stopped); longer words depend on stress
        # (admit -> admitted, visit -> visited), so accept both spellings there.
        if _vowel_groups(base) == 1:
            past = {doubled + "ed"}
            forms.discard(base + "ing")
        else:
            past.add(doubled + "ed")
        forms.add(doubled + "ing")
    if base in _IRREGULAR:
        forms.update(_IRREGULAR[base])
        if base == "be":
            forms.discard("bes")
            forms.add("being")
    else:
        forms.update(past)
    return frozenset(forms)


# --------------------------------------------------------------------------- patterns

_POSSESSIVES: Final[frozenset[str]] = frozenset(
    "my your his her its our their one's".split()
)
_REFLEXIVES: Final[frozenset[str]] = frozenset(
    "myself yourself himself herself itself ourselves yourselves themselves oneself".split()
)
_OBJECT_SLOTS: Final[frozenset[str]] = frozenset({"someone", "somebody", "something"})
_POSSESSIVE_SLOTS: Final[frozenset[str]] = frozenset({"one's", "someone's", "somebody's"})


@dataclass(frozen=True, slots=True)
class _Gap:
    """An object slot: between ``low`` and ``high`` arbitrary words."""

    low: int
    high: int


@dataclass(frozen=True, slots=True)
class _Words:
    """One word, any of ``forms``; ``possessive`` also accepts any "<name>'s"."""

    forms: frozenset[str]
    possessive: bool = False

    def accepts(self, token: str) -> bool:
        return token in self.forms or (self.possessive and token.endswith("'s"))


_Element = _Gap | _Words


def _compile(phrase: str, *, separable: bool) -> tuple[tuple[_Element, ...], ...]:
    """The token patterns of a dictionary phrase (two when the object may split it)."""
    words = _tokens(phrase)
    if not words:
        raise ValueError(f"phrase {phrase!r} has no words")
    if words[0] in _OBJECT_SLOTS or words[0] in _POSSESSIVE_SLOTS or words[0] == "oneself":
        raise ValueError(f"phrase {phrase!r} must start with a real word, not a placeholder")
    elements: list[_Element] = [_Words(_verb_forms(words[0]))]
    for word in words[1:]:
        if word in _OBJECT_SLOTS:
            elements.append(_Gap(1, _MAX_OBJECT_WORDS))
        elif word in _POSSESSIVE_SLOTS:
            elements.append(_Words(_POSSESSIVES, possessive=True))
        elif word == "oneself":
            elements.append(_Words(_REFLEXIVES))
        else:
            elements.append(_Words(frozenset({word})))
    patterns = [tuple(elements)]
    if separable and len(elements) >= 2:
        # "figure out the answer" and "figure it out" are the same phrasal verb.
        patterns.append((elements[0], _Gap(1, _MAX_OBJECT_WORDS), *elements[1:]))
    return tuple(patterns)


def _match_at(pattern: Sequence[_Element], tokens: Sequence[str], start: int) -> int | None:
    """End index (exclusive) of the shortest match of ``pattern`` at ``start``, or None."""
    if not pattern:
        return start
    head, rest = pattern[0], pattern[1:]
    if isinstance(head, _Gap):
        for width in range(head.low, head.high + 1):
            if start + width > len(tokens):
                break
            end = _match_at(rest, tokens, start + width)
            if end is not None:
                return end
        return None
    if start < len(tokens) and head.accepts(tokens[start]):
        return _match_at(rest, tokens, start + 1)
    return None


@dataclass(frozen=True, slots=True)
class _Catalogue:
    entries: tuple[KnownExpression, ...]
    # first-word form -> (entry index, pattern); O(words) lookups instead of O(entries).
    index: dict[str, tuple[tuple[int, tuple[_Element, ...]], ...]]
    # dictionary words -> entry index, to know whether an outside phrase is separable.
    by_words: dict[tuple[str, ...], int]


def _parse_entries(raw: object, source: str) -> tuple[KnownExpression, ...]:
    if not isinstance(raw, dict) or not isinstance(raw.get("expressions"), list):
        raise ExpressionError(f"{source} must be a JSON object with an 'expressions' list")
    entries: list[KnownExpression] = []
    for number, item in enumerate(raw["expressions"], start=1):
        try:
            entry = KnownExpression(
                phrase=str(item["phrase"]).strip(),
                kind=str(item["kind"]),
                level=str(item["level"]),
                meaning=str(item["meaning"]).strip(),
                separable=bool(item.get("separable", False)),
                similar=_parse_similar(item.get("similar", []), number, source),
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise ExpressionError(
                f"{source}: entry {number} needs phrase, kind, level and meaning ({exc!r})"
            ) from exc
        if entry.kind not in EXPRESSION_KINDS or entry.level not in LANGUAGE_LEVELS:
            raise ExpressionError(
                f"{source}: entry {number} ({entry.phrase!r}) has kind {entry.kind!r} and level "
                f"{entry.level!r}; use one of {EXPRESSION_KINDS} and one of {LANGUAGE_LEVELS}"
            )
        if any(_tokens(other) == _tokens(entry.phrase) for other in entry.similar):
            raise ExpressionError(
                f"{source}: entry {number} ({entry.phrase!r}) lists itself as similar; "
                "remove it from 'similar'"
            )
        entries.append(entry)
    return tuple(entries)


def _parse_similar(raw: object, number: int, source: str) -> tuple[str, ...]:
    """The optional ``similar`` list: at most MAX_SIMILAR distinct, non-empty phrases."""
    problem = None
    if not isinstance(raw, list):
        problem = f"must be a list of phrases, got {type(raw).__name__}"
    elif len(raw) > MAX_SIMILAR:
        problem = f"lists {len(raw)} phrases; a card shows at most {MAX_SIMILAR}"
    elif not all(isinstance(item, str) and _tokens(item) for item in raw):
        problem = "must hold phrases with words, not empty strings or other values"
    elif len({tuple(_tokens(item)) for item in raw}) != len(raw):
        problem = "lists the same phrase twice"
    if problem is not None:
        raise ExpressionError(f"{source}: entry {number}: 'similar' {problem}")
    assert isinstance(raw, list)
    return tuple(" ".join(str(item).split()) for item in raw)


def _build_catalogue(entries: Iterable[KnownExpression], source: str) -> _Catalogue:
    entries = tuple(entries)
    index: dict[str, list[tuple[int, tuple[_Element, ...]]]] = {}
    for number, entry in enumerate(entries):
        try:
            patterns = _compile(entry.phrase, separable=entry.separable)
        except ValueError as exc:
            raise ExpressionError(f"{source}: {exc}") from exc
        for pattern in patterns:
            head = pattern[0]
            assert isinstance(head, _Words)
            for form in sorted(head.forms):
                index.setdefault(form, []).append((number, pattern))
    by_words = {tuple(_tokens(entry.phrase)): number for number, entry in enumerate(entries)}
    return _Catalogue(
        entries, {form: tuple(items) for form, items in index.items()}, by_words
    )


@lru_cache(maxsize=1)
def _catalogue() -> _Catalogue:
    """The packaged list, parsed and indexed once per process."""
    resource = resources.files(_DATA_PACKAGE).joinpath(_DATA_NAME)
    source = f"{_DATA_PACKAGE}/{_DATA_NAME}"
    try:
        raw = json.loads(resource.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ExpressionError(
            f"cannot read the expression list {source} ({exc}); reinstall langflix"
        ) from exc
    return _build_catalogue(_parse_entries(raw, source), source)


def parse_expression_list(raw: object, source: str) -> tuple[KnownExpression, ...]:
    """Entries of an expression list in the format of ``expressions.json`` (parsed JSON).

    Raises :class:`ExpressionError` naming ``source`` and the entry for anything
    the matcher could not use: a missing field, an unknown kind or level, a
    phrase without words, a bad ``similar`` list.
    """
    return _build_catalogue(_parse_entries(raw, source), source).entries


def known_expressions() -> tuple[KnownExpression, ...]:
    """Every entry of the curated list, in file order."""
    return _catalogue().entries


@dataclass(frozen=True, slots=True)
class _Hit:
    entry: KnownExpression
    start: int
    end: int
    solid: bool  # matched without an object slot, so every word in the span is the phrase's


def _find_hits(tokens: Sequence[str], catalogue: _Catalogue) -> list[_Hit]:
    found: dict[int, _Hit] = {}
    for position, token in enumerate(tokens):
        for number, pattern in catalogue.index.get(token, ()):
            end = _match_at(pattern, tokens, position)
            if end is not None and number not in found:
                solid = not any(isinstance(element, _Gap) for element in pattern)
                found[number] = _Hit(catalogue.entries[number], position, end, solid)
    hits = list(found.values())
    # "sit on the fence" contains "on the fence", "come up with" contains "come up":
    # only the longer one is what the speaker said. A span with an object slot does
    # not hide what sits inside it ("think [hand] over" must not hide "hand over").
    kept = [
        hit
        for hit in hits
        if not any(
            other is not hit
            and other.solid
            and other.start <= hit.start
            and hit.end <= other.end
            and (other.end - other.start) > (hit.end - hit.start)
            for other in hits
        )
    ]
    kept.sort(key=lambda hit: (hit.start, -(hit.end - hit.start), hit.entry.phrase))
    return kept


def find_known_expressions(text: str) -> list[KnownExpression]:
    """The curated expressions said in ``text``, in order of appearance, longest match first."""
    return [hit.entry for hit in _find_hits(_tokens(text), _catalogue())]


def _phrase_patterns(phrase: str) -> tuple[tuple[_Element, ...], ...]:
    """Patterns of ``phrase`` as the matcher reads it; empty when it has no usable words.

    Only a phrase the curated list marks separable may have an object inside it.
    """
    catalogue = _catalogue()
    number = catalogue.by_words.get(tuple(_tokens(phrase)))
    separable = number is not None and catalogue.entries[number].separable
    try:
        return _compile(phrase, separable=separable)
    except ValueError:
        return ()


def phrase_in_text(phrase: str, text: str) -> bool:
    """True when ``phrase`` (any inflection of its first word, any separable object) is in ``text``.

    Used to reject an LLM's phrase that the cue does not actually contain.
    """
    patterns = _phrase_patterns(phrase)
    tokens = _tokens(text)
    return any(
        _match_at(pattern, tokens, position) is not None
        for pattern in patterns
        for position in range(len(tokens))
    )


def _token_spans(text: str) -> list[tuple[str, int, int]]:
    """Words of ``text`` as :func:`_tokens` reads them, with their character span in ``text``.

    Lower-cased one character at a time, so an offset in the folded text maps back
    to the original even where ``str.lower`` changes the length ("İ" -> "i̇").
    """
    folded: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(text):
        low = char.lower().translate(_APOSTROPHES)
        folded.append(low)
        origin.extend([index] * len(low))
    joined = "".join(folded)
    return [
        (match.group(), origin[match.start()], origin[match.end() - 1] + 1)
        for match in _TOKEN_RE.finditer(joined)
    ]


def expression_spans(phrase: str, text: str) -> list[tuple[int, int]]:
    """Character spans ``(start, end)`` of ``text`` where ``phrase`` is said, in order.

    Matches what :func:`phrase_in_text` accepts (inflected first word, possessive
    and reflexive slots, the object of a separable phrasal verb), so "figured it
    out" is found for "figure out" and "broke the ice" for "break the ice". A span
    runs from the first word's first character to the last word's last one and
    includes an object said inside the phrase: the learner sees the pattern as it
    was spoken. Occurrences never overlap; none found gives ``[]``.
    """
    patterns = _phrase_patterns(phrase)
    if not patterns:
        return []
    positioned = _token_spans(text)
    tokens = [token for token, _, _ in positioned]
    spans: list[tuple[int, int]] = []
    position = 0
    while position < len(tokens):
        ends = [end for pattern in patterns if (end := _match_at(pattern, tokens, position)) is not None]
        if not ends:
            position += 1
            continue
        # The shortest match: "figure out the answer" lights "figure out", not the answer.
        end = min(ends)
        spans.append((positioned[position][1], positioned[end - 1][2]))
        position = end
    return spans


# --------------------------------------------------------------------------- selection


def context_window(
    cue: Cue, context_seconds: float, media_duration: float | None = None
) -> tuple[float, float]:
    """The scene shown around ``cue``: ``context_seconds`` split evenly before and after.

    Clamped to ``[0, media_duration]`` so ffmpeg is never asked to cut past the video.
    """
    pad = max(context_seconds, 0.0) / 2.0
    start = max(0.0, cue.start - pad)
    end = cue.end + pad
    if media_duration is not None:
        end = min(end, media_duration)
        start = min(start, media_duration)
    return start, max(start, end)


def _level_fit(learner: str, entry_level: str) -> float:
    step = LANGUAGE_LEVELS.index(entry_level) - LANGUAGE_LEVELS.index(learner)
    return _LEVEL_FIT.get(step, 0.0)


def _too_hard(learner: str, entry_level: str) -> bool:
    return LANGUAGE_LEVELS.index(entry_level) - LANGUAGE_LEVELS.index(learner) > 1


@dataclass(frozen=True, slots=True)
class _Candidate:
    score: float
    cue: Cue
    order: int  # position of the cue in time order, for deterministic ties
    entry: KnownExpression
    window: tuple[float, float]


def _overlaps(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def _validate(max_expressions: int, language_level: str, context_seconds: float) -> None:
    if max_expressions < 1:
        raise ExpressionError(f"max_expressions must be at least 1, got {max_expressions}")
    if language_level not in LANGUAGE_LEVELS:
        raise ExpressionError(
            f"unknown language level {language_level!r}; use one of: {', '.join(LANGUAGE_LEVELS)}"
        )
    if not math.isfinite(context_seconds) or context_seconds < 0:
        raise ExpressionError(f"context_seconds must be a number >= 0, got {context_seconds}")


def usable_cues(cues: Sequence[Cue], media_duration: float | None) -> list[Cue]:
    """Cues in time order with sane times, dropping those that start after the video ends."""
    usable = [
        cue
        for cue in cues
        if math.isfinite(cue.start)
        and math.isfinite(cue.end)
        and 0 <= cue.start <= cue.end
        and (media_duration is None or cue.start < media_duration)
    ]
    usable.sort(key=lambda cue: (cue.start, cue.end, cue.text))
    return usable


def select_expressions(
    cues: Sequence[Cue],
    max_expressions: int = 5,
    *,
    language_level: str = "intermediate",
    context_seconds: float = 10.0,
    media_duration: float | None = None,
    translate: Callable[[Cue], str | None] | None = None,
) -> list[Expression]:
    """Pick up to ``max_expressions`` expressions to teach, in time order.

    Each cue is scored by the best expression it contains (idioms over phrasal verbs
    over collocations, weighted by how well the entry's level suits ``language_level``;
    entries two levels above the learner are left out). The best picks are taken
    greedily, keeping them apart: no pick's cue inside another pick's context window,
    and distinct phrases first. Raises :class:`ExpressionError` when nothing fits.
    """
    _validate(max_expressions, language_level, context_seconds)
    if not cues:
        raise ExpressionError("the subtitles hold no cue to choose an expression from")
    ordered = usable_cues(cues, media_duration)
    if not ordered:
        if media_duration is None:
            raise ExpressionError(
                f"none of the {len(cues)} cues has valid times (start >= 0, end >= start); "
                "check the subtitle file"
            )
        raise ExpressionError(
            f"none of the {len(cues)} cues starts before the end of the video "
            f"({media_duration:.1f} s); the subtitles may belong to another episode "
            "or need a time offset"
        )
    catalogue = _catalogue()
    candidates: list[_Candidate] = []
    too_hard: list[KnownExpression] = []
    for order, cue in enumerate(ordered):
        hits = _find_hits(_tokens(cue.text), catalogue)
        fitting = [hit.entry for hit in hits if not _too_hard(language_level, hit.entry.level)]
        too_hard.extend(hit.entry for hit in hits if _too_hard(language_level, hit.entry.level))
        if not fitting:
            continue
        bonus = _EXTRA_MATCH_BONUS * (len(fitting) - 1)
        window = context_window(cue, context_seconds, media_duration)
        for entry in fitting:
            score = _KIND_WEIGHTS[entry.kind] * _level_fit(language_level, entry.level) + bonus
            candidates.append(_Candidate(score, cue, order, entry, window))
    if not candidates:
        if too_hard:
            examples = ", ".join(sorted({f"'{entry.phrase}'" for entry in too_hard})[:3])
            raise ExpressionError(
                f"the {len(ordered)} cues only hold expressions above the {language_level} "
                f"level ({examples}); try --language-level advanced or an LLM selector"
            )
        raise ExpressionError(
            f"no known idiom, phrasal verb or collocation found in {len(ordered)} cues; "
            "try --language-level advanced or an LLM selector (LANGFLIX_LLM_BASE_URL)"
        )
    candidates.sort(key=lambda c: (-c.score, c.order, c.entry.phrase))

    picked: list[_Candidate] = []

    def clashes(candidate: _Candidate) -> bool:
        span = (candidate.cue.start, max(candidate.cue.end, candidate.cue.start + 1e-6))
        for other in picked:
            other_span = (other.cue.start, max(other.cue.end, other.cue.start + 1e-6))
            if _overlaps(span, other.window) or _overlaps(other_span, candidate.window):
                return True
        return False

    # Pass 1: distinct phrases in separate scenes. Pass 2: distinct phrases even when
    # their scenes overlap (new material beats a repeat). Pass 3: a repeated phrase in a
    # separate scene. A cue is never used twice.
    passes: tuple[tuple[bool, bool], ...] = ((True, True), (True, False), (False, True))
    for distinct, apart in passes:
        for candidate in candidates:
            if len(picked) >= max_expressions:
                break
            if any(p.order == candidate.order for p in picked):
                continue
            if distinct and any(p.entry.phrase == candidate.entry.phrase for p in picked):
                continue
            if apart and clashes(candidate):
                continue
            picked.append(candidate)

    picked.sort(key=lambda c: c.order)
    log.debug(
        "chose %d of %d candidate expressions: %s",
        len(picked),
        len(candidates),
        ", ".join(c.entry.phrase for c in picked),
    )
    return [
        Expression(
            phrase=c.entry.phrase,
            cue=c.cue,
            context_start=c.window[0],
            context_end=c.window[1],
            kind=c.entry.kind,
            meaning=c.entry.meaning,
            translation=translate(c.cue) if translate is not None else None,
            level=c.entry.level,
            similar=c.entry.similar,
        )
        for c in picked
    ]
