"""Subtitles as dialogue: sound descriptions, speaker labels and leftover markup removed.

Subtitles for the deaf and hard of hearing (SDH) carry more than speech: ``[MUSIC]``,
``(laughs)``, ``♪ lyrics ♪``, ``JOHN:``. Left in, they are chosen as "expressions",
drawn on the scene and read aloud. This module turns a cue into what was said:

- ``[...]`` (and ``【...】``) is always a description: dialogue never uses square brackets.
- ``(...)`` is a description when it is written in capitals ("(SIGHS)"), stands at the
  start or the end of a line ("(laughs) Fine.", "Fine. (laughs)"), or starts with a
  sound word ("he's (clears throat) fine"). Anywhere else it is kept as dialogue:
  "I (really) mean it" is a speaker's aside, not a sound.
- ``♪ ... ♪`` (and a line that starts with a note) is sung, not said: removed.
- Speaker labels in capitals at the start of a line (``JOHN:``, ``- MARY:``,
  ``DR. SMITH (V.O.):``, ``>> ANCHOR:``) are removed; a mixed-case "Note:" is dialogue.
- Leftover tags (``<i>``, ``<font ...>``, ``{\\an8}``), doubled spaces and the gaps a
  removal leaves ("Well , fine") are tidied; a line left with only punctuation goes.
- A cue left with no words is dropped; a cue left with one speaker loses its dash.

Pure functions, the same for every language (Korean SDH uses the same brackets).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import replace
from typing import Final

from langflix.core.subtitles import Cue, Subtitles, SubtitleTrack
from langflix.errors import SubtitleError

__all__ = ["SOUND_WORDS", "clean_cues", "clean_subtitles", "clean_text", "clean_track"]

logger = logging.getLogger(__name__)

SOUND_WORDS: Final[frozenset[str]] = frozenset(
    """
    applause beep beeping breath breathes breathing buzzing chatter chattering cheering cheers
    chuckle chuckles chuckling clapping clatter clears cough coughing coughs cries crying
    crowd door exhales gasp gasps gasping grunt grunts grunting groans groaning hum humming
    hums indistinct inaudible inhales knock knocking knocks laugh laughing laughs laughter
    moans music mutters muttering panting phone ringing rings scoff scoffs scream screaming
    screams shouting shouts sigh sighing sighs sings singing sneezes sniffles sniffs snoring
    snorts sobbing sobs speaking static thud whimpers whispering whispers whistling yawns
    yelling
    """.split()
)
"""First words that mark a parenthetical as a sound even mid-line ("he's (sighs) fine")."""

_TAG: Final = re.compile(r"<\s*/?\s*[A-Za-z][^<>]*>|\{\\[^{}]*\}")
_SQUARE: Final = re.compile(r"\[[^\[\]]*\]|【[^【】]*】")
# An unclosed bracket that a description leaves at the end of a cue ("[door\nslams").
_SQUARE_OPEN: Final = re.compile(r"\[[^\[\]]*$")
_MUSIC_NOTES: Final[str] = "♪♫♬🎵🎶"
_MUSIC: Final = re.compile(f"[{_MUSIC_NOTES}][^{_MUSIC_NOTES}\n]*[{_MUSIC_NOTES}]")
_MUSIC_LINE: Final = re.compile(f"^\\s*[{_MUSIC_NOTES}].*$", re.MULTILINE)
_PAREN: Final = re.compile(r"[(（]([^()（）]*)[)）]")
# Dialogue asides are short; a parenthetical broken over two lines is a description.
_PAREN_MULTILINE: Final = re.compile(r"[(（][^()（）]*\n[^()（）]*[)）]")
# A line opens with a dialogue dash or a broadcast ">>", then maybe a label.
_LEAD: Final = re.compile(r"^(?P<dash>(?:\s*(?:[-‐–—]|>>)\s*)+)?")
_LABEL: Final = re.compile(
    r"(?P<label>[A-Z][A-Z0-9#'’.\- ]*?(?:\s*\([A-Z0-9 .'’/-]+\))?)\s*:(?=\s|$)"
)
_WORD: Final = re.compile(r"\w", re.UNICODE)
_SPACE_BEFORE_PUNCT: Final = re.compile(r"\s+([,!?;:]|\.(?!\.))")
_SPACES: Final = re.compile(r"[ \t\u00a0\u3000]+")
_DASH_ONLY: Final = re.compile(r"^(?:\s*(?:[-‐–—]|>>)\s*)+")


def clean_text(text: str) -> str:
    """The words spoken in a cue's ``text``; ``""`` when it held only sounds and labels."""
    text = _TAG.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = _SQUARE.sub(" ", text)
    text = _SQUARE_OPEN.sub(" ", text)
    text = _MUSIC.sub(" ", text)
    text = _MUSIC_LINE.sub("", text)
    text = _PAREN_MULTILINE.sub(" ", text)
    text = "".join(char for char in text if char not in _MUSIC_NOTES)
    lines = [_clean_line(line) for line in text.split("\n")]
    lines = [line for line in lines if _WORD.search(line)]
    if len(lines) == 1:
        # One speaker left: the dialogue dash that told two apart means nothing now.
        lines[0] = _DASH_ONLY.sub("", lines[0], count=1)
    return "\n".join(lines)


