"""An episode's study deck: an Anki package (``.apkg``) and a plain TSV beside it.

One note per expression: the line it was said in (the expression lit up), its
translation, meaning and kind, the line's audio (the actor's own voice), a
screenshot of the scene and, optionally, the short. Every id is derived from
the episode and the expression, never from the clock: the deck's id, the
note's guid (what Anki matches on import, so importing a second run of the same
episode updates its cards instead of adding copies) and the ids of the rows in
the package's collection. The modification time is the run's, so Anki sees the
re-imported notes as newer.

The package is written here, inside the caller's temp area: genanki's own
``Package.write_to_file`` puts its SQLite file in the system temp directory and
never removes it, so only its ``write_to_db`` is used, on a file of the area,
and the zip (collection, ``media`` map, numbered media files) is made here.
"""

from __future__ import annotations

import hashlib
import html
import itertools
import json
import re
import sqlite3
import unicodedata
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import genanki  # type: ignore[import-untyped]  # ships no type information

from langflix.temp import TempArea

__all__ = [
    "DECK_FIELDS",
    "DeckNote",
    "TSV_COLUMNS",
    "deck_id",
    "deck_tsv",
    "media_name",
    "note_guid",
    "note_guids",
    "write_deck",
]

DECK_FIELDS: Final[tuple[str, ...]] = (
    "Expression", "Line", "Translation", "Meaning", "Kind", "Audio", "Screenshot", "Short", "Episode",
)  # fmt: skip
"""The note type's fields, in order (what a card template or an add-on reads)."""
TSV_COLUMNS: Final[tuple[str, ...]] = (
    "expression", "line", "translation", "meaning", "kind", "level", "audio", "screenshot", "short", "episode",
)  # fmt: skip

_MODEL_ID: Final[int] = 1_729_840_311
"""The note type's id: fixed, so every LangFlix deck shares one note type in a collection."""
_ID_LOW: Final[int] = 1 << 30
_ROW_ID_BASE: Final[int] = 1_000_000_000_000
_ROW_ID_SPAN: Final[int] = 1 << 40
_ROWS_PER_NOTE: Final[int] = 4  # a note, its card, room to spare
_SLUG: Final = re.compile(r"[^a-z0-9]+")

_CSS: Final[str] = """.card { font-family: "Noto Sans", "Noto Sans CJK KR", sans-serif; font-size: 22px;
  text-align: center; color: #1b2440; background: #fafbfd; }
.line { font-size: 26px; } .hl { color: #c47a00; font-weight: bold; }
.expression { font-size: 34px; font-weight: bold; } .kind { color: #6b7a99; font-size: 16px; }
.translation { color: #2a6fb0; } .meaning { margin: 12px 0; } img { max-width: 100%; }
"""
_FRONT: Final[str] = '{{Screenshot}}<div class="line">{{Line}}</div>{{Audio}}'
_BACK: Final[str] = (
    '{{FrontSide}}<hr id="answer"><div class="expression">{{Expression}}</div>'
    '<div class="kind">{{Kind}}</div><div class="meaning">{{Meaning}}</div>'
    '<div class="translation">{{Translation}}</div>{{Short}}'
)


@dataclass(frozen=True, slots=True)
class DeckNote:
    """One expression's note; ``audio``, ``still`` and ``short`` are files to pack."""

    phrase: str
    line: str
    audio: Path
    still: Path
    line_highlights: tuple[tuple[int, int], ...] = ()
    translation: str | None = None
    meaning: str | None = None
    kind: str | None = None
    level: str | None = None
    short: Path | None = None


def _number(*parts: str) -> int:
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big")


def deck_id(episode: str) -> int:
    """The deck's id: the same for every run of ``episode`` (genanki's advised range)."""
    return _ID_LOW + _number("langflix-deck", episode) % _ID_LOW


def note_guid(episode: str, phrase: str, occurrence: int = 0) -> str:
    """The note's guid: what Anki matches a re-imported note by (``occurrence``: the phrase's
    n-th note in the episode, 0 for the first)."""
    parts = ("langflix", episode, " ".join(phrase.lower().split()))
    return str(genanki.guid_for(*parts, *([str(occurrence)] if occurrence else [])))


def note_guids(episode: str, phrases: Sequence[str]) -> list[str]:
    """The guid of each note of a deck of ``phrases``, in order (a repeated phrase counts its occurrences)."""
    seen: dict[str, int] = {}
    guids = []
    for phrase in phrases:
        key = " ".join(phrase.lower().split())
        guids.append(note_guid(episode, phrase, seen.get(key, 0)))
        seen[key] = seen.get(key, 0) + 1
    return guids


def media_name(episode: str, index: int, phrase: str, suffix: str) -> str:
    """A media file's name in the package: unique across a collection's media folder, and stable."""

    def slug(text: str, limit: int) -> str:
        ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
        return _SLUG.sub("-", ascii_text).strip("-")[:limit].strip("-")

    tag = f"{_number('langflix-media', episode) % 16**8:08x}"
    return f"langflix-{slug(episode, 40) or 'episode'}-{tag}-{index + 1:02d}-{slug(phrase, 40) or 'expression'}{suffix}"


