"""Subtitle files (SRT, WebVTT, ASS/SSA, SAMI) as tracks of plain-text cues.

Everything downstream (expression choice, clips, title cards) needs the same
thing from a subtitle file: cues with sane times and plain text, one track per
language, and for a bilingual file the other language's line for an English cue.
This module is that boundary. It reads the bytes itself (:mod:`text_encoding`
decides the encoding, so a BOM or CP949 never confuses a parser), hands SRT/VTT/ASS
text to pysubs2 with an explicit format, parses SAMI with our own parser
(:mod:`sami`), and normalises the result the same way for every format: tags and
entities gone, empty cues dropped, cues sorted, zero or negative durations fixed.
Anything unusable raises :class:`SubtitleError` naming the file (and line).
"""

from __future__ import annotations

import bisect
import html
import re
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Final

import pysubs2

from langflix.core.sami import default_duration, is_sami, parse_sami
from langflix.core.text_encoding import decode_text, guess_language, language_from_tag
from langflix.errors import SubtitleError

__all__ = [
    "Cue",
    "MAX_SUBTITLE_BYTES",
    "SUPPORTED_SUFFIXES",
    "SubtitleTrack",
    "Subtitles",
    "load_subtitles",
]

SUPPORTED_SUFFIXES: Final[frozenset[str]] = frozenset({".ass", ".sami", ".smi", ".srt", ".ssa", ".vtt"})

MAX_SUBTITLE_BYTES: Final[int] = 64 * 1024 * 1024
"""Largest file accepted: a feature film's subtitles are well under 1 MB, so anything
this big is the wrong file (a video renamed .srt) and is refused before it is read."""

_SUFFIX_FORMAT: Final[dict[str, str]] = {
    ".ass": "ass",
    ".sami": "sami",
    ".smi": "sami",
    ".srt": "srt",
    ".ssa": "ssa",
    ".vtt": "vtt",
}


@dataclass(frozen=True, slots=True)
class Cue:
    """One subtitle: times in seconds, plain text with lines joined by ``\\n``."""

    start: float
    end: float
    text: str

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class SubtitleTrack:
    """The cues of one language (one SAMI class, one ASS style group, one SRT file),
    sorted by start."""

    language: str | None
    label: str
    cues: tuple[Cue, ...]

    @cached_property
    def _starts(self) -> list[float]:
        return [cue.start for cue in self.cues]

    @cached_property
    def _longest(self) -> float:
        return max((cue.duration for cue in self.cues), default=0.0)

    def overlapping(self, start: float, end: float) -> tuple[Cue, ...]:
        """Cues shown at some moment of ``[start, end)``, found by bisection (the
        pipeline asks this for every expression of a feature film)."""
        starts = self._starts
        # No cue is longer than the longest one, so earlier starts cannot reach `start`.
        low = bisect.bisect_left(starts, start - self._longest)
        high = bisect.bisect_left(starts, end)
        return tuple(cue for cue in self.cues[low:high] if cue.end > start and cue.start < end)

    def text_during(self, cue: Cue) -> str | None:
        """This track's text shown with ``cue`` (from another track), or None when silent then.

        The cues that mostly coincide with ``cue`` are joined in time order (an
        English line may span two Korean ones); a neighbour that only grazes its
        edge is not its translation. When none mostly coincides, the one that
        shares the most time is taken.
        """
        candidates = [other for other in self.overlapping(cue.start, cue.end) if other != cue]
        if not candidates:
            return None

        def shared(other: Cue) -> float:
            return min(cue.end, other.end) - max(cue.start, other.start)

        chosen = [
            other
            for other in candidates
            if shared(other) >= 0.5 * min(cue.duration, other.duration)
        ] or [max(candidates, key=shared)]
        return "\n".join(other.text for other in chosen)


