"""What a finished job's page shows, read from its ``manifest.json`` and its recorded outputs.

The page never guesses a file name: a lesson's media are the outputs its
manifest entry names (its ``file`` is the lesson video; any other key whose
value, or nested value, is the name of a recorded output is shown by its kind,
such as a ``thumbnail`` image or a ``short`` video), the compilation is the
manifest's ``compilation``, and a top-level list of entries with an ``index``
(``shorts``, ``thumbnails``) adds its media to the lesson of that index. The
manifest's ``deck`` (``{file, tsv, notes}``) and ``metadata`` get their own
download buttons. Every other output is a download. What the manifest does not name is still listed
under the downloads, so nothing published is hidden. Holds no HTTP types.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Final, Literal

from langflix.api.store import JobRecord
from langflix.errors import LangFlixError
from langflix.pipeline.manifest import MANIFEST_NAME

__all__ = ["EpisodeView", "LessonView", "Media", "episode_view", "media_kind"]

_VIDEO_SUFFIXES: Final[frozenset[str]] = frozenset({".mp4", ".m4v", ".webm", ".mov", ".mkv"})
_IMAGE_SUFFIXES: Final[frozenset[str]] = frozenset({".jpg", ".jpeg", ".png", ".webp", ".gif"})
_MAX_MANIFEST_BYTES: Final[int] = 8 * 1024 * 1024

MediaKind = Literal["video", "image", "file"]


def media_kind(name: str) -> MediaKind:
    """How a page shows an output: played, displayed, or only downloaded."""
    suffix = PurePosixPath(name).suffix.lower()
    return "video" if suffix in _VIDEO_SUFFIXES else "image" if suffix in _IMAGE_SUFFIXES else "file"


@dataclass(frozen=True, slots=True)
class Media:
    """One output as a page links it: its name, what the manifest calls it, its URL and size."""

    name: str
    role: str
    kind: MediaKind
    url: str
    size: int


@dataclass(slots=True)
class LessonView:
    """One expression's lesson: the words (phrase, meaning, translation, line) and its media."""

    index: int
    phrase: str
    kind: str
    meaning: str
    translation: str
    line: str
    video: Media | None = None
    videos: list[Media] = field(default_factory=list)
    """Other playable media of the lesson (a short)."""
    images: list[Media] = field(default_factory=list)

    @property
    def poster(self) -> Media | None:
        return self.images[0] if self.images else None


@dataclass(slots=True)
class EpisodeView:
    """A completed job's episode, as its page shows it."""

    name: str
    source_video: str = ""
    source_subtitles: str = ""
    lessons: list[LessonView] = field(default_factory=list)
    compilation: Media | None = None
    extras: list[Media] = field(default_factory=list)
    """Media the manifest names outside the lessons (an episode thumbnail, a deck)."""
    deck: Media | None = None
    """The study deck (``.apkg``) the manifest's ``deck`` names, for its own download button."""
    deck_tsv: Media | None = None
    deck_notes: int | None = None
    metadata: Media | None = None
    """The upload metadata (``metadata.json``) the manifest's ``metadata`` names."""
    downloads: list[Media] = field(default_factory=list)
    problem: str | None = None
    """Why the manifest could not be read (the downloads are still listed)."""


def _text(value: Any) -> str:
    return value if isinstance(value, str) else "" if value is None else str(value)


def _references(value: Any, role: str, names: Mapping[str, Media]) -> Iterator[tuple[str, Media]]:
    """(role, media) for every recorded output named anywhere inside ``value``."""
    if isinstance(value, str):
        if value in names:
            yield role, names[value]
    elif isinstance(value, Mapping):
        for key, inner in value.items():
            yield from _references(inner, role if key == "file" else str(key), names)
    elif isinstance(value, list):
        for inner in value:
            yield from _references(inner, role, names)


def _lesson(entry: Mapping[str, Any], position: int, names: Mapping[str, Media]) -> LessonView:
    index = entry.get("index")
    lesson = LessonView(
        index=index if isinstance(index, int) else position + 1,
        phrase=_text(entry.get("phrase")),
        kind=_text(entry.get("kind")),
        meaning=_text(entry.get("meaning")),
        translation=_text(entry.get("translation")),
        line=_text(entry.get("line")),
    )
    for key, value in entry.items():
        for role, media in _references(value, str(key), names):
            _attach(lesson, role, media)
    return lesson


