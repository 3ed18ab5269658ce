"""An Anki package opened as an importer reads it: a zip of an SQLite collection, a ``media`` map, the files."""

from __future__ import annotations

import json
import sqlite3
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Package", "open_package"]


@dataclass(frozen=True)
class Package:
    """What an ``.apkg`` holds: zip entry names, the media map (number -> name) and each media file's
    bytes by name, the collection's notes ``(id, guid, mid, fields)``, cards ``(id, nid, did)``,
    decks and note types."""

    names: set[str]
    media: dict[str, str]
    files: dict[str, bytes]
    notes: list[tuple[int, str, int, list[str]]]
    cards: list[tuple[int, int, int]]
    decks: dict[str, Any]
    models: dict[str, Any]

    def fields(self, names: tuple[str, ...]) -> list[dict[str, str]]:
        """Each note's fields by the note type's field names."""
        return [dict(zip(names, note[3], strict=True)) for note in self.notes]


def open_package(path: Path, into: Path) -> Package:
    """Open ``path``; the collection is extracted into the directory ``into``."""
    into.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path) as package:
        names = set(package.namelist())
        media = json.loads(package.read("media"))
        files = {name: package.read(number) for number, name in media.items()}
        package.extract("collection.anki2", into)
    connection = sqlite3.connect(into / "collection.anki2")
    try:
        notes = [
            (nid, guid, mid, flds.split("\x1f"))
            for nid, guid, mid, flds in connection.execute("SELECT id, guid, mid, flds FROM notes ORDER BY id")
        ]
        cards = connection.execute("SELECT id, nid, did FROM cards ORDER BY id").fetchall()
        decks = json.loads(connection.execute("SELECT decks FROM col").fetchone()[0])
        models = json.loads(connection.execute("SELECT models FROM col").fetchone()[0])
    finally:
        connection.close()
    return Package(names, media, files, notes, cards, decks, models)
