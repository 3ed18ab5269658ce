"""Tests for the offline expression selector and its curated list."""

from __future__ import annotations

import json
import time
from importlib import resources

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import langflix.core.expressions as expressions_module
from langflix.core.expressions import (
    EXPRESSION_KINDS,
    LANGUAGE_LEVELS,
    MAX_SIMILAR,
    Expression,
    context_window,
    expression_spans,
    find_known_expressions,
    known_expressions,
    parse_expression_list,
    phrase_in_text,
    select_expressions,
    usable_cues,
)
from langflix.core.subtitles import Cue
from langflix.errors import ExpressionError, LangFlixError


def phrases(text: str) -> list[str]:
    return [entry.phrase for entry in find_known_expressions(text)]


def example_of(phrase: str) -> str:
    """The dictionary phrase with its placeholders filled the way a speaker would."""
    words = []
    for word in phrase.split():
        words.append(
            {
                "someone": "her",
                "somebody": "him",
                "something": "it",
                "one's": "my",
                "someone's": "his",
                "oneself": "myself",
            }.get(word, word)
        )
    return " ".join(words)


def spaced(texts: list[str], gap: float = 30.0, length: float = 2.0) -> list[Cue]:
    return [Cue(i * gap, i * gap + length, text) for i, text in enumerate(texts)]


# --------------------------------------------------------------------------- exports


def test_exports_are_sorted_and_real() -> None:
    names = expressions_module.__all__
    assert list(names) == sorted(names)
    for name in names:
        assert hasattr(expressions_module, name), name
    assert LANGUAGE_LEVELS == ("beginner", "intermediate", "advanced")


# --------------------------------------------------------------------------- data file


def test_curated_list_is_large_valid_and_unique() -> None:
    raw = json.loads(
        resources.files("langflix").joinpath("data/expressions.json").read_text("utf-8")
    )
    items = raw["expressions"]
    assert len(items) >= 300
    seen: set[str] = set()
    for item in items:
        assert item["kind"] in EXPRESSION_KINDS, item
        assert item["level"] in LANGUAGE_LEVELS, item
        assert item["meaning"].strip(), item
        key = " ".join(item["phrase"].lower().split())
        assert key not in seen, f"duplicate {key!r}"
        seen.add(key)
    kinds = {item["kind"] for item in items}
    levels = {item["level"] for item in items}
    assert kinds == set(EXPRESSION_KINDS)
    assert levels == set(LANGUAGE_LEVELS)
    assert len(known_expressions()) == len(items)


def test_similar_expressions_are_loaded_where_well_known() -> None:
    by_phrase = {entry.phrase: entry for entry in known_expressions()}
    assert by_phrase["figure out"].similar == ("work out", "sort out")
    assert by_phrase["spill the beans"].similar == ("let the cat out of the bag",)
    assert by_phrase["add insult to injury"].similar == ()
    assert sum(bool(entry.similar) for entry in by_phrase.values()) >= 100
    for entry in by_phrase.values():
        assert len(entry.similar) <= MAX_SIMILAR and entry.phrase not in entry.similar


def _one(**fields) -> dict:
    entry = {"phrase": "give up", "kind": "phrasal_verb", "level": "beginner", "meaning": "to stop"}
    return {"expressions": [{**entry, **fields}]}


def test_the_loader_accepts_and_tidies_a_similar_list() -> None:
    (entry,) = parse_expression_list(_one(similar=["throw in  the towel"]), "test.json")
    assert entry.similar == ("throw in the towel",)
    (entry,) = parse_expression_list(_one(), "test.json")
    assert entry.similar == ()


@pytest.mark.parametrize(
    ("similar", "problem"),
    [
        ("quit", "must be a list of phrases, got str"),
        (["a", "b", "c"], "lists 3 phrases; a card shows at most 2"),
        (["", "quit"], "must hold phrases with words"),
        ([3], "must hold phrases with words"),
        (["Quit now", "quit  now"], "lists the same phrase twice"),
        (["Give up"], "lists itself as similar"),
    ],
)
def test_the_loader_refuses_a_bad_similar_list_by_entry(similar, problem) -> None:
    with pytest.raises(ExpressionError, match=r"test\.json: entry 1.*" + problem):
        parse_expression_list(_one(similar=similar), "test.json")


