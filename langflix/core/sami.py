"""SAMI (``.smi``) parsing done right: one track per language, real end times.

Korean users mostly hold SAMI files, often bilingual, and they are rarely valid
HTML: ``<P>`` and ``<SYNC>`` are left open, ``Start`` comes with or without quotes,
a ``&nbsp;`` SYNC clears the screen, ``<br>`` breaks lines. The parsers people
reach for either merge the language classes into one track and guess end times
(pysubs2) or are slow (pycaption); this one scans the text once with a few regular
expressions and keeps each class apart:

* every ``<P Class=X>`` belongs to class X; a ``<P>`` without a class (or text
  without any ``<P>``) belongs to the class seen last;
* a cue of class X ends at the next SYNC of class X (text or ``&nbsp;`` clear);
  a class-less clear ends every cue that is open at that time;
* when a class's times jump back (one language's whole film first, the other's
  after it, both under one class name), a new run starts there;
* each run's language comes from its letters (a class name can lie), with the
  ``<STYLE>`` ``lang:`` or the class name as a hint; runs of one class and one
  language form one track.

Comments, and the HEAD of a second SAMI document pasted after the first, are never
dialogue. This module does not import :mod:`langflix.core.subtitles` (which imports
it and turns :class:`SamiTrack` into ``SubtitleTrack``), so there is no import cycle.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final, NamedTuple

from langflix.core.text_encoding import guess_language, language_from_tag
from langflix.errors import SubtitleError

__all__ = [
    "MAX_HOLD_SECONDS",
    "RESET_SECONDS",
    "SamiCue",
    "SamiTrack",
    "default_duration",
    "is_sami",
    "parse_sami",
]

RESET_SECONDS: Final[float] = 60.0
"""A class's SYNC time falling back by more than this starts a new run (block layout).
Smaller steps back are sloppy ordering inside one run and are sorted out."""

MAX_HOLD_SECONDS: Final[float] = 15.0
"""A cue with no clear for longer than this comes from a file without ``&nbsp;``
SYNCs (the text would otherwise stay over minutes of silence); it ends after its
reading time instead."""


class SamiCue(NamedTuple):
    """One cue in seconds; text is plain, lines joined with ``\\n``."""

    start: float
    end: float
    text: str


@dataclass(frozen=True, slots=True)
class SamiTrack:
    """The cues of one class in one language."""

    label: str
    language: str | None
    cues: tuple[SamiCue, ...]


def default_duration(text: str) -> float:
    """Reading time of ``text`` (15 characters a second, 2 to 6 s): the end of a cue
    nothing else ends, e.g. the last cue of a file."""
    return max(2.0, min(6.0, 0.5 + len(text) / 15.0))


_SAMI_START: Final[re.Pattern[str]] = re.compile(r"\A\s*(?:<!--.*?-->\s*)*<\s*sami\b", re.I | re.S)
# What is never dialogue, even inside the body: comments, and the HEAD/STYLE/TITLE of a
# second SAMI document pasted after the first (one way "Korean film, then English film"
# files are made).
_NOT_DIALOGUE: Final[re.Pattern[str]] = re.compile(
    r"<!--.*?(?:-->|\Z)|<\s*(head|style|title)\b.*?(?:<\s*/\s*\1\s*>|\Z)", re.I | re.S
)
_STYLE_BLOCK: Final[re.Pattern[str]] = re.compile(r"<\s*style\b[^>]*>(.*?)(?:<\s*/\s*style\s*>|\Z)", re.I | re.S)
_CLASS_RULE: Final[re.Pattern[str]] = re.compile(r"\.([A-Za-z_][\w-]*)\s*\{([^}]*)\}")
_LANG_DECL: Final[re.Pattern[str]] = re.compile(r"\blang\s*:\s*([A-Za-z]{2,3})", re.I)
_BODY_START: Final[re.Pattern[str]] = re.compile(r"<\s*body\b[^>]*>", re.I)
_SYNC_TAG: Final[re.Pattern[str]] = re.compile(r"<\s*sync\b([^>]*)>", re.I)
_START_ATTR: Final[re.Pattern[str]] = re.compile(
    r"""\bstart\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]*))""", re.I
)
_PLAIN_START: Final[re.Pattern[str]] = re.compile(r"""\s+start\s*=\s*(["']?)(\d+)\1\s*""", re.I)
_MS_VALUE: Final[re.Pattern[str]] = re.compile(r"\d+(?:\.\d*)?")
_SYNC_OR_P_TAG: Final[re.Pattern[str]] = re.compile(r"<\s*(sync|p)\b([^>]*)>", re.I)
_CLASS_ATTR: Final[re.Pattern[str]] = re.compile(
    r"""\bclass\s*=\s*(?:"\s*([^"]*?)\s*"|'\s*([^']*?)\s*'|([^\s>]*))""", re.I
)
_NOT_NEWLINE: Final[re.Pattern[str]] = re.compile(r"[^\n]")
_BR_TAG: Final[re.Pattern[str]] = re.compile(r"<\s*br\s*/?\s*>", re.I)
# A tag starts with a letter, "/" or "!": "I <3 you" and "a < b" are text, not tags.
_ANY_TAG: Final[re.Pattern[str]] = re.compile(r"<\s*[/!]?\s*[A-Za-z][^>]*>")


def is_sami(text: str) -> bool:
    """True when ``text`` opens with a ``<SAMI>`` element (whatever the file is called)."""
    return _SAMI_START.match(text) is not None


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _class_languages(text: str) -> dict[str, str]:
    """``lang:`` of each class in the ``<STYLE>`` blocks, keyed by lower-case class name."""
    languages: dict[str, str] = {}
    for block in _STYLE_BLOCK.finditer(text):
        for rule in _CLASS_RULE.finditer(block.group(1)):
            lang = _LANG_DECL.search(rule.group(2))
            if lang is not None:
                tag = lang.group(1)
                languages[rule.group(1).lower()] = language_from_tag(tag) or tag.lower()
    return languages


def _language_hint(label: str, declared: dict[str, str]) -> str | None:
    # Class names as real files spell them: KRCC, KOKRCC, ENCC, ENUSCC, EGCC, JPCC, ...
    key = label.lower()
    if key in declared:
        return declared[key]
    return language_from_tag(key.removesuffix("cc"))


def _clean(fragment: str) -> str:
    """Markup of one paragraph to plain text: lines from ``<br>`` only, tags and
    entities gone, no empty lines."""
    # Raw newlines in the markup are plain whitespace (HTML rules); collapsing them
    # first means "word\nword" never becomes a line break and "<br>" never glues words.
    text = " ".join(fragment.split())
    if "<" in text:
        text = _BR_TAG.sub("\n", text)
        text = _ANY_TAG.sub("", text)
    if "&" in text:
        text = html.unescape(text).replace("\xa0", " ").replace("\u200b", "")
    if "\n" not in text:
        return text.strip()
    lines = (line.strip() for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


def _class_of(attrs: str) -> str | None:
    match = _CLASS_ATTR.search(attrs)
    if match is None:
        return None
    name = match.group(1) or match.group(2) or match.group(3) or ""
    return name or None


def _start_ms(text: str, body_offset: int, tag: re.Match[str], source: str) -> float:
    attrs = tag.group(2)
    plain = _PLAIN_START.fullmatch(attrs)
    if plain is not None:  # the usual ' Start=1500' / ' Start="1500"', without the general path
        return float(plain.group(2))
    match = _START_ATTR.search(attrs)
    raw = None if match is None else next((g for g in match.groups() if g is not None), "")
    value = None if raw is None else raw.strip().lower().removesuffix("ms")
    if value is None or _MS_VALUE.fullmatch(value) is None:
        line = _line_of(text, body_offset + tag.start())
        shown = tag.group(0) if len(tag.group(0)) <= 80 else tag.group(0)[:77] + "..."
        raise SubtitleError(
            f"{source}, line {line}: malformed SAMI timestamp in {shown!r}; a SYNC needs "
            "Start=<milliseconds> (e.g. <SYNC Start=1500>). Fix or delete that line and try again."
        )
    return float(value)


class _Event(NamedTuple):
    ms: float
    text: str  # "" is a clear


def _add_clear_to_open_cues(events: dict[str, list[_Event]], ms: float) -> None:
    """A SYNC with no class and no text (the usual "&nbsp;" SYNC) ends every cue open
    at this time. A class whose last event is later (an earlier block of a
    block-after-block file) is not touched."""
    for class_events in events.values():
        last = class_events[-1]
        if last.text and last.ms <= ms:
            class_events.append(_Event(ms, ""))


def _collect_events(text: str, body: str, body_offset: int, source: str) -> dict[str, list[_Event]]:
    """Per class, its SYNC events in document order, from one pass over the tags."""
    events: dict[str, list[_Event]] = {}
    last_class = ""
    sync_ms: float | None = None  # None until the first SYNC: text before it is ignored
    label: str | None = None  # class of the open <P>; None before any <P> of this SYNC
    texts: dict[str, list[str]] = {}
    # Real files repeat the same fragments ("&nbsp;", attribute strings) thousands of
    # times; caching them keeps a feature film's parse well under pysubs2's time.
    cleaned_cache: dict[str, str] = {}
    class_cache: dict[str, str | None] = {}

    def add(fragment: str) -> None:
        if sync_ms is None or (label is None and (not fragment or fragment.isspace())):
            return
        cleaned = cleaned_cache.get(fragment)
        if cleaned is None:
            cleaned = cleaned_cache[fragment] = _clean(fragment)
        if label is None:
            if not cleaned:
                return  # a class-less "&nbsp;"
            texts.setdefault(last_class, []).append(cleaned)
        else:
            # An empty paragraph of a named class is that class's clear.
            texts.setdefault(label, []).append(cleaned)

    def close_sync() -> None:
        if sync_ms is None:
            return
        if not texts:
            _add_clear_to_open_cues(events, sync_ms)
            return
        for name, parts in texts.items():
            joined = parts[0] if len(parts) == 1 else "\n".join(part for part in parts if part)
            events.setdefault(name, []).append(_Event(sync_ms, joined))

    cursor = 0
    for tag in _SYNC_OR_P_TAG.finditer(body):
        add(body[cursor : tag.start()])
        cursor = tag.end()
        if tag.group(1).lower() == "sync":
            close_sync()
            sync_ms = _start_ms(text, body_offset, tag, source)
            label = None
            texts = {}
        else:
            attrs = tag.group(2)
            if attrs in class_cache:
                label = class_cache[attrs]
            else:
                label = class_cache[attrs] = _class_of(attrs)
            if label is not None:
                last_class = label
    add(body[cursor:])
    close_sync()
    return events


def _runs(events: list[_Event]) -> list[list[_Event]]:
    runs: list[list[_Event]] = [[]]
    latest = float("-inf")
    for event in events:
        if runs[-1] and event.ms < latest - RESET_SECONDS * 1000:
            runs.append([])
            latest = float("-inf")
        runs[-1].append(event)
        latest = max(latest, event.ms)
    return runs


def _cues(run: list[_Event]) -> list[SamiCue]:
    # Stable sort: small steps back are sloppy ordering; equal times keep file order,
    # and the later of two texts at one time replaces the earlier (zero-length) one.
    ordered = sorted(run, key=lambda event: event.ms)
    cues: list[SamiCue] = []
    for index, event in enumerate(ordered):
        if not event.text:
            continue
        start = event.ms / 1000.0
        reading = default_duration(event.text)
        if index + 1 < len(ordered):
            end = ordered[index + 1].ms / 1000.0
            if end - start > MAX_HOLD_SECONDS:
                end = start + reading
        else:
            end = start + reading
        if end > start:
            cues.append(SamiCue(start, end, event.text))
    return cues


def parse_sami(text: str, *, source: str | Path = "<SAMI text>") -> list[SamiTrack]:
    """Tracks of a decoded SAMI document, in order of first appearance.

    Raises :class:`SubtitleError` naming ``source`` and the line for a SYNC without a
    readable ``Start``, and when no cue has any text.
    """
    source = str(source)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    declared = _class_languages(text)
    body_match = _BODY_START.search(text)
    if body_match is not None:
        body_offset = body_match.end()
    else:
        first_sync = _SYNC_TAG.search(text)
        body_offset = first_sync.start() if first_sync is not None else len(text)
    body = text[body_offset:]
    # Blanked with spaces (newlines kept), so offsets and hence the line numbers in
    # error messages stay those of the file.
    body = _NOT_DIALOGUE.sub(lambda m: _NOT_NEWLINE.sub(" ", m.group(0)), body)

    events = _collect_events(text, body, body_offset, source)

    groups: dict[tuple[str, str | None], list[SamiCue]] = {}
    for label, class_events in events.items():
        hint = _language_hint(label, declared)
        for run in _runs(class_events):
            cues = _cues(run)
            if not cues:
                continue
            language = guess_language((cue.text for cue in cues), hint)
            groups.setdefault((label, language), []).extend(cues)

    tracks = [
        SamiTrack(label=label, language=language, cues=tuple(sorted(cues)))
        for (label, language), cues in groups.items()
    ]
    if not tracks:
        raise SubtitleError(
            f"{source} holds no usable SAMI cue (no <SYNC Start=...> with text). "
            "Check that it is a subtitle file and not empty."
        )
    return tracks
