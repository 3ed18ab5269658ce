"""Values inside an ffmpeg filter graph, quoted so they can never change the graph.

A filter option value is read twice: the graph parser splits filters on ``,``
``;`` ``[`` ``]`` and the filter's option parser splits options on ``:``; both
honour ``\\`` escapes and ``'`` quotes (``av_get_token``). A path a user chose
(a base dir with ``'`` or ``:`` in it) must be escaped for both levels, inner
first, or it breaks the graph or, worse, adds a filter.
"""

from __future__ import annotations

from typing import Final

__all__ = ["escape_filter_value"]

_OPTION_SPECIAL: Final[str] = "\\':"
_GRAPH_SPECIAL: Final[str] = "\\'[],;"


def escape_filter_value(value: str) -> str:
    """``value`` as one filter option value of a ``-vf``/``-filter_complex`` graph."""
    if "\n" in value or "\r" in value or "\0" in value:
        raise ValueError(f"a filter value cannot hold a line break or NUL: {value!r}")
    inner = "".join("\\" + char if char in _OPTION_SPECIAL else char for char in value)
    return "".join("\\" + char if char in _GRAPH_SPECIAL else char for char in inner)
