"""PipelineOptions: every range and choice of a job declared once, every message derived."""

from __future__ import annotations

import pytest

import langflix.pipeline.options as module
from langflix.core.expressions import LANGUAGE_LEVELS
from langflix.core.output_format import OutputFormat
from langflix.errors import ConfigError, InvalidOptionError
from langflix.pipeline.options import STORED_OPTIONS, PipelineOptions
from langflix.tts import TTS_CHOICES


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"max_expressions": 0}, "max_expressions"),
        ({"max_expressions": 51}, "max_expressions: must be between 1 and 50"),
        ({"repeat": 0}, "repeat"),
        ({"repeat": 21}, "repeat: must be between 1 and 20, got 21"),
        ({"tts": "nope"}, "TTS provider"),
        ({"subtitles_style": "both"}, "subtitles_style: unknown subtitles style 'both'; choose one of bilingual"),
        ({"language_level": "expert"}, "language level"),
        ({"episode_name": "///"}, "episode name"),
        ({"episode_name": "x" * 201}, "episode_name: must be at most 200 characters"),
        ({"context_seconds": 121.0}, "context_seconds: must be between 0 and 120"),
        ({"output_format": {"width": 321}}, "output_format: width: must be even"),
        ({"outputs": "lessons,reels"}, "outputs: unknown output 'reels'; choose one or more of lessons,shorts,deck"),
        ({"outputs": " , "}, "outputs: no output chosen"),
        ({"shorts_fit": "stretch"}, "shorts_fit: unknown shorts fit 'stretch'; choose one of letterbox, crop"),
        ({"shorts_max_seconds": 4}, "shorts_max_seconds: must be between 5 and 180"),
        ({"short_format": {"height": 1921}}, "short_format: height: must be even"),
    ],
)
def test_options_are_validated(kwargs: dict[str, object], needle: str) -> None:
    with pytest.raises(ConfigError, match=needle) as info:
        PipelineOptions(**kwargs)  # type: ignore[arg-type]
    assert isinstance(info.value, InvalidOptionError)
    assert info.value.problems[0][0] == next(iter(kwargs))


def test_outputs_are_normalised_once_in_their_own_order() -> None:
    assert PipelineOptions().outputs == ("lessons", "shorts", "deck", "compilation")
    assert PipelineOptions(outputs=" Deck, shorts,deck").outputs == ("shorts", "deck")
    assert PipelineOptions(outputs=["compilation", "lessons"]).outputs == ("lessons", "compilation")
    assert PipelineOptions(outputs="deck").makes("deck") and not PipelineOptions(outputs="deck").makes("shorts")
    assert (PipelineOptions().short_format.width, PipelineOptions().short_format.height) == (1080, 1920)
    assert PipelineOptions().shorts_max_seconds == 60.0 and PipelineOptions().shorts_fit == "letterbox"


def test_a_deck_with_shorts_needs_both() -> None:
    with pytest.raises(InvalidOptionError, match="deck_with_shorts: needs both deck and shorts") as info:
        PipelineOptions(outputs="deck,lessons", deck_with_shorts=True)
    assert info.value.problems[0][0] == "deck_with_shorts"
    assert PipelineOptions(outputs="deck,shorts", deck_with_shorts=True).deck_with_shorts


def test_choices_are_normalised_once() -> None:
    options = PipelineOptions(tts=" Google ", language_level="BEGINNER", subtitles_style=" English")
    assert (options.tts, options.language_level, options.subtitles_style) == ("google", "beginner", "english")
    assert PipelineOptions(tts="NONE").tts == "none"


def test_defaults() -> None:
    options = PipelineOptions()
    assert (options.max_expressions, options.repeat, options.tts, options.language_level) == (
        5, 2, "espeak", "intermediate",
    )  # fmt: skip
    assert (options.episode_name, options.output_format, options.context_seconds) == (None, OutputFormat(), 10.0)
    assert options.subtitles_style == "bilingual"


def test_the_stored_record_is_plain_json() -> None:
    options = PipelineOptions(max_expressions=2, repeat=1, episode_name="Friends_S01E01")
    assert options.stored() == {
        "max_expressions": 2, "repeat": 1, "tts": "espeak", "language_level": "intermediate",
        "episode_name": "Friends_S01E01", "subtitles_style": "bilingual",
        "outputs": ["lessons", "shorts", "deck", "compilation"], "shorts_fit": "letterbox",
        "shorts_max_seconds": 60.0, "deck_with_shorts": False,
    }  # fmt: skip
    assert tuple(options.stored()) == STORED_OPTIONS


def test_the_episode_name_is_kept_as_its_directory_spells_it() -> None:
    # A NUL or a right-to-left override must never be stored and echoed back.
    assert PipelineOptions(episode_name="My\x00Show\u202egpj.exe").episode_name == "My_Show_gpj.exe"
    assert PipelineOptions(episode_name="my show").stored()["episode_name"] == "my_show"


def test_the_schema_carries_the_ranges_and_the_registrys_choices() -> None:
    properties = PipelineOptions.model_json_schema()["properties"]
    assert (properties["repeat"]["minimum"], properties["repeat"]["maximum"]) == (1, 20)
    assert properties["max_expressions"]["maximum"] == 50
    assert properties["tts"]["enum"] == list(TTS_CHOICES)
    assert properties["subtitles_style"]["enum"] == ["bilingual", "english", "none"]
    assert properties["language_level"]["enum"] == list(LANGUAGE_LEVELS)
    assert PipelineOptions.bounds("repeat") == (1, 20)


def test_exports() -> None:
    assert module.__all__ == sorted(module.__all__)
    assert all(hasattr(module, name) for name in module.__all__)