def test_chosen_expressions_carry_level_and_similar() -> None:
    (picked,) = select_expressions([Cue(1, 3, "Don't spill the beans!")], 1)
    assert (picked.level, picked.similar) == ("intermediate", ("let the cat out of the bag",))


@pytest.mark.parametrize("entry", known_expressions(), ids=lambda e: e.phrase)
def test_every_entry_is_found_in_a_sentence_that_says_it(entry) -> None:
    # A phrase the matcher cannot find is dead weight in the list (or a matcher bug).
    sentence = f"Well, {example_of(entry.phrase)}, okay?"
    assert entry.phrase in phrases(sentence)


# --------------------------------------------------------------------------- matching


@pytest.mark.parametrize(
    "text",
    [
        "Let's break the ice.",
        "She always breaks the ice at parties.",
        "That really BROKE the ice!",
        "Someone has broken the ice",
        "I'm breaking... the ice",
        "break\nthe ice",
    ],
)
def test_inflections_case_and_punctuation_are_matched(text: str) -> None:
    assert "break the ice" in phrases(text)


@pytest.mark.parametrize(
    "text",
    ["Breakfast on the ice", "The ice broke.", "break the nice ice", "icebreaker"],
)
def test_near_misses_are_not_matched(text: str) -> None:
    assert "break the ice" not in phrases(text)


@pytest.mark.parametrize(
    ("text", "phrase"),
    [
        ("I'll figure it out.", "figure out"),
        ("We figured out the answer.", "figure out"),
        ("She figured the whole thing out", "figure out"),
        ("Figuring things out takes time", "figure out"),
        ("He gave up.", "give up"),
        ("Don't give it up now", "give up"),
        ("They have given up hope", "give up"),
        ("She carries on regardless", "carry on"),
        ("We carried on", "carry on"),
        ("He dropped by yesterday", "drop by"),
        ("Stop dropping by unannounced", "drop by"),
        ("Everybody chipped in", "chip in"),
        ("That makes sense", "make sense"),
        ("Nothing is making sense", "make sense"),
        ("She made up her mind", "make up one's mind"),
        ("He lost his temper again", "lose one's temper"),
        ("Are you pulling my leg?", "pull someone's leg"),
        ("Could you do me a favor?", "do someone a favor"),
        ("I caught him red-handed", "catch someone red-handed"),
        ("Pull yourself together!", "pull oneself together"),
        ("We took it easy", "take it easy"),
        ("It\u2019s up to you.", "it's up to you"),
        ("Speaking of the devil", "speak of the devil"),
        ("They tied the knot", "tie the knot"),
        ("Stop beating around the bush", "beat around the bush"),
    ],
)
def test_inflected_and_separable_forms(text: str, phrase: str) -> None:
    assert phrase in phrases(text)


def test_separable_object_is_at_most_three_words() -> None:
    assert "figure out" in phrases("figure this whole thing out")
    assert "figure out" not in phrases("figure this very long thing out")


def test_only_marked_phrasal_verbs_are_separable() -> None:
    # "look after" is not separable: "look the kids after" is not English.
    assert "look after" not in phrases("look the kids after")
    assert "look after" in phrases("she looked after the kids")


def test_longest_match_wins() -> None:
    found = phrases("I'm still sitting on the fence about it")
    assert "sit on the fence" in found
    assert "on the fence" not in found
    found = phrases("She came up with a plan")
    assert found == ["come up with"]


def test_several_expressions_in_one_line_in_order() -> None:
    assert phrases("Out of the blue, he gave up and called it a day.") == [
        "out of the blue",
        "give up",
        "call it a day",
    ]


def test_phrase_in_text_inflects_first_word_only() -> None:
    assert phrase_in_text("break the ice", "Well, that broke the ice.")
    assert phrase_in_text("broke the ice", "Well, that broke the ice.")
    assert not phrase_in_text("break the ice", "Well, that broke the silence.")
    assert phrase_in_text("figure out", "I figured it out")  # known separable
    assert not phrase_in_text("totally unknown phrase", "nothing like it")
    assert not phrase_in_text("...", "anything")


def lit(phrase: str, text: str) -> list[str]:
    return [text[start:end] for start, end in expression_spans(phrase, text)]


