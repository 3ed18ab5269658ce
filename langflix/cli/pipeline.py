"""``langflix process`` and ``langflix demo``: run one job with a progress bar per step.

Both commands end with the same summary (its rows come from the manifest): the
outputs written, the time taken and the temp files left behind, which must be 0;
when not, the summary says so loudly and the exit status is 1. The options are one
:class:`~langflix.pipeline.PipelineOptions`: the flags' ranges, choices and help
come from it, and the video format starts from ``LANGFLIX_VIDEO_*`` like the service's.
"""

from __future__ import annotations

import json
import time
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Final

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from langflix.cancel import CancelToken
from langflix.cli import app
from langflix.config import get_settings
from langflix.core.expressions import LANGUAGE_LEVELS
from langflix.core.output_format import DEFAULT_FORMAT, DEFAULT_SHORT_FORMAT, parse_size
from langflix.core.subtitle_render import SUBTITLE_STYLES
from langflix.demo import make_sample_episode, write_translation_srt
from langflix.errors import CancelledError, InvalidOptionError, LangFlixError
from langflix.pipeline import (
    LangFlixPipeline,
    PipelineOptions,
    PipelineResult,
    ProgressEvent,
    summary_rows,
    translation_note,
)
from langflix.pipeline.options import DEFAULT_SHORTS_MAX_SECONDS, OUTPUT_KINDS
from langflix.temp import OWNER_FILE, TempArea, TempFileManager, get_temp_manager
from langflix.tts import TTS_CHOICES

__all__ = ["LevelChoice", "StyleChoice", "TTSChoice", "build_options", "demo", "process", "temp_files_left"]

EXIT_FAILED: Final[int] = 1
EXIT_INTERRUPTED: Final[int] = 130

_DEFAULT_STYLE: Final[str] = PipelineOptions.model_fields["subtitles_style"].default
_out = Console()
_err = Console(stderr=True)

_FLAGS: Final[dict[str, str]] = {
    "max_expressions": "--max-expressions",
    "repeat": "--repeat",
    "tts": "--tts",
    "language_level": "--language-level",
    "episode_name": "--episode-name",
    "context_seconds": "--context",
    "width": "--size",
    "height": "--size",
    "preset": "--preset",
    "subtitles_style": "--subtitles-style",
    "outputs": "--outputs",
    "short_format": "--shorts-size",
    "shorts_fit": "--shorts-crop",
    "shorts_max_seconds": "--shorts-max-seconds",
    "deck_with_shorts": "--deck-with-shorts",
}
"""The flag that sets each option, to name it in a usage error."""


def temp_files_left(manager: TempFileManager) -> int:
    """Entries still under the manager's session directory (its own bookkeeping aside)."""
    root = manager.path
    if not root.exists():
        return 0
    return sum(1 for p in root.rglob("*") if p.name != OWNER_FILE)


