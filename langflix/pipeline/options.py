"""What a user chooses for one job, declared once: :class:`PipelineOptions`.

The CLI's flags (their ranges and choices), the API form (its schema and its
422) and the job store's record are all derived from this model, so a range or
a choice is written here and nowhere else.
"""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal, get_args

from pydantic import AfterValidator, BeforeValidator, Field, ValidationInfo, WithJsonSchema, field_validator

from langflix.core.expressions import LANGUAGE_LEVELS
from langflix.core.output_format import DEFAULT_FORMAT, DEFAULT_SHORT_FORMAT, OutputFormat, ShortFormat
from langflix.core.short_layout import SHORT_FITS, ShortFit
from langflix.core.subtitle_render import SUBTITLE_STYLES, SubtitleStyle
from langflix.core.validated import ValidatedModel
from langflix.pipeline.publish import sanitize_episode_name
from langflix.tts import DEFAULT_TTS, TTSName

__all__ = [
    "DEFAULT_LANGUAGE_LEVEL",
    "DEFAULT_OUTPUTS",
    "DEFAULT_SHORTS_MAX_SECONDS",
    "DEFAULT_SUBTITLES_STYLE",
    "EPISODE_NAME_MAX_CHARS",
    "EpisodeName",
    "LanguageLevel",
    "OUTPUT_KINDS",
    "OutputKind",
    "Outputs",
    "PipelineOptions",
    "STORED_OPTIONS",
    "SubtitlesStyle",
    "normalize_language_level",
    "normalize_outputs",
    "normalize_subtitles_style",
]

OutputKind = Literal["lessons", "shorts", "deck", "compilation"]
"""What a job can make: the 16:9 lessons, vertical shorts, an Anki deck, the compilation of the lessons."""
OUTPUT_KINDS: Final[tuple[str, ...]] = get_args(OutputKind)
DEFAULT_OUTPUTS: Final[tuple[OutputKind, ...]] = get_args(OutputKind)
DEFAULT_SHORTS_MAX_SECONDS: Final[float] = 60.0

DEFAULT_LANGUAGE_LEVEL: Final[str] = "intermediate"
DEFAULT_SUBTITLES_STYLE: Final[SubtitleStyle] = "bilingual"
"""Both languages on the scene: the translation shows wherever one is known, English alone elsewhere."""
EPISODE_NAME_MAX_CHARS: Final[int] = 200
STORED_OPTIONS: Final[tuple[str, ...]] = (
    "max_expressions",
    "repeat",
    "tts",
    "language_level",
    "episode_name",
    "subtitles_style",
    "outputs",
    "shorts_fit",
    "shorts_max_seconds",
    "deck_with_shorts",
)
"""The options a job's record shows (the API's ``options``)."""


def normalize_language_level(level: object) -> str:
    """``level`` as the catalogue spells it (" Beginner" -> "beginner"); ValueError naming the choices."""
    key = level.strip().lower() if isinstance(level, str) else ""
    if key not in LANGUAGE_LEVELS:
        raise ValueError(f"unknown language level {level!r}; choose one of {', '.join(LANGUAGE_LEVELS)}")
    return key


def normalize_subtitles_style(style: object) -> str:
    """``style`` as the renderer spells it (" English" -> "english"); ValueError naming the choices."""
    key = style.strip().lower() if isinstance(style, str) else ""
    if key not in SUBTITLE_STYLES:
        raise ValueError(f"unknown subtitles style {style!r}; choose one of {', '.join(SUBTITLE_STYLES)}")
    return key


def normalize_outputs(outputs: object) -> tuple[str, ...]:
    """``"shorts, Deck"`` (or a list) -> ``("shorts", "deck")``, in :data:`OUTPUT_KINDS` order;
    ValueError naming the choices for an unknown or empty choice."""
    if isinstance(outputs, str):
        parts = outputs.split(",")
    elif isinstance(outputs, (list, tuple, set, frozenset)):
        parts = [part if isinstance(part, str) else repr(part) for part in outputs]
    else:
        parts = [repr(outputs)]
    chosen = {part.strip().lower() for part in parts if part.strip()}
    unknown = sorted(chosen - set(OUTPUT_KINDS))
    if unknown or not chosen:
        what = f"unknown output {', '.join(map(repr, unknown))}" if unknown else "no output chosen"
        raise ValueError(f"{what}; choose one or more of {','.join(OUTPUT_KINDS)} (comma-separated)")
    return tuple(kind for kind in OUTPUT_KINDS if kind in chosen)


def normalize_shorts_fit(fit: object) -> str:
    key = fit.strip().lower() if isinstance(fit, str) else ""
    if key not in SHORT_FITS:
        raise ValueError(f"unknown shorts fit {fit!r}; choose one of {', '.join(SHORT_FITS)}")
    return key


