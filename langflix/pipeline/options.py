"""What a user chooses for one job, declared once: :class:`PipelineOptions`.

The CLI's flags (their ranges and choices), the API form (its schema and its
422) and the job store's record are all derived from this model, so a range or
a choice is written here and nowhere else.
"""

from __future__ import annotations

from typing import Annotated, Any, Final

from pydantic import AfterValidator, BeforeValidator, Field, WithJsonSchema

from langflix.core.expressions import LANGUAGE_LEVELS
from langflix.core.output_format import DEFAULT_FORMAT, OutputFormat
from langflix.core.subtitle_render import SUBTITLE_STYLES, SubtitleStyle
from langflix.core.validated import ValidatedModel
from langflix.pipeline.publish import sanitize_episode_name
from langflix.tts import DEFAULT_TTS, TTSName

__all__ = [
    "DEFAULT_LANGUAGE_LEVEL",
    "DEFAULT_SUBTITLES_STYLE",
    "EPISODE_NAME_MAX_CHARS",
    "EpisodeName",
    "LanguageLevel",
    "PipelineOptions",
    "STORED_OPTIONS",
    "SubtitlesStyle",
    "normalize_language_level",
    "normalize_subtitles_style",
]

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

    def stored(self) -> dict[str, Any]:
        """The options a job's record keeps (plain JSON values)."""
        return self.model_dump(include=set(STORED_OPTIONS))