@pytest.mark.parametrize(
    ("phrase", "text", "expected"),
    [
        ("figure out", "I finally figured it out!", ["figured it out"]),
        ("figure out", "Let's figure out the answer.", ["figure out"]),  # shortest match, no object
        ("figure out", "FIGURING OUT what she meant", ["FIGURING OUT"]),
        ("break the ice", "Well, that broke the ice.", ["broke the ice"]),
        (
            "make up one's mind",
            "She made up her mind; he made up John's mind.",
            ["made up her mind", "made up John's mind"],
        ),
        ("give up", "I don\u2019t give up. I gave up once.", ["give up", "gave up"]),
        ("call it a day", "Let's call it\na day.", ["call it\na day"]),  # across a line break
        ("pull someone's leg", "You're pulling my leg!", ["pulling my leg"]),
    ],
)
def test_expression_spans_cover_the_words_as_said(phrase, text, expected) -> None:
    assert lit(phrase, text) == expected


def test_expression_spans_are_offsets_into_the_original_text() -> None:
    # "İ" lower-cases to two characters; the offsets must still point into the input.
    text = "İ said: we BROKE the ice."
    (span,) = expression_spans("break the ice", text)
    assert text[span[0] : span[1]] == "BROKE the ice"


def test_expression_spans_reject_what_the_matcher_rejects() -> None:
    assert expression_spans("break the ice", "Well, that broke the silence.") == []
    # Only separable phrases take an object inside: "call up" is not in the list as separable.
    assert expression_spans("totally unknown phrase", "nothing like it") == []
    assert expression_spans("...", "anything") == []
    assert expression_spans("figure out", "") == []


@settings(max_examples=80, deadline=None, database=None)
@given(
    before=st.lists(st.sampled_from(["so", "well", "I", "think", "we", "really", "now"]), max_size=4),
    entry=st.sampled_from(known_expressions()),
    shout=st.booleans(),
)
def test_every_known_phrase_is_lit_exactly(before, entry, shout) -> None:
    said = example_of(entry.phrase)
    said = said.upper() if shout else said
    prefix = " ".join([*before, ""]) if before else ""
    text = f"{prefix}{said}, right?"
    spans = expression_spans(entry.phrase, text)
    assert spans, text
    assert text[spans[0][0] : spans[0][1]] == said
    assert phrase_in_text(entry.phrase, text)


@settings(max_examples=60, deadline=None, database=None)
@given(
    before=st.lists(st.sampled_from(["so", "well", "I", "think", "we", "really", "now"]), max_size=6),
    after=st.lists(st.sampled_from(["today", "again", "then", "please", "ok"]), max_size=6),
    entry=st.sampled_from(known_expressions()),
    shout=st.booleans(),
)
def test_known_phrase_is_found_wherever_it_sits(before, after, entry, shout) -> None:
    text = " ".join([*before, example_of(entry.phrase) + ",", *after]) + "!"
    if shout:
        text = text.upper()
    assert entry.phrase in phrases(text)


@settings(max_examples=100, deadline=None, database=None)
@given(st.text(max_size=200))
def test_arbitrary_text_never_crashes(text: str) -> None:
    for entry in find_known_expressions(text):
        assert entry.kind in EXPRESSION_KINDS


# --------------------------------------------------------------------------- context


def test_context_window_is_clamped_to_the_media() -> None:
    assert context_window(Cue(20.0, 22.0, "x"), 10.0) == (15.0, 27.0)
    assert context_window(Cue(1.0, 2.0, "x"), 10.0) == (0.0, 7.0)
    assert context_window(Cue(57.0, 59.0, "x"), 10.0, 60.0) == (52.0, 60.0)
    assert context_window(Cue(58.0, 63.0, "x"), 10.0, 60.0) == (53.0, 60.0)
    assert context_window(Cue(5.0, 6.0, "x"), 0.0) == (5.0, 6.0)


def test_usable_cues_sorts_and_drops_cues_past_the_end() -> None:
    late = Cue(70.0, 72.0, "late")
    early = Cue(1.0, 2.0, "early")
    broken = Cue(5.0, 4.0, "ends before it starts")
    assert usable_cues([late, broken, early], 60.0) == [early]
    assert usable_cues([late, early], None) == [early, late]


# --------------------------------------------------------------------------- selection