def _usable_episode_name(name: str) -> str:
    """The name as the episode's directory spells it: what is stored and shown is never the raw input.

    A name with a NUL or a right-to-left override would otherwise be echoed back
    by every listing of the job.
    """
    cleaned = sanitize_episode_name(name)
    if not cleaned:
        raise ValueError(f"episode name {name!r} has no usable character; use letters, digits, '-', '_' or '.'")
    return cleaned


LanguageLevel = Annotated[
    str,
    BeforeValidator(normalize_language_level),
    WithJsonSchema({"type": "string", "enum": list(LANGUAGE_LEVELS)}),
]
SubtitlesStyle = Annotated[
    SubtitleStyle,
    BeforeValidator(normalize_subtitles_style),
    WithJsonSchema({"type": "string", "enum": list(SUBTITLE_STYLES)}),
]
Outputs = Annotated[
    tuple[OutputKind, ...],
    BeforeValidator(normalize_outputs),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": f"^\\s*({'|'.join(OUTPUT_KINDS)})\\s*(,\\s*({'|'.join(OUTPUT_KINDS)})\\s*)*$",
            "examples": [",".join(OUTPUT_KINDS), "shorts,deck"],
        }
    ),
]
"""Comma-separated kinds of :data:`OUTPUT_KINDS` (a list too); kept in that order, each once."""
ShortsFitChoice = Annotated[
    ShortFit, BeforeValidator(normalize_shorts_fit), WithJsonSchema({"type": "string", "enum": list(SHORT_FITS)})
]
EpisodeName = Annotated[str, Field(max_length=EPISODE_NAME_MAX_CHARS), AfterValidator(_usable_episode_name)]
"""Names ``OUTPUT_DIR/<episode>/``: kept sanitised (letters, digits, ``_ . -``); at least one usable character."""


class PipelineOptions(ValidatedModel):
    """What the user chose for one job; a bad value is an InvalidOptionError naming it."""

    max_expressions: int = Field(default=5, ge=1, le=50, description="How many expressions to teach.")
    repeat: int = Field(default=2, ge=1, le=20, description="How often each expression clip is replayed.")
    tts: TTSName = Field(
        default=DEFAULT_TTS,
        description="Who speaks the expression on the card: a text-to-speech provider, or none (a silent card).",
    )
    language_level: LanguageLevel = Field(
        default=DEFAULT_LANGUAGE_LEVEL, description="The learner's level; picks expressions that fit it."
    )
    episode_name: EpisodeName | None = Field(default=None, description="Name of OUTPUT_DIR/<episode>/.")
    output_format: OutputFormat = DEFAULT_FORMAT
    context_seconds: float = Field(
        default=10.0, ge=0.0, le=120.0, description="Seconds of scene shown around the line (half before, half after)."
    )
    subtitles_style: SubtitlesStyle = Field(
        default=DEFAULT_SUBTITLES_STYLE,
        description="What the scene shows burned in: both languages (bilingual), english only, or none.",
    )

    outputs: Outputs = Field(
        default=DEFAULT_OUTPUTS,
        description="What the job makes, comma-separated: lessons, shorts (vertical, one per expression), "
        "deck (an Anki package and a TSV), compilation (the lessons joined). Default: all of them.",
        json_schema_extra={"default": ",".join(DEFAULT_OUTPUTS)},
    )
    short_format: ShortFormat = DEFAULT_SHORT_FORMAT
    shorts_fit: ShortsFitChoice = Field(
        default="letterbox",
        description="How the scene fills a short: letterbox (all of it, text in the bands above and below) "
        "or crop (a centre crop filling the frame).",
    )
    shorts_max_seconds: float = Field(
        default=DEFAULT_SHORTS_MAX_SECONDS, ge=5.0, le=180.0, description="Longest a short may last, in seconds."
    )
    deck_with_shorts: bool = Field(
        default=False, description="Put each expression's short into its deck note too (a larger deck)."
    )

    @field_validator("deck_with_shorts")
    @classmethod
    def _deck_shorts_are_made(cls, value: bool, info: ValidationInfo) -> bool:
        outputs = info.data.get("outputs", DEFAULT_OUTPUTS)  # absent when outputs itself was refused
        if value and not {"deck", "shorts"} <= set(outputs):
            raise ValueError("needs both deck and shorts in outputs; add them or leave it off")
        return value

    def makes(self, kind: OutputKind) -> bool:
        """Whether the job publishes ``kind``."""
        return kind in self.outputs

    def stored(self) -> dict[str, Any]:
        """The options a job's record keeps (plain JSON values)."""
        return self.model_dump(mode="json", include=set(STORED_OPTIONS))
