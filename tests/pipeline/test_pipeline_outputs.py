"""Every output a job can make, as their users get them: shorts, the deck, the upload metadata.

One job with every output runs for the module (real ffmpeg, libass, the sample's
Korean SRT): its shorts are probed and read back with tesseract, its Anki package
is opened as Anki's importer reads it, its metadata is checked against the
manifest. Further small jobs make one output each (a deck alone must encode no
video; a second run's deck keeps every id) and fail in each new stage, leaving
no temp file and no output.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from support.anki import Package, open_package
from support.frames import frame_png
from support.ocr import ocr, word_match_ratio
from support.procs import children
from support.temp import leftovers

from langflix.cancel import CancelToken
from langflix.config import Settings
from langflix.core.deck import DECK_FIELDS, TSV_COLUMNS, deck_id
from langflix.core.expressions import expression_spans
from langflix.core.ffmpeg import FFmpegTools
from langflix.core.output_format import OutputFormat, ShortFormat
from langflix.core.short_layout import ShortText, layout_short
from langflix.demo import write_translation_srt
from langflix.errors import CancelledError, FFmpegError, JobError
from langflix.pipeline import LangFlixPipeline, PipelineOptions, PipelineResult, ProgressEvent
from langflix.pipeline.assemble import lesson_caption
from langflix.temp import TempFileManager

if TYPE_CHECKING:
    from conftest import Episode

pytestmark = pytest.mark.slow

probe = FFmpegTools().probe
SMALL = OutputFormat(width=320, height=240, fps=25, preset="ultrafast")
TALL = ShortFormat(width=360, height=640)
"""Big enough for tesseract to read the bands; the default is 1080x1920."""
EVERYTHING = PipelineOptions(
    max_expressions=2, repeat=1, output_format=SMALL, context_seconds=2.0, tts="none", short_format=TALL,
    deck_with_shorts=True, episode_name="Sample Show",
)  # fmt: skip
TINY = PipelineOptions(
    max_expressions=1, repeat=1, output_format=OutputFormat(width=160, height=120, preset="ultrafast"),
    context_seconds=1.5, tts="none", short_format=ShortFormat(width=108, height=192), episode_name="Sample Show",
)  # fmt: skip


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def settings() -> Settings:
    return Settings(llm_base_url=None, ffmpeg_timeout=120.0)


@dataclass(frozen=True)
class Run:
    result: PipelineResult
    manifest: dict[str, Any]
    deck: Package
    folder: Path


@pytest.fixture(scope="module")
def korean(episode: Episode, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_translation_srt(episode.subtitles, tmp_path_factory.mktemp("ko") / "sample.ko.srt")


@pytest.fixture(scope="module")
def run(episode: Episode, korean: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    root = tmp_path_factory.mktemp("outputs")
    with TempFileManager(base_dir=root / "tmp") as manager:
        result = LangFlixPipeline(
            episode.video, episode.subtitles, root / "out", EVERYTHING, translation_subtitles=korean,
            manager=manager, settings=settings(),
        ).run()  # fmt: skip
        assert leftovers(manager) == []
    assert [p for p in children() if p.comm in ("ffmpeg", "ffprobe")] == []
    manifest = json.loads(result.manifest.read_text(encoding="utf-8"))
    assert result.deck is not None
    yield Run(result, manifest, open_package(result.deck, root / "deck"), root)


def named_files(manifest: dict[str, Any]) -> set[str]:
    """Every file name the manifest gives."""
    names = {"manifest.json"}
    for item in manifest["expressions"]:
        names |= {n for n in (item["file"], item["thumbnail"], (item["short"] or {}).get("file")) if n}
    for key in ("compilation", "deck"):
        entry = manifest[key] or {}
        names |= {v for k, v in entry.items() if k in ("file", "thumbnail", "tsv") and v}
    if manifest["metadata"]:
        names.add(manifest["metadata"])
    return names


# -- the job with every output ---------------------------------------------------------------


def test_every_output_is_published_and_named_by_the_manifest(run: Run) -> None:
    published = {p.name for p in run.result.episode_dir.iterdir()}
    assert published == named_files(run.manifest)
    assert run.manifest["options"]["outputs"] == ["lessons", "shorts", "deck", "compilation"]
    assert len(run.result.videos) == len(run.result.shorts) == len(run.result.thumbnails) == 2
    assert {"deck.apkg", "deck.tsv", "metadata.json", "compilation.mp4", "compilation.png"} <= published


def test_shorts_are_vertical_h264_aac_the_scene_then_the_clip(run: Run) -> None:
    for short, item in zip(run.result.shorts, run.manifest["expressions"], strict=True):
        info = probe(short)
        assert (info.width, info.height, info.video_codec, info.audio_codec) == (360, 640, "h264", "aac")
        assert info.frame_rate == SMALL.fps
        parts = item["parts"]
        assert info.duration == pytest.approx(parts["context_clip"] + parts["expression_clip"], abs=0.1)
        assert info.duration <= EVERYTHING.shorts_max_seconds
        assert item["short"]["duration"] == pytest.approx(info.duration, abs=0.06)


def test_a_shorts_bands_read_back_the_expression_and_its_translation(run: Run) -> None:
    short, item = run.result.shorts[0], run.manifest["expressions"][0]
    assert item["translation"], "the sample's Korean SRT translates the line"
    expression = next(e for e in run.result.expressions if e.phrase == item["phrase"])
    layout = layout_short(
        ShortText(item["phrase"], lesson_caption(expression), item["translation"], item["meaning"], "Sample Show"),
        width=TALL.width, height=TALL.height, source_width=SMALL.width, source_height=SMALL.height,
    )  # fmt: skip
    png = frame_png(short, 1.0, run.folder / "short.png")
    top, bottom = layout.bands
    expression_line = next(line for line in layout.lines if line.role == "expression")
    box = expression_line.box
    read = ocr(png, langs="eng", crop=(0, int(box.top) - 4, TALL.width, int(box.height) + 8), upscale=3)
    assert word_match_ratio(item["phrase"], read) >= 0.8, read
    translation = [line for line in layout.lines if line.role == "translation"]
    y0, y1 = int(translation[0].box.top) - 4, int(translation[-1].box.bottom) + 4
    read = ocr(png, langs="kor", crop=(0, y0, TALL.width, y1 - y0), upscale=3)
    assert word_match_ratio(item["translation"], read) >= 0.6, read
    assert top.bottom <= layout.picture.top and bottom.top >= layout.picture.bottom


def test_the_deck_holds_one_full_note_per_expression_with_its_media(run: Run) -> None:
    deck, items = run.deck, run.manifest["expressions"]
    assert len(deck.notes) == len(items) == 2 and len(deck.cards) == 2
    assert {card[2] for card in deck.cards} == {deck_id("Sample_Show")} == {run.manifest["deck"]["deck_id"]}
    assert [note[1] for note in deck.notes] == run.manifest["deck"]["guids"]
    for fields, item, short in zip(deck.fields(DECK_FIELDS), items, run.result.shorts, strict=True):
        assert fields["Expression"] == item["phrase"]
        lit = [item["line"][a:b] for a, b in expression_spans(item["phrase"], item["line"])]
        assert lit and all(f'<span class="hl">{text}</span>' in fields["Line"] for text in lit)
        assert fields["Translation"] == item["translation"] and fields["Meaning"] == item["meaning"]
        assert fields["Kind"].startswith(item["kind"].replace("_", " "))
        audio = fields["Audio"].removeprefix("[sound:").removesuffix("]")
        still = fields["Screenshot"].removeprefix('<img src="').removesuffix('">')
        clip = fields["Short"].removeprefix("[sound:").removesuffix("]")
        assert {audio, still, clip} <= set(deck.files)
        mp3 = run.folder / audio
        mp3.write_bytes(deck.files[audio])
        info = probe(mp3)
        assert info.audio_codec == "mp3" and not info.has_video
        assert info.duration == pytest.approx(item["parts"]["expression_clip"], abs=0.1)
        assert deck.files[still][:3] == b"\xff\xd8\xff"
        assert deck.files[clip] == short.read_bytes(), "the short itself is in the note"
    assert len(deck.files) == 6


def test_the_tsv_has_the_same_notes(run: Run) -> None:
    assert run.result.deck_tsv is not None
    rows = [line.split("\t") for line in run.result.deck_tsv.read_text(encoding="utf-8").splitlines()]
    assert rows[0] == list(TSV_COLUMNS) and len(rows) == 3
    media = set(run.deck.files)
    for row, item in zip(rows[1:], run.manifest["expressions"], strict=True):
        assert row[:4] == [item["phrase"], item["line"], item["translation"], item["meaning"]]
        assert {row[6], row[7], row[8]} <= media


def test_the_metadata_describes_each_short_and_the_compilation_with_its_chapters(run: Run) -> None:
    assert run.result.metadata is not None
    metadata = json.loads(run.result.metadata.read_text(encoding="utf-8"))
    *shorts, compilation = metadata["videos"]
    items = run.manifest["expressions"]
    for entry, item in zip(shorts, items, strict=True):
        assert entry["file"] == item["short"]["file"] and entry["thumbnail"] == item["thumbnail"]
        assert item["phrase"] in entry["title"] and item["meaning"] in entry["description"]
        assert (run.result.episode_dir / entry["thumbnail"]).is_file()
    assert compilation["file"] == "compilation.mp4" and compilation["thumbnail"] == "compilation.png"
    starts = [chapter["start"] for chapter in compilation["chapters"]]
    assert starts[0] == 0.0
    assert starts[1] == pytest.approx(items[0]["duration"], abs=0.1)
    for item in items:
        assert f"{item['phrase']} (" in compilation["description"]


# -- one output at a time ------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Recording(FFmpegTools):
    """The real ffmpeg, every run's arguments kept."""

    runs: list[list[str]] = field(default_factory=list)

    def run(self, args: Sequence[str], **kwargs: Any) -> None:
        self.runs.append([str(a) for a in args])
        super().run(args, **kwargs)