def test_selects_with_meaning_kind_and_context() -> None:
    cues = spaced(["Hello there.", "Let's break the ice.", "Nice weather.", "I gave up smoking."])
    result = select_expressions(cues, 5, context_seconds=10.0, media_duration=200.0)
    assert [e.phrase for e in result] == ["break the ice", "give up"]
    first = result[0]
    assert isinstance(first, Expression)
    assert first.cue is cues[1]
    assert first.kind == "idiom"
    assert first.meaning and "relaxed" in first.meaning
    assert (first.context_start, first.context_end) == (25.0, 37.0)
    assert first.translation is None
    assert result[1].kind == "phrasal_verb"


def test_ranking_prefers_idioms_and_the_right_level() -> None:
    cues = spaced(
        [
            "We should make a decision.",  # collocation, beginner
            "He finally gave up.",  # phrasal verb, beginner
            "It's a piece of cake.",  # idiom, beginner
            "Let's call it a day.",  # idiom, intermediate
        ]
    )
    top = select_expressions(cues, 1, language_level="intermediate")
    assert [e.phrase for e in top] == ["call it a day"]
    top = select_expressions(cues, 1, language_level="beginner")
    assert [e.phrase for e in top] == ["a piece of cake"]
    two = select_expressions(cues, 2, language_level="beginner")
    assert [e.phrase for e in two] == ["a piece of cake", "call it a day"]


def test_beginners_do_not_get_advanced_idioms() -> None:
    cues = spaced(["Time to bite the bullet.", "Let's call it a day."])
    assert [e.phrase for e in select_expressions(cues, 5, language_level="beginner")] == [
        "call it a day"
    ]
    assert [e.phrase for e in select_expressions(cues, 5, language_level="advanced")] == [
        "bite the bullet",
        "call it a day",
    ]


def test_only_too_hard_expressions_gives_an_actionable_error() -> None:
    cues = spaced(["Time to bite the bullet.", "Nothing here."])
    with pytest.raises(ExpressionError, match=r"above the beginner level.*bite the bullet.*advanced"):
        select_expressions(cues, 5, language_level="beginner")


def test_picks_are_spread_out_and_distinct() -> None:
    cues = [
        Cue(10.0, 12.0, "Let's break the ice."),
        Cue(13.0, 15.0, "Out of the blue she called."),  # inside the first pick's scene
        Cue(60.0, 62.0, "He broke the ice again."),  # same phrase as the first
        Cue(90.0, 92.0, "Once in a blue moon."),
    ]
    result = select_expressions(cues, 2, context_seconds=10.0)
    assert [e.phrase for e in result] == ["break the ice", "once in a blue moon"]
    # Asked for more, the selector takes distinct phrases first, even in a shared
    # scene, and repeats a phrase only as the last resort.
    result = select_expressions(cues, 3, context_seconds=10.0)
    assert [e.phrase for e in result] == ["break the ice", "out of the blue", "once in a blue moon"]
    result = select_expressions(cues, 4, context_seconds=10.0)
    assert [e.cue for e in result] == cues


def test_cue_with_more_expressions_ranks_higher() -> None:
    cues = spaced(["Let's call it a day.", "Out of the blue, let's call it a day."])
    assert [e.cue for e in select_expressions(cues, 1)] == [cues[1]]


def test_translation_comes_from_the_callback() -> None:
    cues = spaced(["Nothing.", "Let's break the ice."])
    seen: list[Cue] = []

    def translate(cue: Cue) -> str | None:
        seen.append(cue)
        return "어색한 분위기를 깨자"

    result = select_expressions(cues, 3, translate=translate)
    assert result[0].translation == "어색한 분위기를 깨자"
    assert seen == [cues[1]]  # only the picked cues are translated


def test_cues_past_the_end_of_the_video_are_skipped() -> None:
    cues = [Cue(10.0, 12.0, "Let's break the ice."), Cue(65.0, 67.0, "Once in a blue moon.")]
    result = select_expressions(cues, 5, media_duration=60.0)
    assert [e.phrase for e in result] == ["break the ice"]
    with pytest.raises(ExpressionError, match=r"none of the 1 cues starts before the end"):
        select_expressions(cues[1:], 5, media_duration=60.0)


