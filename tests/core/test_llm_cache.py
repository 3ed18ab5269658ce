"""LLMCache: the model's answers on disk, shared by jobs, threads and processes, never a reason to fail."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from langflix.core.llm_cache import LLMCache, cache_key, line_key


def test_translations_are_kept_per_line_and_language(tmp_path: Path) -> None:
    cache = LLMCache(tmp_path / "deep" / "dir" / "llm.sqlite3")
    assert cache.translations("ko", ["Hi."]) == {}  # creates nothing wrong when empty
    cache.store_translations("ko", {"Hi,\n  you.": "안녕.", "Bye.": "잘 가."}, model="m")
    cache.store_translations("ja", {"Hi, you.": "やあ。"})
    assert cache.translations("ko", ["Hi, you.", "Bye.", "Unknown."]) == {"Hi, you.": "안녕.", "Bye.": "잘 가."}
    assert cache.translations("ja", ["Hi,   you."]) == {"Hi, you.": "やあ。"}
    # Another process sees them: the file is the cache.
    code = (
        "import sys; from pathlib import Path; from langflix.core.llm_cache import LLMCache; "
        "print(LLMCache(Path(sys.argv[1])).translations('ko', ['Bye.'])['Bye.'])"
    )
    out = subprocess.run([sys.executable, "-c", code, str(cache.path)], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "잘 가."


def test_replies_are_kept_by_request(tmp_path: Path) -> None:
    cache = LLMCache(tmp_path / "llm.sqlite3")
    key = cache_key("m", [{"role": "user", "content": "hi"}])
    assert key == cache_key("m", [{"role": "user", "content": "hi"}])
    assert key != cache_key("other", [{"role": "user", "content": "hi"}])
    assert cache.reply(key) is None
    cache.store_reply(key, '{"expressions": []}')
    assert cache.reply(key) == '{"expressions": []}'


def test_many_lines_and_threads_at_once(tmp_path: Path) -> None:
    cache = LLMCache(tmp_path / "llm.sqlite3")
    lines = {f"line {i}": f"줄 {i}" for i in range(1200)}  # more than one query's worth

    def store(part: int) -> None:
        cache.store_translations("ko", {k: v for k, v in lines.items() if int(k.split()[1]) % 4 == part})

    threads = [threading.Thread(target=store, args=(part,)) for part in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert cache.translations("ko", lines) == lines


def test_an_unwritable_cache_is_a_warning_not_a_failure(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # A file where the cache's directory should be: no directory can be made there, even by root.
    blocker = tmp_path / "cache"
    blocker.write_text("a file, not a directory")
    cache = LLMCache(blocker / "llm.sqlite3")
    cache.store_translations("ko", {"a": "b"})
    assert cache.translations("ko", ["a"]) == {}
    assert "cannot be written" in caplog.text and "LANGFLIX_CACHE_DIR" in caplog.text
    assert blocker.read_text() == "a file, not a directory"


def test_a_broken_cache_file_is_a_warning_not_a_failure(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "llm.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    cache = LLMCache(path)
    cache.store_translations("ko", {"a": "b"})
    assert cache.translations("ko", ["a"]) == {}
    assert "cannot be" in caplog.text
    with pytest.raises(sqlite3.DatabaseError):
        sqlite3.connect(path).execute("SELECT 1 FROM translations")


def test_line_keys_fold_whitespace() -> None:
    assert line_key("  Hi,\n you\t there ") == "Hi, you there"
    assert line_key(" \n ") == ""