def test_a_deck_alone_encodes_no_video_and_keeps_every_id_of_the_first_run(
    run: Run, episode: Episode, korean: Path, tmp_path: Path, manager: TempFileManager
) -> None:
    tools = Recording()
    options = EVERYTHING.replace(outputs="deck", deck_with_shorts=False)
    result = LangFlixPipeline(
        episode.video, episode.subtitles, tmp_path / "out", options, translation_subtitles=korean, manager=manager,
        settings=settings(), ffmpeg=tools,
    ).run()  # fmt: skip
    assert leftovers(manager) == []
    assert {p.name for p in result.episode_dir.iterdir()} == {"deck.apkg", "deck.tsv", "manifest.json"}
    runs = tools.runs
    assert runs and not any("libx264" in args for args in runs), "no video encode at all"
    assert len(runs) == 2, "one run per expression: its audio and screenshot"
    assert result.deck is not None
    again = open_package(result.deck, tmp_path / "deck")
    assert [note[:3] for note in again.notes] == [note[:3] for note in run.deck.notes]
    assert again.cards == run.deck.cards
    assert set(again.media.values()) == set(run.deck.media.values()) - {
        name for name in run.deck.media.values() if name.endswith(".mp4")
    }


def test_shorts_alone_cropped_from_the_source(
    episode: Episode, tmp_path: Path, manager: TempFileManager
) -> None:
    tools = Recording()
    options = TINY.replace(outputs="shorts", shorts_fit="crop", shorts_max_seconds=5.0)
    result = LangFlixPipeline(
        episode.video, episode.subtitles, tmp_path / "out", options, manager=manager, settings=settings(),
        ffmpeg=tools,
    ).run()  # fmt: skip
    assert leftovers(manager) == []
    names = {p.name for p in result.episode_dir.iterdir()}
    (short,) = result.shorts
    assert names == {short.name, result.thumbnails[0].name, "metadata.json", "manifest.json"}
    info = probe(short)
    assert (info.width, info.height, info.video_codec, info.audio_codec) == (108, 192, "h264", "aac")
    assert info.duration <= 5.0 + 1e-6
    assert sum("libx264" in args for args in tools.runs) == 1, "one encode: the short"
    manifest = json.loads(result.manifest.read_text(encoding="utf-8"))
    assert manifest["compilation"] is None and manifest["deck"] is None
    assert manifest["expressions"][0]["file"] is None and result.compilation is None


