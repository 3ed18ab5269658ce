"""The study deck opened as Anki would: a zip of an SQLite collection, a ``media`` map and the files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.anki import open_package
from support.temp import leftovers, temp_manager

import langflix.core.deck as module
from langflix.core.deck import (
    DECK_FIELDS,
    TSV_COLUMNS,
    DeckNote,
    deck_id,
    deck_tsv,
    media_name,
    note_guid,
    note_guids,
    write_deck,
)
from langflix.temp import TempFileManager


@pytest.fixture
def manager(tmp_path: Path) -> Iterator[TempFileManager]:
    with temp_manager(tmp_path) as mgr:
        yield mgr


@pytest.fixture
def notes(tmp_path: Path) -> list[DeckNote]:
    files = {}
    for name in ("a.mp3", "a.jpg", "b.mp3", "b.jpg", "b.mp4"):
        files[name] = tmp_path / name
        files[name].write_bytes(name.encode() * 100)
    return [
        DeckNote("break the ice", "Let's break the ice <now> & then", files["a.mp3"], files["a.jpg"],
                 line_highlights=((6, 19),), translation="분위기를 깨자", meaning="to start talking",
                 kind="idiom", level="beginner"),  # fmt: skip
        DeckNote("figure out", "I'll figure it out.", files["b.mp3"], files["b.jpg"], line_highlights=((5, 18),),
                 kind="phrasal verb", short=files["b.mp4"]),  # fmt: skip
    ]


def test_every_note_has_its_fields_and_its_media(
    tmp_path: Path, notes: list[DeckNote], manager: TempFileManager
) -> None:
    package = write_deck(manager, notes, episode="Friends_S01E01", timestamp=1_700_000_000.0)
    opened = open_package(package, tmp_path / "a")
    assert {"collection.anki2", "media"} <= opened.names
    assert len(opened.notes) == 2 and len(opened.cards) == 2
    (model,) = opened.models.values()
    assert [field["name"] for field in model["flds"]] == list(DECK_FIELDS)
    first, second = opened.fields(DECK_FIELDS)
    assert first["Expression"] == "break the ice"
    assert first["Line"] == 'Let\'s <span class="hl">break the ice</span> &lt;now&gt; &amp; then'
    assert (first["Translation"], first["Meaning"], first["Kind"]) == ("분위기를 깨자", "to start talking",
                                                                       "idiom · beginner")  # fmt: skip
    assert first["Short"] == "" and second["Short"].startswith("[sound:") and second["Translation"] == ""
    assert second["Line"] == 'I\'ll <span class="hl">figure it out</span>.'
    # Every media reference names a file of the package, with the bytes given.
    sources = {media_name("Friends_S01E01", i, n.phrase, p.suffix): p for i, n in enumerate(notes)
               for p in (n.audio, n.still, n.short) if p is not None}  # fmt: skip
    for fields in (first, second):
        refs = [fields["Audio"][len("[sound:"):-1], fields["Screenshot"][len('<img src="'):-2]]
        refs += [fields["Short"][len("[sound:"):-1]] if fields["Short"] else []
        for ref in refs:
            assert opened.files[ref] == sources[ref].read_bytes()
    assert set(opened.files) == set(sources)
    assert all(card[2] == deck_id("Friends_S01E01") for card in opened.cards)
    assert opened.decks[str(deck_id("Friends_S01E01"))]["name"] == "LangFlix::Friends_S01E01"
    assert [row[1] for row in opened.notes] == note_guids("Friends_S01E01", [n.phrase for n in notes])
    assert leftovers(manager) == [package]


def test_ids_are_the_same_on_every_run_of_the_episode(
    tmp_path: Path, notes: list[DeckNote], manager: TempFileManager
) -> None:
    first = open_package(write_deck(manager, notes, episode="ep", timestamp=1_700_000_000.0), tmp_path / "1")
    second = open_package(write_deck(manager, notes, episode="ep", timestamp=1_800_000_000.0), tmp_path / "2")
    assert [row[:3] for row in first.notes] == [row[:3] for row in second.notes]
    assert first.cards == second.cards
    assert first.media == second.media
    other = open_package(write_deck(manager, notes, episode="another", timestamp=1.0), tmp_path / "3")
    assert {row[1] for row in other.notes}.isdisjoint(row[1] for row in first.notes)
    assert set(other.media.values()).isdisjoint(first.media.values())
    assert deck_id("ep") != deck_id("another") and 1 << 30 <= deck_id("ep") < 1 << 31


def test_a_phrase_said_twice_gets_two_notes() -> None:
    guids = note_guids("ep", ["give up", "Give  up", "break the ice"])
    assert len(set(guids)) == 3 and guids[0] == note_guid("ep", "give up")


def test_the_tsv_has_a_row_per_note_and_no_stray_tab(notes: list[DeckNote]) -> None:
    tricky = [DeckNote("hang in there", "a\tb\nc", notes[0].audio, notes[0].still, meaning="keep\tgoing")]
    rows = [line.split("\t") for line in deck_tsv([*notes, *tricky], episode="ep").splitlines()]
    assert rows[0] == list(TSV_COLUMNS)
    assert all(len(row) == len(TSV_COLUMNS) for row in rows)
    assert rows[1][:6] == ["break the ice", "Let's break the ice <now> & then", "분위기를 깨자", "to start talking",
                           "idiom", "beginner"]  # fmt: skip
    assert rows[2][8].endswith(".mp4") and rows[1][8] == ""
    assert rows[3][1] == "a b c" and rows[3][3] == "keep going"


def test_nothing_is_left_when_the_package_cannot_be_written(
    tmp_path: Path, notes: list[DeckNote], manager: TempFileManager
) -> None:
    notes[1].audio.unlink()  # a missing media file: the zip fails half-way
    with pytest.raises(FileNotFoundError):
        write_deck(manager, notes, episode="ep", timestamp=1.0)
    assert leftovers(manager) == []
    with pytest.raises(ValueError, match="at least one note"):
        write_deck(manager, [], episode="ep", timestamp=1.0)


def test_exports() -> None:
    assert module.__all__ == sorted(module.__all__)
    assert all(hasattr(module, name) for name in module.__all__)
