"""``langflix process`` and ``langflix demo`` through Typer's runner, on real media."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support.hostile import hls_playlist, make_private_video, srt_and_hls_playlist
from support.procs import encoder_of, gone_within, when_encoding
from support.temp import leftovers, temp_manager
from typer.testing import CliRunner

import langflix.cli
import langflix.cli.pipeline as cli_pipeline
from langflix.cli import app
from langflix.core.ffmpeg import FFmpegTools
from langflix.demo import SAMPLE_TRANSLATIONS, make_sample_episode, write_translation_srt
from langflix.pipeline import summary_rows
from langflix.temp import TempFileManager, sweep_orphans

pytestmark = pytest.mark.slow

probe = FFmpegTools().probe

TINY = [
    "--size", "320x240", "--preset", "ultrafast", "--repeat", "1", "--context", "1.5", "--shorts-size", "216x384",
]  # fmt: skip


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("cli-sample")
    with TempFileManager(base_dir=root / "tmp") as manager:
        return make_sample_episode(root / "in", duration=8.0, width=320, height=240, manager=manager)


@pytest.fixture(autouse=True)
def installs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The app's callback installs SIGTERM/SIGHUP cleanup: counted here, not done to *this* process.

    (A real ``langflix`` process gets the real handlers: tests/api/test_serve.py kills one.)
    """
    calls: list[int] = []
    monkeypatch.setattr(langflix.cli, "install_signal_handlers", lambda: calls.append(1))
    return calls


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
    tmp_path: Path, sample: tuple[Path, Path], manager: TempFileManager, installs: list[int]
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
    # The lesson, its thumbnail and short, the compilation and its thumbnail, the deck, its TSV,
    # the upload metadata, the manifest: every output by default.
    assert "outputs written: 9 files in" in output
    short = episode / manifest["expressions"][0]["short"]["file"]
    assert (probe(short).width, probe(short).height) == (216, 384)
    assert manifest["deck"]["notes"] == 1 and (episode / "deck.apkg").is_file()
    assert (episode / "metadata.json").is_file()
    assert "English only: no translation was found" in output
    assert "time taken:" in output
    assert "temp files left: 0" in output
    assert manifest["expressions"][0]["phrase"] in output
    # One bar per step made it to the screen.
    for step in ("subtitles", "probe", "expressions", "cut", "speech", "title", "compilation"):
        assert step in output
    assert leftovers(manager) == []
    assert (video.read_bytes(), srt.read_bytes()) == before
    assert installs == [1], "the command installed the SIGTERM/SIGHUP cleanup once"


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


def test_process_refuses_a_playlist_posing_as_the_video(
    tmp_path: Path, sample: tuple[Path, Path], manager: TempFileManager
) -> None:
    """An HLS playlist named video.mp4, naming a private video elsewhere: never cut, never published."""
    private = make_private_video(tmp_path / "elsewhere", seconds=8.0)
    video = tmp_path / "in" / "video.mp4"
    video.parent.mkdir()
    video.write_bytes(hls_playlist(private, seconds=8.0))
    out = tmp_path / "out"
    code, output = _invoke("process", str(video), str(sample[1]), "-o", str(out), "--max-expressions", "1", *TINY)
    words = " ".join(output.split())  # rich wraps long lines
    assert code == 1, output
    assert "error:" in words and "video.mp4 is an HLS playlist (ffmpeg format 'hls'), not a video" in words
    assert "outputs written" not in words and "temp files left: 0" in words
    assert not out.exists() or list(out.rglob("*")) == []
    assert leftovers(manager) == []