@dataclass(frozen=True)
class Subtitles:
    """A parsed subtitle file: its format and its tracks (one per language)."""

    path: Path
    format: str
    tracks: tuple[SubtitleTrack, ...]

    @property
    def languages(self) -> tuple[str | None, ...]:
        return tuple(track.language for track in self.tracks)

    def _find(self, language: str) -> SubtitleTrack | None:
        wanted = _normal_language(language)
        matching = [track for track in self.tracks if track.language == wanted]
        # Two tracks of one language (ENCC and ENUSCC): the fuller one is the real one.
        return max(matching, key=lambda track: len(track.cues), default=None)

    def track(self, language: str = "en") -> SubtitleTrack:
        """The track in ``language`` ("en", "en-US", "eng" all mean English)."""
        found = self._find(language)
        if found is None:
            have = ", ".join(f"{t.language or 'unknown'} ({t.label})" for t in self.tracks)
            raise SubtitleError(
                f"{self.path} has no {language!r} subtitle track (it has: {have}). "
                f"Use a subtitle file with {language!r} text, or a bilingual one."
            )
        return found

    def translation_track(self, language: str | None = None) -> SubtitleTrack | None:
        """The track that translates the English one: ``language``'s, or by default the
        first track in a known language other than English; None when there is none."""
        if language is not None:
            return self._find(language)
        return next((t for t in self.tracks if t.language != "en" and t.language is not None), None)

    def translation_for(self, cue: Cue, language: str | None = None) -> str | None:
        """Text of ``language``'s track shown with ``cue`` (default: the first
        non-English track); None when that track is missing or silent there.

        A bilingual file is a free, offline translation: the other language's cue
        that overlaps the English one says the same thing.
        """
        target = self.translation_track(language)
        return None if target is None else target.text_during(cue)


def _normal_language(language: str) -> str:
    return language_from_tag(language) or language.strip().lower().split("-")[0]


# ---------------------------------------------------------------------------
# Normalisation shared by every format


def _normalize(raw: Iterable[tuple[float, float, str]]) -> tuple[Cue, ...]:
    """Sorted cues with text, positive durations and no exact duplicates."""
    items: list[tuple[float, float, str]] = []
    for start, end, text in raw:
        text = "\n".join(line for line in (" ".join(part.split()) for part in text.split("\n")) if line)
        if not text:
            continue
        if start < 0:
            if end <= 0:
                continue
            start = 0.0
        items.append((start, end, text))
    items.sort()
    cues: list[Cue] = []
    previous: tuple[float, float, str] | None = None
    for index, item in enumerate(items):
        if item == previous:
            continue  # the same line twice (merged or re-saved files)
        previous = item
        start, end, text = item
        if end <= start:
            # Zero or negative duration (typo in the file): show it for its reading time,
            # but not over the next cue.
            end = start + default_duration(text)
            following = index + 1
            while following < len(items) and items[following][0] <= start:
                following += 1
            if following < len(items):
                end = min(end, items[following][0])
        cues.append(Cue(start, end, text))
    return tuple(cues)


# ---------------------------------------------------------------------------
# SRT / WebVTT / ASS through pysubs2

_SRT_TIME: Final[str] = r"(\d{1,2}):(\d{1,2}):(\d{1,2})[,.](\d{1,3})"
_SRT_TIMING: Final[re.Pattern[str]] = re.compile(rf"\s*{_SRT_TIME}\s*-->\s*{_SRT_TIME}(?:\s.*)?")
_VTT_TIME: Final[str] = r"(?:(\d{1,4}):)?(\d{2}):(\d{2})\.(\d{3})"
_VTT_TIMING: Final[re.Pattern[str]] = re.compile(rf"\s*{_VTT_TIME}\s*-->\s*{_VTT_TIME}(?:\s.*)?")
_ASS_TIME: Final[re.Pattern[str]] = re.compile(r"\s*\d{1,2}:\d{1,2}:\d{1,2}[.:]\d{1,3}\s*")
_ASS_DEFAULT_FIELDS: Final[tuple[str, ...]] = ("layer", "start", "end")
_VTT_META_BLOCK: Final[re.Pattern[str]] = re.compile(r"(?:NOTE|STYLE|REGION)(?:[ \t]|$)")
_LEFTOVER_TAG: Final[re.Pattern[str]] = re.compile(r"<\s*/?\s*(?:[A-Za-z][^>]*|\d[\d:.]*)>")