class _StepBars:
    """One rich bar per step, plus an overall bar; the callback the pipeline calls."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._overall = progress.add_task("[bold]overall", total=100.0)
        self._current: TaskID | None = None

    def start_step(self, label: str) -> None:
        self._finish_current()
        self._current = self._progress.add_task(label, total=1.0)

    def __call__(self, event: ProgressEvent) -> None:
        self.start_step(escape(f"{event.step:<11} {event.message}"))
        self._progress.update(self._overall, completed=event.percent)

    def _finish_current(self) -> None:
        if self._current is not None:
            self._progress.update(self._current, completed=1.0)

    def close(self) -> None:
        self._finish_current()


def _make_progress() -> Progress:
    return Progress(
        SpinnerColumn(finished_text="[green]✓"),
        TextColumn("{task.description}"),
        BarColumn(bar_width=24),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        console=_err,
    )


def _run(
    video: Path,
    subtitles: Path,
    output_dir: Path,
    options: PipelineOptions,
    manager: TempArea,
    bars: _StepBars,
    translation: Path | None = None,
) -> PipelineResult:
    pipeline = LangFlixPipeline(
        video, subtitles, output_dir, options, translation_subtitles=translation, manager=manager, progress=bars,
        cancel=CancelToken(),
    )  # fmt: skip
    return pipeline.run()


def _summary(result: PipelineResult | None, started: float, manager: TempFileManager) -> int:
    """Print outputs, time taken and temp files left; return how many temp files are left."""
    left = temp_files_left(manager)
    elapsed = time.monotonic() - started
    if result is not None:
        manifest = json.loads(result.manifest.read_text(encoding="utf-8"))
        rows = summary_rows(manifest)
        table = Table(title=f"Outputs in {escape(str(result.episode_dir))}", title_justify="left")
        table.add_column("file")
        table.add_column("expression")
        table.add_column("duration", justify="right")
        for row in rows:
            length = "" if row.seconds is None else f"{row.seconds:.1f} s"
            table.add_row(escape(row.file), escape(row.label), length)
        _out.print(table)
        _out.print(
            f"outputs written: {len(rows)} files in {escape(str(result.episode_dir))}",
            soft_wrap=True,
            highlight=False,
        )
        _out.print(escape(translation_note(manifest)), soft_wrap=True, highlight=False)
    _out.print(f"time taken: {elapsed:.1f} s", highlight=False)
    style = "green" if left == 0 else "bold red"
    _out.print(f"temp files left: [{style}]{left}[/{style}]", highlight=False)
    if left:
        _err.print(
            f"[bold red]warning:[/] {left} temp entries remain under {escape(str(manager.path))}",
            soft_wrap=True,
        )
    return left


def _execute(
    video: Path,
    subtitles: Path,
    output_dir: Path,
    options: PipelineOptions,
    *,
    translation: Path | None = None,
    demo: bool = False,
    demo_seconds: float = 30.0,
) -> None:
    # SIGTERM/SIGHUP cleanup handlers are installed by the app's callback (cli/__init__.py).
    manager = get_temp_manager()
    started = time.monotonic()
    result: PipelineResult | None = None
    code = 0
    try:
        with _make_progress() as progress:
            bars = _StepBars(progress)
            try:
                if demo:
                    bars.start_step("sample      making a sample episode (test pattern + espeak-ng)")
                    with manager.scope("demo-input") as scope:
                        folder = scope.new_dir()
                        video, subtitles = make_sample_episode(folder, duration=demo_seconds, manager=scope)
                        # The sample's Korean SRT: the demo shows both languages, offline.
                        korean = write_translation_srt(subtitles, folder / f"{subtitles.stem}.ko.srt")
                        result = _run(video, subtitles, output_dir, options, manager, bars, korean)
                else:
                    result = _run(video, subtitles, output_dir, options, manager, bars, translation)
            finally:
                bars.close()
    except KeyboardInterrupt:
        _err.print(
            "[bold red]interrupted:[/] the job was stopped; no partial output was written",
            soft_wrap=True,
        )
        code = EXIT_INTERRUPTED
    except CancelledError as exc:
        _err.print(f"[bold red]cancelled:[/] {escape(str(exc))}", soft_wrap=True, highlight=False)
        code = EXIT_INTERRUPTED
    except LangFlixError as exc:
        # escape(): ffmpeg's stderr is full of "[libx264 @ 0x...]" that rich would parse.
        _err.print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True, highlight=False)
        code = EXIT_FAILED
    left = _summary(result, started, manager)
    if code == 0 and left:
        code = EXIT_FAILED
    if code:
        raise typer.Exit(code)


def build_options(
    *,
    max_expressions: int,
    repeat: int,
    tts: str | None,
    language_level: str,
    episode_name: str | None,
    size: str | None,
    preset: str | None,
    context: float,
    subtitles_style: str = _DEFAULT_STYLE,
    outputs: str | None = None,
    shorts_size: str | None = None,
    shorts_crop: bool = False,
    shorts_max_seconds: float = DEFAULT_SHORTS_MAX_SECONDS,
    deck_with_shorts: bool = False,
) -> PipelineOptions:
    """A job's options from the flags; what a flag leaves out comes from the settings.

    The output format starts from ``LANGFLIX_VIDEO_*`` (the service's too), then
    ``--size``/``--preset`` override it; the shorts' size starts from
    ``LANGFLIX_SHORTS_*``, then ``--shorts-size``. A bad value is a usage error naming its flag.
    """
    try:
        settings = get_settings()
        changes: dict[str, Any] = {}
        if size is not None:
            changes["width"], changes["height"] = parse_size(size)
        if preset is not None:
            changes["preset"] = preset
        chosen: dict[str, Any] = {"subtitles_style": subtitles_style}  # validated (and normalised) by the model
        if outputs is not None:
            chosen["outputs"] = outputs
        short_format = settings.short_format()
        if shorts_size is not None:
            try:
                width, height = parse_size(shorts_size)
                short_format = short_format.replace(width=width, height=height)
            except ValueError as exc:  # InvalidOptionError too: named by this flag, not --size's
                raise typer.BadParameter(str(exc), param_hint="--shorts-size") from exc
        return PipelineOptions(
            short_format=short_format,
            shorts_fit="crop" if shorts_crop else "letterbox",
            shorts_max_seconds=shorts_max_seconds,
            deck_with_shorts=deck_with_shorts,
            **chosen,
            max_expressions=max_expressions,
            repeat=repeat,
            tts=tts if tts is not None else settings.tts,
            language_level=language_level,
            episode_name=episode_name,
            output_format=settings.output_format().replace(**changes),
            context_seconds=context,
        )
    except InvalidOptionError as exc:
        flags = sorted({_FLAGS[name] for name, _ in exc.problems if name in _FLAGS})
        raise typer.BadParameter(str(exc), param_hint=flags or None) from exc
    except (LangFlixError, ValueError) as exc:
        raise typer.BadParameter(str(exc)) from exc


def _declared(field: str) -> dict[str, Any]:
    """typer's ``min``, ``max`` and ``help`` for ``field``, as PipelineOptions declares them."""
    info = PipelineOptions.model_fields[field]
    low, high = PipelineOptions.bounds(field)
    kind = int if info.annotation is int else float
    return {
        "min": None if low is None else kind(low),
        "max": None if high is None else kind(high),
        "help": info.description,
    }


_OutputDir = Annotated[
    Path | None,
    typer.Option(
        "-o",
        "--output-dir",
        help="Where OUTPUT_DIR/<episode>/ is written (default: LANGFLIX_OUTPUT_DIR or ./langflix-output).",
        file_okay=False,
    ),
]
_DEFAULTS: Final[PipelineOptions] = PipelineOptions()

_MaxExpressions = Annotated[
    int, typer.Option("--max-expressions", "-n", **_declared("max_expressions"))
]
_Repeat = Annotated[
    int, typer.Option("--repeat", **_declared("repeat"))
]
# Enums built from the library's own tuples: --help lists exactly what the pipeline accepts.
# (mypy cannot type an Enum whose members are computed: hence the ignores.)
TTSChoice = Enum("TTSChoice", {name: name for name in TTS_CHOICES}, type=str)  # type: ignore[misc]
LevelChoice = Enum("LevelChoice", {name: name for name in LANGUAGE_LEVELS}, type=str)  # type: ignore[misc]
StyleChoice = Enum("StyleChoice", {name: name for name in SUBTITLE_STYLES}, type=str)  # type: ignore[misc]

_Tts = Annotated[
    TTSChoice | None,
    typer.Option(
        "--tts",
        help="Who speaks the expression on the card: a text-to-speech provider, or none for a silent card "
        "(default: LANGFLIX_TTS or espeak).",
    ),
]
_Style = Annotated[
    StyleChoice,
    typer.Option("--subtitles-style", help=PipelineOptions.model_fields["subtitles_style"].description),
]
_Translation = Annotated[
    Path | None,
    typer.Option(
        "--translation-subtitles",
        exists=True,
        dir_okay=False,
        readable=True,
        help="A second subtitle file in the learner's language (e.g. the Korean SRT), aligned by time. "
        "Used where the subtitles are not bilingual; before the LLM.",
    ),
]
_Level = Annotated[
    LevelChoice,
    typer.Option("--language-level", help=PipelineOptions.model_fields["language_level"].description),
]
_EpisodeName = Annotated[
    str | None,
    typer.Option("--episode-name", help="Name of OUTPUT_DIR/<episode>/ (default: the video's stem)."),
]
_Context = Annotated[
    float,
    typer.Option("--context", **_declared("context_seconds")),
]
_Size = Annotated[
    str | None,
    typer.Option("--size", help=f"Output WIDTHxHEIGHT (default: LANGFLIX_VIDEO_WIDTH/HEIGHT, {DEFAULT_FORMAT.size})."),
]
_Preset = Annotated[
    str | None,
    typer.Option("--preset", help=f"x264 preset (default: LANGFLIX_VIDEO_PRESET, {DEFAULT_FORMAT.preset})."),
]


_Outputs = Annotated[
    str | None,
    typer.Option(
        "--outputs",
        help="What to make, comma-separated: "
        + ",".join(OUTPUT_KINDS)
        + " (default: all). lessons: 16:9 lessons; shorts: a vertical short per expression; "
        "deck: an Anki package + TSV; compilation: the lessons joined.",
    ),
]
_ShortsSize = Annotated[
    str | None,
    typer.Option(
        "--shorts-size",
        help=f"The shorts' WIDTHxHEIGHT (default: LANGFLIX_SHORTS_WIDTH/HEIGHT, {DEFAULT_SHORT_FORMAT.size}).",
    ),
]
_ShortsCrop = Annotated[
    bool,
    typer.Option(
        "--shorts-crop",
        help="Fill the short with a centre crop of the scene (default: the whole scene, letterboxed, "
        "with the text above and below it).",
    ),
]
_ShortsMax = Annotated[float, typer.Option("--shorts-max-seconds", **_declared("shorts_max_seconds"))]
_DeckShorts = Annotated[
    bool, typer.Option("--deck-with-shorts", help=PipelineOptions.model_fields["deck_with_shorts"].description)
]


def _choice(choice: Enum | None) -> str | None:
    return None if choice is None else str(choice.value)


@app.command()
def process(
    video: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="The episode's video.")
    ],
    subtitles: Annotated[
        Path,
        typer.Argument(
            exists=True, dir_okay=False, readable=True, help="Its subtitles (.srt .vtt .ass .smi)."
        ),
    ],
    output_dir: _OutputDir = None,
    max_expressions: _MaxExpressions = _DEFAULTS.max_expressions,
    repeat: _Repeat = _DEFAULTS.repeat,
    tts: _Tts = None,
    language_level: _Level = LevelChoice(_DEFAULTS.language_level),
    episode_name: _EpisodeName = None,
    context: _Context = _DEFAULTS.context_seconds,
    size: _Size = None,
    preset: _Preset = None,
    subtitles_style: _Style = StyleChoice(_DEFAULTS.subtitles_style),
    translation_subtitles: _Translation = None,
    outputs: _Outputs = None,
    shorts_size: _ShortsSize = None,
    shorts_crop: _ShortsCrop = False,
    shorts_max_seconds: _ShortsMax = _DEFAULTS.shorts_max_seconds,
    deck_with_shorts: _DeckShorts = False,
) -> None:
    """Turn VIDEO + SUBTITLES into lessons, vertical shorts, an Anki deck and a compilation, with a manifest.

    Per expression: a 16:9 lesson and its thumbnail, a vertical short; per episode:
    the compilation, the deck (.apkg + .tsv) and upload metadata (--outputs chooses).

    Each line's translation comes from the subtitle file's other track when it is
    bilingual, else from --translation-subtitles, else from the LLM when
    LANGFLIX_LLM_BASE_URL is set; without any the lessons show English only.
    The video format is LANGFLIX_VIDEO_* (as the service's), with --size and --preset on top.
    """
    options = build_options(
        max_expressions=max_expressions, repeat=repeat, tts=_choice(tts), language_level=language_level.value,
        episode_name=episode_name, size=size, preset=preset, context=context,
        subtitles_style=subtitles_style.value, outputs=outputs, shorts_size=shorts_size, shorts_crop=shorts_crop,
        shorts_max_seconds=shorts_max_seconds, deck_with_shorts=deck_with_shorts,
    )  # fmt: skip
    _execute(
        video, subtitles, output_dir or get_settings().output_dir, options, translation=translation_subtitles
    )