def _text(value: str) -> str:
    """Plain text as note HTML (markup characters shown as typed)."""
    return html.escape(value, quote=False)


def _marked_line(line: str, highlights: Sequence[tuple[int, int]]) -> str:
    """The line as HTML with each highlighted span in ``<span class="hl">``."""
    out, at = [], 0
    for start, end in sorted((max(0, s), min(len(line), e)) for s, e in highlights):
        if start < at or start >= end:
            continue
        out += [_text(line[at:start]), f'<span class="hl">{_text(line[start:end])}</span>']
        at = end
    out.append(_text(line[at:]))
    return "".join(out)


def _model() -> genanki.Model:
    return genanki.Model(
        _MODEL_ID,
        "LangFlix expression",
        fields=[{"name": name} for name in DECK_FIELDS],
        templates=[{"name": "Line to expression", "qfmt": _FRONT, "afmt": _BACK}],
        css=_CSS,
    )


def _row_ids(episode: str) -> Iterator[int]:
    """The ids of the collection's rows (notes, cards): stable for one episode's notes in order."""
    return itertools.count(_ROW_ID_BASE + _number("langflix-rows", episode) % _ROW_ID_SPAN)


def write_deck(
    area: TempArea,
    notes: Sequence[DeckNote],
    *,
    episode: str,
    title: str | None = None,
    timestamp: float,
) -> Path:
    """The ``.apkg`` of ``notes``, as a new file of ``area`` (the caller persists or releases it).

    ``episode`` identifies the deck (ids, guids, media names); ``title`` names it
    in Anki (default: "LangFlix::<episode>"); ``timestamp`` is the notes'
    modification time (the run's clock).
    """
    if not notes:
        raise ValueError("a deck needs at least one note")
    deck = genanki.Deck(deck_id(episode), title or f"LangFlix::{episode}")
    model = _model()
    media: list[tuple[str, Path]] = []
    guids = note_guids(episode, [note.phrase for note in notes])
    for index, note in enumerate(notes):
        audio = media_name(episode, index, note.phrase, note.audio.suffix)
        still = media_name(episode, index, note.phrase, note.still.suffix)
        media += [(audio, note.audio), (still, note.still)]
        short_field = ""
        if note.short is not None:
            short = media_name(episode, index, note.phrase, note.short.suffix)
            media.append((short, note.short))
            short_field = f"[sound:{short}]"
        fields = [
            _text(note.phrase), _marked_line(note.line, note.line_highlights),
            _text(note.translation or ""), _text(note.meaning or ""),
            _text(" · ".join(part for part in (note.kind, note.level) if part)),
            f"[sound:{audio}]", f'<img src="{html.escape(still)}">', short_field, _text(episode),
        ]  # fmt: skip
        deck.add_note(
            genanki.Note(model=model, fields=fields, guid=guids[index], sort_field=0)
        )
    # A directory of its own: SQLite may leave a journal beside the collection if it fails.
    folder = area.new_dir(prefix="deck_")
    collection = folder / "collection.anki2"
    out: Path | None = None
    try:
        connection = sqlite3.connect(collection)
        try:
            genanki.Package(deck).write_to_db(connection.cursor(), timestamp, _row_ids(episode))
            connection.commit()
        finally:
            connection.close()
        out = area.new_file(suffix=".apkg", prefix="deck_")
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as package:
            package.write(collection, "collection.anki2")
            package.writestr("media", json.dumps({str(i): name for i, (name, _) in enumerate(media)}))
            for i, (_, path) in enumerate(media):
                # Already compressed (MP3, JPEG, H.264): stored as they are.
                package.write(path, str(i), compress_type=zipfile.ZIP_STORED)
    except BaseException:
        if out is not None:
            area.release(out)
        raise
    finally:
        area.release(folder)
    return out


def deck_tsv(notes: Sequence[DeckNote], *, episode: str) -> str:
    """The notes as a TSV (a header row, then one row per note), for tools that are not Anki.

    Media columns name the files as the package does; tabs and line breaks in
    the text become spaces so every note stays one row.
    """

    def cell(value: str | None) -> str:
        return " ".join((value or "").split())

    rows = ["\t".join(TSV_COLUMNS)]
    for index, note in enumerate(notes):
        short = media_name(episode, index, note.phrase, note.short.suffix) if note.short is not None else ""
        rows.append("\t".join(cell(value) for value in (
            note.phrase, note.line, note.translation, note.meaning, note.kind, note.level,
            media_name(episode, index, note.phrase, note.audio.suffix),
            media_name(episode, index, note.phrase, note.still.suffix), short, episode,
        )))  # fmt: skip
    return "\n".join(rows) + "\n"