def _timing_error(source: str, number: int, line: str, example: str) -> SubtitleError:
    shown = line.strip() if len(line.strip()) <= 80 else line.strip()[:77] + "..."
    return SubtitleError(
        f"{source}, line {number}: malformed timestamp {shown!r} (expected e.g. {example!r}). "
        "Fix or delete that line and try again."
    )


def _check_srt_like(text: str, source: str, timing: re.Pattern[str], example: str) -> None:
    """Refuse timing lines pysubs2 would silently turn into dialogue text."""
    for number, line in enumerate(text.split("\n"), 1):
        if "-->" not in line:
            continue
        match = timing.fullmatch(line)
        if match is None:
            raise _timing_error(source, number, line, example)
        # Groups are (h, m, s, ms) twice; minutes and seconds must be clock values.
        for minutes, seconds in ((2, 3), (6, 7)):
            if int(match.group(minutes)) >= 60 or int(match.group(seconds)) >= 60:
                raise _timing_error(source, number, line, example)


def _check_ass(text: str, source: str) -> None:
    fields = _ASS_DEFAULT_FIELDS
    for number, line in enumerate(text.split("\n"), 1):
        key, _, rest = line.partition(":")
        key = key.strip().lower()
        if key == "format" and "start" in rest.lower():
            fields = tuple(field.strip().lower() for field in rest.split(","))
        elif key in ("dialogue", "comment"):
            values = rest.split(",", len(fields) - 1)
            for name in ("start", "end"):
                index = fields.index(name) if name in fields else _ASS_DEFAULT_FIELDS.index(name)
                if index >= len(values) or _ASS_TIME.fullmatch(values[index]) is None:
                    raise _timing_error(source, number, line, "Dialogue: 0,0:00:01.50,0:00:03.00,...")


def _strip_vtt_metadata(text: str) -> str:
    """Drop the header, NOTE/STYLE/REGION blocks and cue identifiers: pysubs2 parses
    VTT as SRT and would glue them to the previous cue's text."""
    kept: list[str] = []
    for block in re.split(r"\n[ \t]*\n", text):
        lines = block.strip("\n").split("\n")
        timing = next((i for i, line in enumerate(lines) if "-->" in line), None)
        if timing is None:
            continue  # header, NOTE, STYLE, REGION or stray text without a time
        if _VTT_META_BLOCK.match(lines[0]) and timing > 0:
            continue
        kept.append("\n".join(lines[timing:]))
    return "\n\n".join(kept) + "\n"


def _plain(event: pysubs2.SSAEvent, markup: bool) -> str:
    text = event.plaintext
    if markup:  # SRT/VTT carry HTML-ish tags and entities; ASS text does not
        text = _LEFTOVER_TAG.sub("", text)
        if "&" in text:
            text = html.unescape(text)
    return text.replace("\xa0", " ")


def _parse_pysubs2(text: str, fmt: str, source: str, hint: str | None) -> list[tuple[str, str | None, tuple[Cue, ...]]]:
    if fmt == "srt":
        _check_srt_like(text, source, _SRT_TIMING, "00:00:01,500 --> 00:00:03,000")
    elif fmt == "vtt":
        _check_srt_like(text, source, _VTT_TIMING, "00:00:01.500 --> 00:00:03.000")
        text = _strip_vtt_metadata(text)
    else:
        _check_ass(text, source)
    try:
        subs = pysubs2.SSAFile.from_string(text, format_=fmt)
    except (pysubs2.Pysubs2Error, ValueError, LookupError, TypeError) as exc:
        raise SubtitleError(f"{source} is not a readable {fmt.upper()} file: {exc}") from exc

    markup = fmt in ("srt", "vtt")
    by_style: dict[str, list[tuple[float, float, str]]] = {}
    for event in subs.events:
        if event.is_comment or (not markup and event.is_drawing):
            continue
        by_style.setdefault(event.style, []).append((event.start / 1000.0, event.end / 1000.0, _plain(event, markup)))

    # Bilingual ASS files put each language in its own style; styles that share a
    # language ("Default", "Italics", "Top") are one track.
    by_language: dict[str | None, tuple[list[str], list[tuple[float, float, str]]]] = {}
    for style, raw in by_style.items():
        cues = _normalize(raw)
        if not cues:
            continue
        language = guess_language((cue.text for cue in cues), hint)
        styles, merged = by_language.setdefault(language, ([], []))
        styles.append(style)
        merged.extend((cue.start, cue.end, cue.text) for cue in cues)
    return [(", ".join(styles), language, _normalize(merged)) for language, (styles, merged) in by_language.items()]