@app.command()
def demo(
    output_dir: Annotated[
        Path,
        typer.Option("-o", "--output-dir", file_okay=False, help="Where the demo's outputs go."),
    ] = Path("langflix-output"),
    max_expressions: _MaxExpressions = 3,
    repeat: _Repeat = _DEFAULTS.repeat,
    tts: _Tts = None,
    context: _Context = 5.0,
    size: _Size = None,
    preset: _Preset = None,
    subtitles_style: _Style = StyleChoice(_DEFAULTS.subtitles_style),
    duration: Annotated[
        float, typer.Option("--duration", min=5.0, help="Length of the sample episode in seconds.")
    ] = 30.0,
    outputs: _Outputs = None,
    shorts_size: _ShortsSize = None,
    shorts_crop: _ShortsCrop = False,
) -> None:
    """Make a sample episode (test pattern + spoken idioms, with its Korean SRT) and run the pipeline on it."""
    options = build_options(
        max_expressions=max_expressions, repeat=repeat, tts=_choice(tts), language_level=_DEFAULTS.language_level,
        episode_name="langflix-demo", size=size, preset=preset, context=context,
        subtitles_style=subtitles_style.value, outputs=outputs, shorts_size=shorts_size, shorts_crop=shorts_crop,
    )  # fmt: skip
    _execute(Path(), Path(), output_dir, options, demo=True, demo_seconds=duration)
