"""``langflix process`` and ``langflix demo`` through Typer's runner, on real media."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.temp import leftovers, temp_manager
from typer.testing import CliRunner

import langflix.cli.pipeline as cli_pipeline
from langflix.cli import app
from langflix.core.ffmpeg import probe
from langflix.demo import make_sample_episode
from langflix.temp import TempFileManager, uninstall_signal_handlers

pytestmark = pytest.mark.slow

TINY = ["--size", "320x240", "--preset", "ultrafast", "--repeat", "1", "--context", "1.5"]


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("cli-sample")
    with TempFileManager(base_dir=root / "tmp") as manager:
        return make_sample_episode(root / "in", duration=8.0, width=320, height=240, manager=manager)


@pytest.fixture(autouse=True)
def _restore_signal_handlers() -> Iterator[None]:
    """The app's callback installs SIGTERM/SIGHUP cleanup in *this* process: undo it after."""
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGHUP)}
    yield
    uninstall_signal_handlers()
    for sig, handler in saved.items():
        signal.signal(sig, handler)


@pytest.fixture
def manager(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TempFileManager]:
    """The CLI's process-wide manager, swapped for one under tmp_path."""
    with temp_manager(tmp_path) as mgr:
        monkeypatch.setattr(cli_pipeline, "get_temp_manager", lambda: mgr)
        yield mgr


def _invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def test_process_writes_outputs_and_a_summary(
    tmp_path: Path, sample: tuple[Path, Path], manager: TempFileManager
) -> None:
    video, srt = sample
    before = (video.read_bytes(), srt.read_bytes())
    out = tmp_path / "out"
    code, output = _invoke(
        "process", str(video), str(srt), "-o", str(out), "--max-expressions", "1",
        "--episode-name", "my show", *TINY,
    )  # fmt: skip
    assert code == 0, output
    episode = out / "my_show"
    manifest = json.loads((episode / "manifest.json").read_text(encoding="utf-8"))
    assert len(manifest["expressions"]) == 1
    assert manifest["options"]["repeat"] == 1
    lesson = episode / manifest["expressions"][0]["file"]
    assert probe(lesson).duration == pytest.approx(manifest["expressions"][0]["duration"], abs=0.01)
    assert probe(episode / "compilation.mp4").has_audio
    assert "outputs written: 3 files in" in output
    assert "time taken:" in output
    assert "temp files left: 0" in output
    assert manifest["expressions"][0]["phrase"] in output
    # One bar per step made it to the screen.
    for step in ("subtitles", "probe", "expressions", "cut", "speech", "title", "compilation"):
        assert step in output
    assert leftovers(manager) == []
    assert (video.read_bytes(), srt.read_bytes()) == before


def test_process_failure_is_a_clear_error_with_the_summary(
    tmp_path: Path, sample: tuple[Path, Path], manager: TempFileManager
) -> None:
    corrupt = tmp_path / "broken.mp4"
    corrupt.write_bytes(os.urandom(32 * 1024))
    out = tmp_path / "out"
    code, output = _invoke("process", str(corrupt), str(sample[1]), "-o", str(out), *TINY)
    assert code == 1
    assert "error:" in output and "broken.mp4 is not a readable media file" in output
    assert "temp files left: 0" in output
    assert "outputs written" not in output
    assert not out.exists() or list(out.iterdir()) == []
    assert leftovers(manager) == []


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--tts", "nope"], "nope"),
        (["--language-level", "expert"], "expert"),
        (["--size", "321x240"], "even"),
        (["--size", "big"], "WIDTHxHEIGHT"),
        (["--max-expressions", "0"], "--max-expressions"),
    ],
)
def test_bad_options_are_usage_errors(
    tmp_path: Path, sample: tuple[Path, Path], args: list[str], needle: str
) -> None:
    result = CliRunner().invoke(app, ["process", str(sample[0]), str(sample[1]), *args])
    assert result.exit_code == 2
    assert needle in result.output
    assert not (tmp_path / "langflix-output").exists()


def test_missing_input_is_a_usage_error(tmp_path: Path, sample: tuple[Path, Path]) -> None:
    result = CliRunner().invoke(app, ["process", str(tmp_path / "nope.mp4"), str(sample[1])])
    assert result.exit_code == 2
    assert "nope.mp4" in result.output


def test_demo_makes_its_own_episode_and_processes_it(
    tmp_path: Path, manager: TempFileManager
) -> None:
    out = tmp_path / "langflix-output"
    code, output = _invoke(
        "demo", "-o", str(out), "--duration", "8", "--max-expressions", "1", *TINY
    )
    assert code == 0, output
    assert [p.name for p in out.iterdir()] == ["langflix-demo"]
    manifest = json.loads((out / "langflix-demo" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["expressions"][0]["phrase"] == "break the ice"
    assert "temp files left: 0" in output
    # The sample episode was an intermediate: it went with its scope.
    assert leftovers(manager) == []


def test_ctrl_c_exits_130_with_the_summary(
    tmp_path: Path,
    sample: tuple[Path, Path],
    manager: TempFileManager,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real_run = cli_pipeline._run

    def interrupted(*args: object, **kwargs: object) -> object:
        bars = args[-1]

        def progress(event: object) -> None:
            bars(event)  # type: ignore[operator]
            if getattr(event, "step", "") == "speech":  # clips already exist in the scope
                raise KeyboardInterrupt

        return real_run(*args[:-1], progress)  # type: ignore[arg-type]

    monkeypatch.setattr(cli_pipeline, "_run", interrupted)
    out = tmp_path / "out"
    code, output = _invoke("process", str(sample[0]), str(sample[1]), "-o", str(out), *TINY)
    assert code == 130
    assert "interrupted" in output and "no partial output" in output
    assert "temp files left: 0" in output
    assert not out.exists() or list(out.iterdir()) == []
    assert leftovers(manager) == []