def test_a_compilation_alone_publishes_only_the_compilation(
    episode: Episode, tmp_path: Path, manager: TempFileManager
) -> None:
    result = LangFlixPipeline(
        episode.video, episode.subtitles, tmp_path / "out", TINY.replace(outputs="compilation"), manager=manager,
        settings=settings(),
    ).run()  # fmt: skip
    assert leftovers(manager) == []
    names = {p.name for p in result.episode_dir.iterdir()}
    assert names == {"compilation.mp4", "compilation.png", "metadata.json", "manifest.json"}
    assert result.videos == () and result.shorts == () and result.thumbnails == ()
    assert probe(result.episode_dir / "compilation.mp4").has_audio


# -- failures in the new stages ---------------------------------------------------------------


def _assert_no_trace(manager: TempFileManager, out: Path, episode: Episode, before: dict[Path, str]) -> None:
    assert leftovers(manager) == []
    assert not out.exists() or list(out.rglob("*")) == [], "a failed job must leave no output"
    assert {p: digest(p) for p in before} == before
    assert [p for p in children() if p.comm in ("ffmpeg", "ffprobe")] == []


@dataclass(frozen=True, kw_only=True)
class FailingWhen(FFmpegTools):
    """The real ffmpeg, but a run whose arguments hold ``needle`` gets an unknown encoder."""

    needle: str

    def run(self, args: Sequence[str], **kwargs: Any) -> None:
        if any(self.needle in str(a) for a in args):
            args = [*args[:-1], "-c:v", "no_such_encoder", args[-1]]
        super().run(args, **kwargs)