def test_context_is_clamped_when_duration_known() -> None:
    cues = [Cue(1.0, 3.0, "Let's break the ice."), Cue(56.0, 58.0, "Once in a blue moon.")]
    result = select_expressions(cues, 5, context_seconds=20.0, media_duration=60.0)
    assert (result[0].context_start, result[0].context_end) == (0.0, 13.0)
    assert (result[1].context_start, result[1].context_end) == (46.0, 60.0)


def test_deterministic_and_independent_of_input_order() -> None:
    texts = [
        "Let's break the ice.",
        "Out of the blue.",
        "I give up.",
        "Call it a day.",
        "Piece of cake? No, a piece of cake.",
        "We made a mistake.",
        "Hang in there.",
    ] * 5
    cues = [Cue(i * 4.0, i * 4.0 + 2.0, text) for i, text in enumerate(texts)]
    first = select_expressions(cues, 5)
    assert select_expressions(cues, 5) == first
    assert select_expressions(list(reversed(cues)), 5) == first
    assert [e.cue.start for e in first] == sorted(e.cue.start for e in first)


def test_nothing_found_names_the_count_and_the_fixes() -> None:
    cues = spaced(["Hello.", "How are you?", "Fine, thanks."])
    with pytest.raises(ExpressionError) as info:
        select_expressions(cues, 5)
    message = str(info.value)
    assert "no known idiom, phrasal verb or collocation found in 3 cues" in message
    assert "--language-level advanced" in message and "LLM" in message


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"max_expressions": 0}, "max_expressions must be at least 1"),
        ({"language_level": "expert"}, "unknown language level 'expert'"),
        ({"context_seconds": -1.0}, "context_seconds"),
    ],
)
def test_bad_arguments_raise_expression_error(kwargs, pattern) -> None:
    with pytest.raises(ExpressionError, match=pattern):
        select_expressions(spaced(["Let's break the ice."]), **kwargs)


def test_no_cues_is_an_error_in_the_family() -> None:
    with pytest.raises(LangFlixError, match="no cue"):
        select_expressions([], 5)


def test_a_feature_film_is_fast() -> None:
    lines = [
        "I can't believe you figured it out so quickly.",
        "It really makes sense now, my friend.",
        "We should hit the road before it gets dark.",
        "What are you talking about? I do not know.",
    ]
    cues = [Cue(i * 3.0, i * 3.0 + 2.5, lines[i % 4]) for i in range(2000)]
    started = time.perf_counter()
    result = select_expressions(cues, 10)
    assert time.perf_counter() - started < 2.0
    assert len(result) == 10
    assert len({e.phrase for e in result}) == 3  # only three distinct phrases exist


def test_works_on_a_real_bilingual_sami_file(tmp_path) -> None:
    # End to end with the subtitle parser: the English cue is the source, the
    # overlapping Korean cue its translation (DESIGN.md "A bilingual file is a gift").
    from langflix.core.subtitles import load_subtitles

    sami = tmp_path / "episode.smi"
    sami.write_bytes(
        "\ufeff<SAMI><HEAD><STYLE><!--\n"
        ".ENCC {Name:English; lang:en-US;}\n.KRCC {Name:Korean; lang:ko-KR;}\n"
        "--></STYLE></HEAD><BODY>\r\n"
        "<SYNC Start=1000><P Class=ENCC>Hello, everyone.\r\n"
        "<SYNC Start=1000><P Class=KRCC>안녕하세요, 여러분.\r\n"
        "<SYNC Start=3000><P Class=ENCC>&nbsp;\r\n"
        "<SYNC Start=3000><P Class=KRCC>&nbsp;\r\n"
        "<SYNC Start=20000><P Class=ENCC>Well, that <i>broke</i><br>the ice.\r\n"
        "<SYNC Start=20000><P Class=KRCC>음, 덕분에 어색함이 풀렸네.\r\n"
        "<SYNC Start=23000><P Class=ENCC>&nbsp;\r\n"
        "<SYNC Start=23000><P Class=KRCC>&nbsp;\r\n"
        "</BODY></SAMI>\r\n".encode("utf-8")
    )
    subtitles = load_subtitles(sami)
    result = select_expressions(
        subtitles.track("en").cues, 3, media_duration=30.0, translate=subtitles.translation_for
    )
    assert [e.phrase for e in result] == ["break the ice"]
    assert result[0].cue.start == pytest.approx(20.0)
    assert result[0].translation == "음, 덕분에 어색함이 풀렸네."
