"""Where each line's translation comes from, line by line, in the order DESIGN.md sets.

1. the subtitle file's own other track, when it is bilingual (a gift: offline, made
   for that very cut);
2. the second subtitle file the user passed (``--translation-subtitles``), aligned by time;
3. the optional LLM (cached on disk, so a rerun asks nothing twice).

Each line takes the first source that has it, so a translation file silent on a
line (or an LLM that skipped one) leaves the next source to fill it. The
language is the first file's (a Korean SAMI makes a Korean lesson); the LLM is
asked for that language too, or for ``LANGFLIX_TRANSLATION_LANGUAGE`` when no
file tells. A failing LLM costs its lines, never the job: a warning, English only.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final, Literal, get_args

from langflix.core.llm_cache import line_key
from langflix.core.llm_selector import LLMExpressionSelector
from langflix.core.subtitles import Cue, SubtitleTrack
from langflix.errors import ConfigError, TranslationError

__all__ = ["TRANSLATION_SOURCES", "TranslationSource", "Translations", "translate_cues"]

logger = logging.getLogger(__name__)

TranslationSource = Literal["bilingual_track", "translation_file", "llm"]
TRANSLATION_SOURCES: Final[tuple[str, ...]] = get_args(TranslationSource)
"""The sources in the order they are asked."""


@dataclass(frozen=True)
class Translations:
    """The translation of each cue that has one, with where it came from."""

    language: str | None
    lines: Mapping[Cue, tuple[str, TranslationSource]] = field(default_factory=dict)

    def __call__(self, cue: Cue) -> str | None:
        """``cue``'s translation, or None (the lesson shows it in English only)."""
        found = self.lines.get(cue)
        return found[0] if found else None

    def source(self, cue: Cue) -> TranslationSource | None:
        found = self.lines.get(cue)
        return found[1] if found else None

    def counts(self) -> dict[str, int]:
        """How many lines each source translated, in the order of :data:`TRANSLATION_SOURCES`."""
        counted: Counter[str] = Counter(source for _, source in self.lines.values())
        return {source: counted[source] for source in TRANSLATION_SOURCES if counted[source]}


def translate_cues(
    cues: Iterable[Cue],
    *,
    bilingual: SubtitleTrack | None = None,
    translation_file: SubtitleTrack | None = None,
    llm: Callable[[], LLMExpressionSelector] | None = None,
    llm_language: str = "ko",
    llm_known: Mapping[Cue, str] | None = None,
    warn: Callable[[str], None] = logger.warning,
) -> Translations:
    """Translate ``cues`` (English, cleaned) from the first source that has each line.

    ``bilingual`` is the subtitle file's other track, ``translation_file`` the
    track of the user's second file; ``llm`` builds the chat model when one is
    configured, ``llm_known`` holds what it already said with its picks.
    ``warn`` hears why the LLM gave nothing.
    """
    wanted = list(dict.fromkeys(cues))
    language = next(
        (track.language for track in (bilingual, translation_file) if track is not None and track.language),
        None,
    )
    lines: dict[Cue, tuple[str, TranslationSource]] = {}
    files: tuple[tuple[SubtitleTrack | None, TranslationSource], ...] = (
        (bilingual, "bilingual_track"),
        (translation_file, "translation_file"),
    )
    for track, source in files:
        if track is None:
            continue
        for cue in wanted:
            text = track.text_during(cue) if cue not in lines else None
            if text and text.strip():
                lines[cue] = (text, source)
    missing = [cue for cue in wanted if cue not in lines]
    if missing and llm is not None:
        asked_language = language or llm_language
        for cue, text in _from_llm(missing, llm, asked_language, llm_known or {}, warn).items():
            lines[cue] = (text, "llm")
        language = language or (asked_language if any(s == "llm" for _, s in lines.values()) else None)
    return Translations(language, lines)


def _from_llm(
    cues: list[Cue],
    build: Callable[[], LLMExpressionSelector],
    language: str,
    known: Mapping[Cue, str],
    warn: Callable[[str], None],
) -> dict[Cue, str]:
    found = {cue: known[cue] for cue in cues if known.get(cue)}
    rest = [cue for cue in cues if cue not in found]
    if not rest:
        return found
    try:
        answered = build().translate([cue.text for cue in rest], language)
    except (TranslationError, ConfigError) as exc:
        warn(f"LLM translation failed ({exc}); {len(rest)} line(s) show in English only")
        return found
    for cue in rest:
        text = answered.get(line_key(cue.text))
        if text:
            found[cue] = text
    return found
