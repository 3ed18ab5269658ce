"""What a client may read of a server's message: its own names, and setting names for the server's dirs.

Messages are written for an operator ("raise LANGFLIX_TEMP_MAX_BYTES under
/srv/tmp", an ffmpeg command line with the job's absolute temp paths). A client
needs the advice, not the directory layout or the server's pid (in its temp
session's name): a :class:`Redactor` rewrites every path it knows as the name
the client sent or as the setting that names the directory. The full message
still goes to the server log.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Final

__all__ = ["SERVER_DIR_NAMES", "Redactor", "server_dirs"]

SERVER_DIR_NAMES: Final[dict[str, str]] = {
    "temp": "<LANGFLIX_TEMP_DIR>",
    "data": "<LANGFLIX_DATA_DIR>",
    "output": "<LANGFLIX_OUTPUT_DIR>",
    "shared": "<LANGFLIX_SHARED_DIR>",
}
"""How a client reads each server dir: the setting that chooses it."""


class Redactor:
    """Replace each known path (or name) in a text by what a client may read instead.

    Longest first, so a file inside a dir becomes its own name rather than the
    dir's name followed by the rest of the path. Both a path as given and its
    resolved form are replaced (``/tmp`` may be a link, a relative setting is
    shown absolute by the code that resolved it).
    """

    def __init__(self, replacements: Mapping[str, str] | None = None) -> None:
        pairs: dict[str, str] = {}
        for path, name in (replacements or {}).items():
            if not path:
                continue
            pairs.setdefault(path, name)
            if os.sep in path:
                pairs.setdefault(str(Path(path).resolve()), name)
        self._pairs = sorted(pairs.items(), key=lambda item: -len(item[0]))

    def __call__(self, text: str) -> str:
        for path, name in self._pairs:
            text = text.replace(path, name)
        return text

    def replacements(self) -> dict[str, str]:
        """Every path (or name) this redactor rewrites and what it becomes: enough to rebuild it elsewhere."""
        return dict(self._pairs)

    def extended(self, replacements: Mapping[str, str]) -> Redactor:
        """A redactor knowing ``replacements`` as well as this one's."""
        return Redactor(dict(self._pairs) | dict(replacements))


def server_dirs(temp: Iterable[Path], data: Path, output: Path, shared: Path | None = None) -> dict[str, str]:
    """The server's dirs, mapped to their setting names (``temp``: the base dir and the session dir)."""
    pairs = {str(path): SERVER_DIR_NAMES["temp"] for path in temp}
    pairs[str(Path(data).resolve())] = SERVER_DIR_NAMES["data"]
    pairs[str(Path(output).resolve())] = SERVER_DIR_NAMES["output"]
    if shared is not None:
        pairs[str(Path(shared).resolve())] = SERVER_DIR_NAMES["shared"]
    return pairs