def test_process_refuses_a_subtitle_that_is_really_a_playlist(
    tmp_path: Path, sample: tuple[Path, Path], manager: TempFileManager
) -> None:
    """A file both a valid SRT and an HLS playlist: refused before anything reads it."""
    private = make_private_video(tmp_path / "elsewhere", seconds=8.0)
    subtitles = tmp_path / "in" / "episode.srt"
    subtitles.parent.mkdir()
    subtitles.write_bytes(srt_and_hls_playlist(private))
    out = tmp_path / "out"
    code, output = _invoke("process", str(sample[0]), str(subtitles), "-o", str(out), *TINY)
    words = " ".join(output.split())
    assert code == 1, output
    assert "episode.srt is an HLS playlist (ffmpeg format 'hls'), not a subtitle file" in words
    assert not out.exists() or list(out.rglob("*")) == []
    assert leftovers(manager) == []


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--tts", "nope"], "nope"),
        (["--language-level", "expert"], "expert"),
        (["--size", "321x240"], "even"),
        (["--size", "big"], "WIDTHxHEIGHT"),
        (["--max-expressions", "0"], "--max-expressions"),
        (["--subtitles-style", "loud"], "loud"),
        (["--translation-subtitles", "/nonexistent/ko.srt"], "ko.srt"),
        (["--outputs", "lessons,reels"], "unknown output 'reels'"),
        (["--outputs", ","], "--outputs"),
        (["--shorts-size", "215x384"], "--shorts-size"),
        (["--shorts-max-seconds", "2"], "--shorts-max-seconds"),
        (["--outputs", "deck", "--deck-with-shorts"], "--deck-with-shorts"),
    ],
)
def test_bad_options_are_usage_errors(
    tmp_path: Path, sample: tuple[Path, Path], args: list[str], needle: str
) -> None:
    result = CliRunner().invoke(app, ["process", str(sample[0]), str(sample[1]), *args])
    assert result.exit_code == 2
    assert needle in result.output
    assert not (tmp_path / "langflix-output").exists()


def test_outputs_choose_what_the_job_makes(
    tmp_path: Path, sample: tuple[Path, Path], manager: TempFileManager
) -> None:
    video, srt = sample
    out = tmp_path / "out"
    code, output = _invoke(
        "process", str(video), str(srt), "-o", str(out), "--max-expressions", "1", *TINY, "--tts", "none",
        "--outputs", "shorts, deck", "--shorts-crop", "--shorts-max-seconds", "6", "--deck-with-shorts",
    )  # fmt: skip
    assert code == 0, output
    episode = next(out.iterdir())
    manifest = json.loads((episode / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["options"]["outputs"] == ["shorts", "deck"]
    assert manifest["options"]["shorts"] == {"width": 216, "height": 384, "fit": "crop", "max_seconds": 6.0}
    (item,) = manifest["expressions"]
    assert item["file"] is None and manifest["compilation"] is None and manifest["deck"]["with_shorts"]
    assert sorted(p.name for p in episode.iterdir()) == sorted(
        [item["short"]["file"], item["thumbnail"], "deck.apkg", "deck.tsv", "metadata.json", "manifest.json"]
    )
    assert probe(episode / item["short"]["file"]).duration <= 6.0 + 1e-6
    assert "(short)" in output and "(Anki deck) 1 notes" in output
    assert leftovers(manager) == []


def test_the_lesson_choices_reach_the_job(
    tmp_path: Path, sample: tuple[Path, Path], manager: TempFileManager
) -> None:
    """--translation-subtitles, --subtitles-style and --tts none, as the API's form takes them."""
    video, srt = sample
    korean = write_translation_srt(srt, tmp_path / "sample.ko.srt")
    out = tmp_path / "out"
    code, output = _invoke(
        "process", str(video), str(srt), "-o", str(out), "--max-expressions", "1", *TINY,
        "--translation-subtitles", str(korean), "--subtitles-style", "english", "--tts", "none",
    )  # fmt: skip
    assert code == 0, output
    manifest = json.loads(next(out.glob("*/manifest.json")).read_text(encoding="utf-8"))
    assert manifest["options"]["subtitles_style"] == "english" and manifest["options"]["tts"] == "none"
    (lesson,) = manifest["expressions"]
    assert lesson["translation"] == SAMPLE_TRANSLATIONS[lesson["line"]]
    assert lesson["translation_source"] == "translation_file"
    assert "translations (ko): 1 of 1 expressions" in output
    assert "synthesising speech" not in output, "no voice, no speech step"
    assert "temp files left: 0" in output
    assert leftovers(manager) == []


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
    # The demo brings its Korean SRT: both languages, offline.
    assert manifest["expressions"][0]["translation"] == SAMPLE_TRANSLATIONS[manifest["expressions"][0]["line"]]
    assert "temp files left: 0" in output
    # The sample episode was an intermediate: it went with its scope.
    assert leftovers(manager) == []


def test_ctrl_c_exits_130_with_the_summary(
    tmp_path: Path, sample: tuple[Path, Path], manager: TempFileManager
) -> None:
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    victims: list[int] = []

    def interrupt(pid: int) -> None:
        victims.append(pid)
        os.kill(os.getpid(), signal.SIGINT)  # what Ctrl-C in the terminal does, mid-encode

    out = tmp_path / "out"
    try:
        watcher = when_encoding(interrupt)
        code, output = _invoke("process", str(sample[0]), str(sample[1]), "-o", str(out), *TINY)
        watcher.join(5)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert victims and not Path(f"/proc/{victims[0]}").exists(), "the encoding ffmpeg was killed and reaped"
    assert code == 130
    assert "interrupted" in output and "no partial output" in output
    assert "temp files left: 0" in output
    assert not out.exists() or list(out.iterdir()) == []
    assert leftovers(manager) == []


# -- a real `langflix process`, killed for real ----------------------------------------------


class _RealCommand:
    """``python -m langflix process`` as its own process, with its own temp base dir."""

    def __init__(self, tmp_path: Path, sample: tuple[Path, Path], out: Path) -> None:
        self.temp_dir = tmp_path / "temp-base"
        self.log = tmp_path / "langflix.log"
        env = dict(os.environ, LANGFLIX_TEMP_DIR=str(self.temp_dir), PYTHONPATH=os.pathsep.join(sys.path))
        with open(self.log, "wb") as log:  # noqa: PTH123 - the child writes it; a pipe could fill up
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "langflix", "process", str(sample[0]), str(sample[1]), "-o", str(out),
                 "--max-expressions", "1", *TINY],
                env=env, stdout=log, stderr=log,
            )  # fmt: skip

    def finish(self) -> int:
        try:
            return self.proc.wait(60)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()

    def sessions_left(self) -> list[str]:
        return sorted(p.name for p in self.temp_dir.iterdir()) if self.temp_dir.exists() else []


