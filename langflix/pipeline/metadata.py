"""Upload-ready ``metadata.json``: what an uploader needs for each short and the compilation.

Pure functions of what the job made: a title, a description (the expressions
with their meanings; the compilation's chapters with their timestamps, first at
0:00 as video sites want them), tags and the thumbnail, for every video, in the
limits the big video sites set (title 100 characters, description 5000, tags
500 in all). Nothing is uploaded: these are the files an uploader reads.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from langflix.core.card import KIND_LABELS
from langflix.core.expressions import Expression

__all__ = [
    "Chapter",
    "DESCRIPTION_MAX_CHARS",
    "METADATA_NAME",
    "METADATA_VERSION",
    "ShortRecord",
    "TAGS_MAX_CHARS",
    "TITLE_MAX_CHARS",
    "build_metadata",
    "chapter_time",
    "metadata_text",
]

METADATA_NAME: Final[str] = "metadata.json"
METADATA_VERSION: Final[int] = 1
TITLE_MAX_CHARS: Final[int] = 100
DESCRIPTION_MAX_CHARS: Final[int] = 5000
TAGS_MAX_CHARS: Final[int] = 500
_BASE_TAGS: Final[tuple[str, ...]] = ("learn english", "english expressions", "langflix")


@dataclass(frozen=True, slots=True)
class ShortRecord:
    """One published short: its expression (1-based ``index``), file, length and thumbnail."""

    index: int
    expression: Expression
    file: str
    duration: float
    thumbnail: str | None = None


@dataclass(frozen=True, slots=True)
class Chapter:
    """Where one expression's lesson starts in the compilation."""

    start: float
    expression: Expression


def chapter_time(seconds: float) -> str:
    """``seconds`` as a chapter timestamp: ``M:SS``, or ``H:MM:SS`` past an hour (whole seconds, down)."""
    total = max(0, int(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split()) if "\n" not in text else text.strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _kind(expression: Expression) -> str:
    return KIND_LABELS.get(expression.kind, expression.kind.replace("_", " "))


def _explained(expression: Expression) -> str:
    """One line of a description: the expression, its kind and meaning, its translation."""
    line = f"• {expression.phrase} ({_kind(expression)})"
    if expression.meaning:
        line += f": {expression.meaning}"
    if expression.translation:
        line += f" — {expression.translation}"
    return line


def _tags(expressions: Sequence[Expression], episode: str, extra: Sequence[str] = ()) -> list[str]:
    """Tags without repeats, within :data:`TAGS_MAX_CHARS` (comma-separated, as sites count them)."""
    wanted = [*_BASE_TAGS, *extra, episode, *(e.phrase for e in expressions), *(_kind(e) for e in expressions)]
    tags: list[str] = []
    used = 0
    for tag in wanted:
        tag = " ".join(tag.replace(",", " ").replace("<", " ").replace(">", " ").split()).lower()
        if not tag or tag in tags or used + len(tag) + (1 if tags else 0) > TAGS_MAX_CHARS:
            continue
        used += len(tag) + (1 if tags else 0)
        tags.append(tag)
    return tags


def _short_entry(short: ShortRecord, episode: str) -> dict[str, Any]:
    expression = short.expression
    title = f"“{expression.phrase}”"
    if expression.translation:
        title += f" — {expression.translation}"
    description = [_explained(expression), "", f"“{expression.cue.text}”"]
    description += ["", f"From {episode}.", "#shorts #learnenglish"]
    return {
        "file": short.file,
        "kind": "short",
        "index": short.index,
        "title": _clip(f"{title} | {episode}", TITLE_MAX_CHARS),
        "description": _clip("\n".join(description), DESCRIPTION_MAX_CHARS),
        "tags": _tags([expression], episode, ("shorts",)),
        "thumbnail": short.thumbnail,
        "duration": round(short.duration, 3),
    }


def _compilation_entry(
    file: str, duration: float, thumbnail: str | None, chapters: Sequence[Chapter], episode: str
) -> dict[str, Any]:
    expressions = [chapter.expression for chapter in chapters]
    count = len(expressions)
    noun = "expression" if count == 1 else "expressions"
    marks = [f"{chapter_time(c.start)} {c.expression.phrase}" for c in chapters]
    description = [f"{count} English {noun} from {episode}, each in its scene:", ""]
    description += [_explained(e) for e in expressions]
    description += ["", "Chapters:", *marks]
    return {
        "file": file,
        "kind": "compilation",
        "title": _clip(f"{count} English {noun} from {episode}", TITLE_MAX_CHARS),
        "description": _clip("\n".join(description), DESCRIPTION_MAX_CHARS),
        "chapters": [
            {"start": round(c.start, 3), "timestamp": chapter_time(c.start), "title": c.expression.phrase}
            for c in chapters
        ],
        "tags": _tags(expressions, episode),
        "thumbnail": thumbnail,
        "duration": round(duration, 3),
    }


def build_metadata(
    *,
    episode: str,
    shorts: Sequence[ShortRecord] = (),
    compilation: tuple[str, float, str | None] | None = None,
    chapters: Sequence[Chapter] = (),
) -> dict[str, Any]:
    """The metadata of every video an uploader may publish: each short, then the compilation.

    ``compilation`` is its (file, duration, thumbnail) when one was made, and
    ``chapters`` where each of its lessons starts.
    """
    videos = [_short_entry(short, episode) for short in shorts]
    if compilation is not None:
        videos.append(_compilation_entry(*compilation, chapters, episode))
    return {"version": METADATA_VERSION, "episode": episode, "videos": videos}


def metadata_text(metadata: Mapping[str, Any]) -> str:
    """UTF-8 JSON with Korean as text."""
    return json.dumps(metadata, indent=2, ensure_ascii=False) + "\n"