@pytest.mark.parametrize(
    ("needle", "stage"), [("/short_", "the short's encode"), ("libmp3lame", "the deck's audio")]
)
def test_a_failing_new_stage_leaves_nothing(
    needle: str, stage: str, episode: Episode, tmp_path: Path, manager: TempFileManager
) -> None:
    before = {episode.video: digest(episode.video), episode.subtitles: digest(episode.subtitles)}
    out = tmp_path / "out"
    with pytest.raises(FFmpegError, match="no_such_encoder"):
        LangFlixPipeline(
            episode.video, episode.subtitles, out, TINY, manager=manager, settings=settings(),
            ffmpeg=FailingWhen(needle=needle),
        ).run()  # fmt: skip
    _assert_no_trace(manager, out, episode, before)


@pytest.mark.parametrize("step", ["short", "study", "deck", "metadata", "publish"])
def test_a_failure_at_each_new_step_leaves_nothing(
    step: str, episode: Episode, tmp_path: Path, manager: TempFileManager
) -> None:
    before = {episode.video: digest(episode.video), episode.subtitles: digest(episode.subtitles)}
    out = tmp_path / "out"

    def progress(event: ProgressEvent) -> None:
        if event.step == step:
            raise RuntimeError(f"stopped at {step}")

    with pytest.raises(JobError, match=f"stopped at {step}"):
        LangFlixPipeline(
            episode.video, episode.subtitles, out, TINY, manager=manager, settings=settings(), progress=progress
        ).run()
    _assert_no_trace(manager, out, episode, before)


def test_cancelling_during_a_short_stops_it_and_leaves_nothing(
    episode: Episode, tmp_path: Path, manager: TempFileManager
) -> None:
    before = {episode.video: digest(episode.video), episode.subtitles: digest(episode.subtitles)}
    token = CancelToken()
    started = threading.Event()

    class CancelDuringShort(FFmpegTools):
        def run(self, args: Sequence[str], **kwargs: Any) -> None:
            if any("/short_" in str(a) for a in args):
                started.set()
                threading.Timer(0.05, token.cancel, args=("the user pressed stop",)).start()
            super().run(args, **kwargs)

    out = tmp_path / "out"
    with pytest.raises(CancelledError):
        LangFlixPipeline(
            episode.video, episode.subtitles, out, TINY.replace(outputs="shorts"), manager=manager,
            settings=settings(), ffmpeg=CancelDuringShort(), cancel=token,
        ).run()  # fmt: skip
    assert started.is_set()
    _assert_no_trace(manager, out, episode, before)