# ---------------------------------------------------------------------------
# Entry point


def _sniff_format(text: str, suffix: str) -> str:
    """The format the text is in, whatever the file is called (users rename files)."""
    head = text.lstrip("\ufeff \t\n")[:4096]
    if is_sami(head):
        return "sami"
    if head.startswith("WEBVTT"):
        return "vtt"
    if "[Script Info]" in head or "[V4+ Styles]" in head or "[Events]" in head:
        return "ssa" if "[V4 Styles]" in head and "[V4+ Styles]" not in head else "ass"
    fmt = _SUFFIX_FORMAT[suffix]
    if fmt == "sami" and "<sync" not in text[:65536].lower() and "-->" in text:
        return "srt"  # an SRT saved under a .smi name
    return fmt


def _language_hint(path: Path) -> str | None:
    """Language tag of names like ``episode.en.srt`` or ``episode.kor.ass``."""
    inner = Path(path.stem).suffix
    return language_from_tag(inner[1:]) if inner else None


def _read(path: Path) -> bytes:
    try:
        info = path.stat()
        size = info.st_size
        if stat.S_ISDIR(info.st_mode):
            raise SubtitleError(f"{path} is a directory, not a subtitle file.")
        if not stat.S_ISREG(info.st_mode):
            # A FIFO or device would block or stream forever instead of failing.
            raise SubtitleError(f"{path} is not a regular file. Pass the subtitle file itself.")
        if size > MAX_SUBTITLE_BYTES:
            raise SubtitleError(
                f"{path} is {size / 1024**2:.0f} MB, too large for a subtitle file "
                f"(limit {MAX_SUBTITLE_BYTES // 1024**2} MB). Check that you chose the subtitle file, not the video."
            )
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise SubtitleError(f"{path} does not exist. Check the subtitle path.") from exc
    except PermissionError as exc:
        raise SubtitleError(f"{path} cannot be read (permission denied). Fix its permissions and try again.") from exc
    except OSError as exc:
        raise SubtitleError(f"{path} cannot be read: {exc.strerror or exc}.") from exc


def load_subtitles(path: Path) -> Subtitles:
    """Parse a subtitle file into tracks of cues, one per language.

    Raises :class:`SubtitleError` naming the file (and the line where known) for an
    unsupported extension, unreadable or binary data, malformed timestamps, or a file
    with no usable cue.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise SubtitleError(
            f"{path}: unsupported subtitle extension {suffix or '(none)'!r}; "
            f"supported: {', '.join(sorted(SUPPORTED_SUFFIXES))}. Convert the file to one of them (SRT is safest)."
        )
    data = _read(path)
    if not data.strip():
        raise SubtitleError(f"{path} is empty. Choose a subtitle file that contains subtitles.")
    text = decode_text(data, source=path).text.lstrip("\ufeff")
    fmt = _sniff_format(text, suffix)
    hint = _language_hint(path)

    tracks: list[SubtitleTrack] = []
    if fmt == "sami":
        for sami_track in parse_sami(text, source=path):
            cues = _normalize(sami_track.cues)
            if cues:
                tracks.append(SubtitleTrack(sami_track.language, sami_track.label, cues))
    else:
        for label, language, cues in _parse_pysubs2(text, fmt, str(path), hint):
            tracks.append(SubtitleTrack(language, label, cues))

    if not tracks:
        raise SubtitleError(
            f"{path} holds no usable {fmt.upper()} cue (no timed line with text). "
            "Check that it is the right file and that it is not empty."
        )
    return Subtitles(path=path, format=fmt, tracks=tuple(tracks))
