"""A job page's episode, read from what its manifest names: lessons, their media, the compilation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from langflix.api.episode import episode_view, media_kind
from langflix.api.store import JobRecord, OutputFile

OUTPUTS = (
    "01-break-the-ice.mp4",
    "02-piece-of-cake.mp4",
    "compilation.mp4",
    "manifest.json",
    "thumbnails/01.jpg",
    "thumbnails/episode.jpg",
    "shorts/02.mp4",
    "deck.apkg",
    "not-in-the-manifest.txt",
)


def _job(tmp_path: Path, manifest: dict[str, Any] | str) -> tuple[JobRecord, dict[str, str]]:
    episode = tmp_path / "out" / "job" / "my-show"
    for name in OUTPUTS:
        (episode / name).parent.mkdir(parents=True, exist_ok=True)
        (episode / name).write_bytes(b"x" * 10)
    text = manifest if isinstance(manifest, str) else json.dumps(manifest)
    (episode / "manifest.json").write_text(text, encoding="utf-8")
    outputs = tuple(OutputFile(name, (episode / name).stat().st_size) for name in OUTPUTS)
    record = JobRecord("job", "completed", 100.0, None, None, None, {}, outputs, str(episode), 0.0, 0.0)
    return record, {name: f"/u/{name}" for name in OUTPUTS}


def _resolver(record: JobRecord) -> Any:
    return lambda name: Path(record.output_dir or "") / name


def test_lessons_get_the_media_their_entries_and_indexed_lists_name(tmp_path: Path) -> None:
    manifest = {
        "episode": "My Show",
        "source": {"video": "<b>show</b>.mkv", "subtitles": "show.smi"},
        "expressions": [
            {"index": 1, "phrase": "break the ice", "kind": "idiom", "meaning": "start talking",
             "translation": "어색함을 깨다", "line": "Let's break the ice.", "file": "01-break-the-ice.mp4",
             "thumbnail": "thumbnails/01.jpg"},
            {"index": 2, "phrase": "a piece of cake", "file": "02-piece-of-cake.mp4"},
        ],
        "shorts": [{"index": 2, "file": "shorts/02.mp4"}],
        "compilation": {"file": "compilation.mp4", "thumbnail": "thumbnails/episode.jpg"},
        "deck": "deck.apkg",
        "mentions": "not-an-output.mp4",
    }  # fmt: skip
    record, urls = _job(tmp_path, manifest)
    view = episode_view(record, urls, _resolver(record))
    assert view.problem is None and view.name == "My Show"
    assert (view.source_video, view.source_subtitles) == ("<b>show</b>.mkv", "show.smi")
    first, second = view.lessons
    assert first.video is not None and first.video.url == "/u/01-break-the-ice.mp4"
    assert first.poster is not None and first.poster.name == "thumbnails/01.jpg"
    assert (first.meaning, first.translation, first.line) == ("start talking", "어색함을 깨다", "Let's break the ice.")
    assert second.video is not None and [v.name for v in second.videos] == ["shorts/02.mp4"]
    assert second.videos[0].role == "shorts" and second.images == []
    assert view.compilation is not None and view.compilation.name == "compilation.mp4"
    assert {(m.name, m.role) for m in view.extras} == {
        ("thumbnails/episode.jpg", "compilation thumbnail"),
        ("deck.apkg", "deck"),
    }
    assert [m.name for m in view.downloads] == list(OUTPUTS), "every output is a download, named or not"


def test_the_manifest_a_job_writes_gives_shorts_thumbnails_the_deck_and_the_metadata(tmp_path: Path) -> None:
    names = ("01-break-the-ice.mp4", "01-break-the-ice.png", "01-break-the-ice.short.mp4", "02-give-up.png",
             "02-give-up.short.mp4", "deck.apkg", "deck.tsv", "metadata.json", "manifest.json")  # fmt: skip
    episode = tmp_path / "out" / "job" / "show"
    episode.mkdir(parents=True)
    manifest = {
        "version": 2, "episode": "show",
        "expressions": [
            {"index": 1, "phrase": "break the ice", "file": "01-break-the-ice.mp4",
             "thumbnail": "01-break-the-ice.png", "short": {"file": "01-break-the-ice.short.mp4", "duration": 9.1}},
            {"index": 2, "phrase": "give up", "file": None, "thumbnail": "02-give-up.png",
             "short": {"file": "02-give-up.short.mp4", "duration": 7.0}},
        ],
        "compilation": None,
        "deck": {"file": "deck.apkg", "tsv": "deck.tsv", "title": "LangFlix::show", "deck_id": 1234567890,
                 "notes": 2, "guids": ["a", "b"], "with_shorts": False},
        "metadata": "metadata.json",
    }  # fmt: skip
    for name in names:
        (episode / name).write_bytes(b"x" * 10)
    (episode / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    outputs = tuple(OutputFile(name, (episode / name).stat().st_size) for name in names)
    record = JobRecord("job", "completed", 100.0, None, None, None, {}, outputs, str(episode), 0.0, 0.0)
    view = episode_view(record, {name: f"/u/{name}" for name in names}, _resolver(record))
    first, second = view.lessons
    assert first.video is not None and first.video.name == "01-break-the-ice.mp4"
    assert [(v.name, v.role) for v in first.videos] == [("01-break-the-ice.short.mp4", "short")]
    assert first.poster is not None and first.poster.name == "01-break-the-ice.png"
    assert second.video is None and [v.name for v in second.videos] == ["02-give-up.short.mp4"]
    assert view.compilation is None
    assert view.deck is not None and view.deck.url == "/u/deck.apkg" and view.deck_notes == 2
    assert view.deck_tsv is not None and view.deck_tsv.name == "deck.tsv"
    assert view.metadata is not None and view.metadata.url == "/u/metadata.json"


def test_a_broken_manifest_still_lists_the_downloads(tmp_path: Path) -> None:
    for broken in ("{not json", "[1, 2]"):
        record, urls = _job(tmp_path / str(len(broken)), broken)
        view = episode_view(record, urls, _resolver(record))
        assert view.problem is not None and "manifest.json" in view.problem
        assert view.lessons == [] and len(view.downloads) == len(OUTPUTS)


def test_media_kinds() -> None:
    assert [media_kind(n) for n in ("a.MP4", "b.webm", "c.jpg", "d.PNG", "e.json", "f")] == [
        "video", "video", "image", "image", "file", "file",
    ]  # fmt: skip