def _complete(episode: Path) -> bool:
    """Whether ``episode`` holds its manifest and every file the manifest names, none empty."""
    try:
        manifest = json.loads((episode / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    names = [row.file for row in summary_rows(manifest)]  # every file it names, itself included
    return sorted(p.name for p in episode.iterdir()) == sorted(names) and all(
        (episode / name).stat().st_size > 0 for name in names
    )


@pytest.mark.parametrize("where", ["same-fs", "cross-fs"])
def test_sigterm_the_moment_the_episode_dir_appears_leaves_it_complete_or_absent(
    tmp_path: Path, sample: tuple[Path, Path], tmpfs: Callable[..., Path], where: str
) -> None:
    out = tmpfs(64 * 1024 * 1024) / "out" if where == "cross-fs" else tmp_path / "out"
    command = _RealCommand(tmp_path, sample, out)
    first_sight: list[str] | None = None
    while command.proc.poll() is None and first_sight is None:
        visible = [name for name in (os.listdir(out) if out.exists() else []) if not name.startswith(".")]
        if visible:
            os.kill(command.proc.pid, signal.SIGSTOP)  # freeze it as the dir is first seen
            first_sight = [name for name in visible if _complete(out / name)]
            os.kill(command.proc.pid, signal.SIGTERM)
            os.kill(command.proc.pid, signal.SIGCONT)
        else:
            time.sleep(0.0005)  # a busy loop would take a core from the command it watches
    code = command.finish()
    assert first_sight is not None, f"the episode never appeared (exit {code}): {command.log.read_text()[-2000:]}"
    assert first_sight == ["langflix-sample"], "the episode dir was visible before it was complete"
    assert code in (0, 128 + signal.SIGTERM), command.log.read_text()[-2000:]
    left = sorted(os.listdir(out))
    assert left in ([], ["langflix-sample"]), f"left behind in the output dir: {left}"
    assert all(_complete(out / name) for name in left)
    assert command.sessions_left() == [], "SIGTERM cleanup left temp files"


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_killed_mid_encode_no_ffmpeg_outlives_the_command(
    tmp_path: Path, sample: tuple[Path, Path], signum: int
) -> None:
    out = tmp_path / "out"
    command = _RealCommand(tmp_path, sample, out)
    encoder = 0
    try:
        encoder = encoder_of(command.proc.pid)
        # Stopped, the encoder cannot finish by itself: only its parent's end can end it.
        os.kill(encoder, signal.SIGSTOP)
        os.kill(command.proc.pid, signum)
        code = command.finish()
        assert code == (-signal.SIGKILL if signum == signal.SIGKILL else 128 + signal.SIGTERM)
        assert gone_within(encoder, 10), f"ffmpeg {encoder} outlived `langflix process`"
    finally:
        if encoder and not gone_within(encoder, 0):
            os.kill(encoder, signal.SIGKILL)
    assert not out.exists() or os.listdir(out) == [], "a killed job left something in the output dir"
    # The next start reclaims whatever the command could not clean up; nothing holds it any more.
    report = sweep_orphans(command.temp_dir)
    assert report.skipped_live == 0 and report.errors == []
    assert command.sessions_left() == []
