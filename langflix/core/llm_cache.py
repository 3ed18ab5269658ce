"""What the chat model already answered, on disk, so a rerun asks nothing twice.

Two tables in one SQLite file (the job store's engine: safe for several
workers, threads and processes at once, and it survives a restart):

- ``translations``: a subtitle line's translation, keyed by the line (its words,
  whitespace folded) and the target language. A line is translated once, for
  every job and every episode that says it again;
- ``replies``: a whole chat reply keyed by a digest of its request (the model and
  the messages), for requests that are not one line each (choosing expressions).

The cache is an optimisation, never a reason for a job to fail: a file that
cannot be opened or written is logged and the model is asked instead.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Final

__all__ = ["LLMCache", "cache_key", "line_key"]

logger = logging.getLogger(__name__)

_TIMEOUT: Final[float] = 30.0
_SCHEMA: Final[str] = """
CREATE TABLE IF NOT EXISTS translations (
    language TEXT NOT NULL,
    line TEXT NOT NULL,
    translation TEXT NOT NULL,
    model TEXT,
    created REAL NOT NULL,
    PRIMARY KEY (language, line)
);
CREATE TABLE IF NOT EXISTS replies (
    key TEXT PRIMARY KEY,
    content TEXT NOT NULL,
    created REAL NOT NULL
);
"""
_BATCH: Final[int] = 500  # below SQLite's limit on bound parameters


def line_key(line: str) -> str:
    """The line as the cache knows it: its words, one space apart ("Hi,\\n  you" -> "Hi, you")."""
    return " ".join(line.split())


def cache_key(model: str, messages: Sequence[Mapping[str, str]]) -> str:
    """A digest naming one chat request (the same model asked the same thing)."""
    text = json.dumps({"model": model, "messages": list(messages)}, ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class LLMCache:
    """The cache file at ``path`` (created with its directory on first use)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._ready = False

    def __repr__(self) -> str:
        return f"LLMCache({str(self.path)!r})"

    def translations(self, language: str, lines: Iterable[str]) -> dict[str, str]:
        """The cached translations into ``language`` of those of ``lines`` known, by line key."""
        keys = sorted({line_key(line) for line in lines} - {""})
        found: dict[str, str] = {}
        for start in range(0, len(keys), _BATCH):
            batch = keys[start : start + _BATCH]
            marks = ",".join("?" * len(batch))
            rows = self._read(
                f"SELECT line, translation FROM translations WHERE language = ? AND line IN ({marks})",
                (language, *batch),
            )
            found.update((str(line), str(text)) for line, text in rows)
        return found

    def store_translations(self, language: str, translations: Mapping[str, str], *, model: str | None = None) -> None:
        """Remember ``translations`` (line -> its translation into ``language``)."""
        now = time.time()
        rows = [(language, line_key(line), text, model, now) for line, text in translations.items() if line_key(line)]
        self._write("INSERT OR REPLACE INTO translations VALUES (?, ?, ?, ?, ?)", rows)

    def reply(self, key: str) -> str | None:
        """The reply remembered for the request ``key`` (:func:`cache_key`), if any."""
        rows = self._read("SELECT content FROM replies WHERE key = ?", (key,))
        return str(rows[0][0]) if rows else None

    def store_reply(self, key: str, content: str) -> None:
        self._write("INSERT OR REPLACE INTO replies VALUES (?, ?, ?)", [(key, content, time.time())])

    # -- the file ---------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        if not self._ready:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        # One connection per call: the cache is shared by the worker threads of a
        # service, and a connection must not cross threads.
        connection = sqlite3.connect(self.path, timeout=_TIMEOUT)
        if not self._ready:
            # WAL: readers never wait for a writer, even across processes.
            connection.execute("PRAGMA journal_mode=WAL")
            connection.executescript(_SCHEMA)
            self._ready = True
        return connection

    def _read(self, sql: str, params: Sequence[object]) -> list[tuple[object, ...]]:
        try:
            connection = self._connect()
            try:
                return connection.execute(sql, params).fetchall()
            finally:
                connection.close()
        except (OSError, sqlite3.Error) as exc:
            logger.warning("the LLM cache %s cannot be read (%s); asking the model instead", self.path, exc)
            return []

    def _write(self, sql: str, rows: Sequence[Sequence[object]]) -> None:
        if not rows:
            return
        try:
            connection = self._connect()
            try:
                with connection:  # one transaction: all rows or none
                    connection.executemany(sql, rows)
            finally:
                connection.close()
        except (OSError, sqlite3.Error) as exc:
            logger.warning(
                "the LLM cache %s cannot be written (%s); a rerun will ask the model again "
                "(check LANGFLIX_CACHE_DIR)",
                self.path, exc,
            )  # fmt: skip
