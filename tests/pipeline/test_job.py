"""How progress messages count things: plain values."""

from __future__ import annotations

from langflix.pipeline.job import plural


def test_one_is_singular_and_every_other_count_plural() -> None:
    assert [plural(n, "line") for n in (0, 1, 2)] == ["0 lines", "1 line", "2 lines"]