def _attach(lesson: LessonView, role: str, media: Media) -> None:
    shown = Media(media.name, role, media.kind, media.url, media.size)
    if media.kind == "video" and role == "file" and lesson.video is None:
        lesson.video = shown
    elif media.kind == "video":
        lesson.videos.append(shown)
    elif media.kind == "image":
        lesson.images.append(shown)


def _deck(view: EpisodeView, value: Any, names: Mapping[str, Media]) -> None:
    """The deck's package, its TSV and how many notes it holds, from ``{"file", "tsv", "notes"}`` or a name."""
    entry = value if isinstance(value, Mapping) else {"file": value}
    package, tsv, notes = entry.get("file"), entry.get("tsv"), entry.get("notes")
    if isinstance(package, str) and package in names:
        view.deck = Media(package, "Anki deck", "file", names[package].url, names[package].size)
    if isinstance(tsv, str) and tsv in names:
        view.deck_tsv = Media(tsv, "deck as TSV", "file", names[tsv].url, names[tsv].size)
    view.deck_notes = notes if isinstance(notes, int) and not isinstance(notes, bool) else None


def read_manifest(record: JobRecord, resolve: Callable[[str], Path]) -> dict[str, Any]:
    """The job's manifest as data; LangFlixError saying why when it cannot be read."""
    if MANIFEST_NAME not in {o.name for o in record.outputs}:
        raise LangFlixError(f"job {record.id} published no {MANIFEST_NAME}")
    path = resolve(MANIFEST_NAME)
    if path.stat().st_size > _MAX_MANIFEST_BYTES:
        raise LangFlixError(f"the {MANIFEST_NAME} of job {record.id} is over {_MAX_MANIFEST_BYTES} bytes")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise LangFlixError(f"the {MANIFEST_NAME} of job {record.id} cannot be read: {exc}") from exc
    if not isinstance(data, dict):
        raise LangFlixError(f"the {MANIFEST_NAME} of job {record.id} is not a JSON object")
    return data


def episode_view(record: JobRecord, urls: Mapping[str, str], resolve: Callable[[str], Path]) -> EpisodeView:
    """The page of a completed job; ``urls`` maps each output name to its URL, ``resolve`` to its file."""
    names = {o.name: Media(o.name, "file", media_kind(o.name), urls[o.name], o.size) for o in record.outputs}
    view = EpisodeView(name=Path(record.output_dir or record.id).name, downloads=list(names.values()))
    try:
        manifest = read_manifest(record, resolve)
    except (LangFlixError, OSError) as exc:
        view.problem = str(exc) if isinstance(exc, LangFlixError) else f"the manifest is gone: {exc.strerror}"
        return view
    view.name = _text(manifest.get("episode")) or view.name
    source = manifest.get("source")
    if isinstance(source, Mapping):
        view.source_video, view.source_subtitles = _text(source.get("video")), _text(source.get("subtitles"))
    entries = manifest.get("expressions")
    if isinstance(entries, list):
        view.lessons = [_lesson(e, i, names) for i, e in enumerate(entries) if isinstance(e, Mapping)]
    by_index = {lesson.index: lesson for lesson in view.lessons}
    for key, value in manifest.items():
        if key in ("expressions", "source"):
            continue
        if key == "deck":
            _deck(view, value, names)
        elif key == "metadata" and isinstance(value, str) and value in names:
            view.metadata = Media(value, "upload metadata", "file", names[value].url, names[value].size)
        if key == "compilation":
            for role, media in _references(value, "file", names):
                if role == "file" and media.kind == "video" and view.compilation is None:
                    view.compilation = Media(media.name, "compilation", media.kind, media.url, media.size)
                else:
                    view.extras.append(Media(media.name, f"compilation {role}", media.kind, media.url, media.size))
            continue
        if isinstance(value, list):
            for item in value:
                index = item.get("index") if isinstance(item, Mapping) else None
                lesson = by_index.get(index) if isinstance(index, int) else None
                for role, media in _references(item, key, names):
                    if lesson is not None:
                        _attach(lesson, role, media)
                    elif media.name != MANIFEST_NAME:
                        view.extras.append(Media(media.name, role, media.kind, media.url, media.size))
            continue
        for role, media in _references(value, key, names):
            view.extras.append(Media(media.name, role, media.kind, media.url, media.size))
    return view