def _clean_line(line: str) -> str:
    # A removal can expose another ("(laughs) JOHN: Hi"): repeat until nothing changes.
    # Every pass that changes the line removes something, so this ends.
    for _ in range(len(line) + 2):
        cleaned = _clean_line_once(line)
        if cleaned == line:
            break
        line = cleaned
    return line


def _clean_line_once(line: str) -> str:
    line = _drop_label(line)
    line = _PAREN.sub(lambda match: _keep_aside(match, line), line)
    line = _SPACES.sub(" ", line).strip()
    line = _SPACE_BEFORE_PUNCT.sub(r"\1", line)
    # A removal at the start can leave "- , fine" or ": fine": drop the stray mark.
    lead = _LEAD.match(line)
    dash = lead.group("dash") if lead else None
    rest = line[lead.end() :] if lead else line
    rest = rest.lstrip(" ,;:")
    if not dash or not rest:
        return rest
    # However many dashes the removal left ("- - Hi"), the speaker gets one.
    mark = ">>" if dash.lstrip().startswith(">>") else dash.lstrip()[0]
    return f"{mark} {rest}"


def _drop_label(line: str) -> str:
    lead = _LEAD.match(line)
    start = lead.end() if lead else 0
    label = _LABEL.match(line, start)
    if label is None or sum(char.isalpha() for char in label.group("label")) < 2:
        return line
    dash = (lead.group("dash") or "") if lead else ""
    return dash + line[label.end() :]


def _keep_aside(match: re.Match[str], line: str) -> str:
    """The parenthetical itself when it is part of the dialogue, else a space."""
    inner = match.group(1).strip()
    letters = [char for char in inner if char.isalpha()]
    shouted = bool(letters) and not any(char.islower() for char in letters)
    before = _LEAD.sub("", line[: match.start()]).strip()
    after = line[match.end() :].strip(" .,!?;:…-")
    first_word = inner.split()[0].lower().strip(".,!?") if inner.split() else ""
    at_edge = not before or not after
    if shouted or at_edge or first_word in SOUND_WORDS or not letters:
        return " "
    return match.group(0)


def clean_cues(cues: Iterable[Cue]) -> tuple[Cue, ...]:
    """Each cue with :func:`clean_text` applied; cues left with no words are dropped."""
    cleaned: list[Cue] = []
    for cue in cues:
        text = clean_text(cue.text)
        if text:
            cleaned.append(cue if text == cue.text else Cue(cue.start, cue.end, text))
    return tuple(cleaned)


def clean_track(track: SubtitleTrack) -> SubtitleTrack:
    """``track`` with every cue cleaned (times untouched, so tracks still align)."""
    cues = clean_cues(track.cues)
    if len(cues) != len(track.cues):
        logger.debug(
            "dropped %d of %d cues of %s that held only sound descriptions",
            len(track.cues) - len(cues), len(track.cues), track.label,
        )  # fmt: skip
    return SubtitleTrack(track.language, track.label, cues)


def clean_subtitles(subtitles: Subtitles) -> Subtitles:
    """Every track of ``subtitles`` cleaned; a track left empty is dropped.

    Kept as a :class:`Subtitles`, so ``track()`` and ``translation_for()`` work
    on the cleaned cues exactly as on the file's. Raises :class:`SubtitleError`
    when no track has a spoken line left.
    """
    tracks = tuple(track for track in map(clean_track, subtitles.tracks) if track.cues)
    if not tracks:
        raise SubtitleError(
            f"{subtitles.path} holds only sound descriptions and speaker labels, no dialogue "
            "to learn from; use the dialogue subtitles of the episode"
        )
    return replace(subtitles, tracks=tracks)
