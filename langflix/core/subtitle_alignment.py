"""Translations from a second subtitle file, aligned to the English cues by time.

Users often hold the Korean SRT beside the English one. Its cues say the same
lines at the same moments, with other boundaries (one English cue may be two
Korean ones). Aligning is the same question a bilingual SAMI answers, so it is
answered by the same code: :meth:`SubtitleTrack.text_during`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Final

from langflix.core.subtitle_cleaning import clean_subtitles
from langflix.core.subtitles import Cue, Subtitles, SubtitleTrack, load_subtitles
from langflix.errors import SubtitleError

__all__ = ["MIN_ALIGNED_SHARE", "align_translations", "load_translation_track", "translation_track_of"]

logger = logging.getLogger(__name__)

MIN_ALIGNED_SHARE: Final[float] = 0.2
"""Below this share of English cues with a translation, the second file is not the
same episode (or not the same cut) and is refused rather than half used."""


def align_translations(english: Iterable[Cue], translation: SubtitleTrack) -> tuple[str | None, ...]:
    """For each English cue, the ``translation`` track's text shown with it (None: silent then)."""
    return tuple(translation.text_during(cue) for cue in english)


def translation_track_of(subtitles: Subtitles, language: str | None = None) -> SubtitleTrack:
    """The track of a second file that holds the translation.

    ``language`` when given; else the first track in a known non-English language;
    else, for a file whose language could not be told, its only track. Raises
    :class:`SubtitleError` naming the file when it holds no such track (the
    English file passed twice, say).
    """
    track = subtitles.translation_track(language)
    if track is None and language is None:
        unknown = [t for t in subtitles.tracks if t.language is None]
        track = unknown[0] if len(unknown) == 1 else None
    if track is None:
        have = ", ".join(f"{t.language or 'unknown'} ({t.label})" for t in subtitles.tracks)
        wanted = repr(language) if language else "non-English"
        raise SubtitleError(
            f"{subtitles.path} has no {wanted} track to translate from (it has: {have}); "
            "pass the subtitles in the learner's language (e.g. the Korean SRT)"
        )
    return track


def load_translation_track(
    path: Path, english: Sequence[Cue], *, language: str | None = None
) -> SubtitleTrack:
    """Read, clean and check the translation file ``path`` against the ``english`` cues.

    Raises :class:`SubtitleError` when the file is unreadable, has no translation
    track, or its cues meet fewer than :data:`MIN_ALIGNED_SHARE` of the English
    ones (another episode, or times shifted: the message says which file).
    """
    track = translation_track_of(clean_subtitles(load_subtitles(path)), language)
    if english:
        aligned = sum(text is not None for text in align_translations(english, track))
        share = aligned / len(english)
        if share < MIN_ALIGNED_SHARE:
            raise SubtitleError(
                f"{path}: only {aligned} of {len(english)} English cues have a line at the same "
                "time in this file; it is for another episode or its times are shifted. "
                "Pass the translation subtitles of the same video."
            )
        logger.debug("%s translates %d of %d English cues", path, aligned, len(english))
    return track
