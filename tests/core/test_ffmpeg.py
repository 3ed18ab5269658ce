"""Tests for langflix.core.ffmpeg: real ffprobe/ffmpeg on tiny generated media.

Every run goes through an :class:`FFmpegTools` made here: the binaries and the
timeout are the caller's, never read from settings.
"""

from __future__ import annotations

import logging
import re
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from support.hostile import concat_list, hls_playlist, make_private_video, srt_and_hls_playlist
from support.media import lavfi, make_media, pattern, sine
from support.procs import child_pids

from langflix.cancel import CancelToken
from langflix.core.ffmpeg import (
    MEDIA_DEMUXERS,
    SUBTITLE_DEMUXERS,
    FFmpegTools,
    MediaInfo,
    MediaInput,
    concat_list_args,
    media_url,
)
from langflix.errors import CancelledError, FFmpegError, UnsupportedMediaError

pytestmark = pytest.mark.slow

TOOLS = FFmpegTools()
probe = TOOLS.probe
run_ffmpeg = TOOLS.run

# A run that would take minutes: an endless test pattern encoded to nowhere.
_ENDLESS = ["-re", *lavfi(pattern("320x240", 25)), "-f", "null", "-"]


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("media")
    av = make_media(
        root / "av.mp4", video=pattern("320x240", 30, 3), audio=sine(440, 48000, 3), args=["-shortest"]
    )
    silent = make_media(root / "silent.mkv", video=pattern("200x300", 24, 2))
    wav = make_media(root / "tone.wav", audio=sine(300, 22050, 1.5))
    garbage = root / "garbage.mp4"
    garbage.write_bytes(b"this is not a video\n" * 500)
    truncated = root / "truncated.mp4"
    truncated.write_bytes(av.read_bytes()[: av.stat().st_size // 3])
    return {"av": av, "silent": silent, "wav": wav, "garbage": garbage, "truncated": truncated}


def test_probe_audio_and_video(media: dict[str, Path]) -> None:
    info = probe(media["av"])
    assert isinstance(info, MediaInfo)
    assert info.path == media["av"]
    assert info.duration == pytest.approx(3.0, abs=0.1)
    assert (info.has_video, info.has_audio) == (True, True)
    assert (info.width, info.height) == (320, 240)
    assert info.fps == pytest.approx(30.0)
    assert (info.video_codec, info.audio_codec) == ("h264", "aac")
    assert info.sample_rate == 48000


def test_probe_video_without_audio(media: dict[str, Path]) -> None:
    info = probe(media["silent"])
    assert info.has_video and not info.has_audio
    assert (info.width, info.height, info.fps) == (200, 300, pytest.approx(24.0))
    assert info.audio_codec is None and info.sample_rate is None
    assert info.duration == pytest.approx(2.0, abs=0.1)


def test_probe_audio_only(media: dict[str, Path]) -> None:
    info = probe(media["wav"])
    assert info.has_audio and not info.has_video
    assert info.width is None and info.fps is None and info.video_codec is None
    assert info.sample_rate == 22050
    assert info.duration == pytest.approx(1.5, abs=0.05)


@pytest.mark.parametrize("name", ["garbage", "truncated"])
def test_probe_rejects_non_media_quoting_ffprobe(media: dict[str, Path], name: str) -> None:
    with pytest.raises(FFmpegError) as info:
        probe(media[name])
    message = str(info.value)
    assert message.startswith(f"{media[name]} is not a readable media file: ")
    # ffprobe's own words, not just our prefix.
    assert re.search(r"Invalid data found|moov atom not found", message)


def test_probe_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FFmpegError, match="is not a readable media file: no such file"):
        probe(tmp_path / "nope.mp4")


def test_probe_path_that_looks_like_an_option_or_protocol(
    media: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tricky = tmp_path / "-i a:b'c.mp4"
    tricky.write_bytes(media["av"].read_bytes())
    monkeypatch.chdir(tmp_path)
    assert probe(Path(tricky.name)).has_video
    assert media_url(Path("x.mp4")) == "file:" + str(tmp_path / "x.mp4")


def test_missing_ffprobe_is_reported_with_hint(media: dict[str, Path]) -> None:
    with pytest.raises(FFmpegError, match="langflix-no-ffprobe is not installed: install FFmpeg"):
        FFmpegTools(ffprobe="langflix-no-ffprobe").probe(media["av"])


def test_missing_ffmpeg_is_reported_with_hint() -> None:
    with pytest.raises(FFmpegError, match="langflix-no-ffmpeg is not installed: .*LANGFLIX_FFMPEG"):
        FFmpegTools(ffmpeg="langflix-no-ffmpeg").run(["-version"])


def test_run_ffmpeg_writes_output_and_logs_the_fixed_flags(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    out = tmp_path / "out.wav"
    with caplog.at_level(logging.DEBUG, logger="langflix.core.process"):
        run_ffmpeg(["-f", "lavfi", "-i", "sine=d=0.5", str(out)])
    assert probe(out).duration == pytest.approx(0.5, abs=0.05)
    assert "ffmpeg -hide_banner -nostdin -y -loglevel error -f lavfi" in caplog.text


def test_run_ffmpeg_failure_quotes_stderr(tmp_path: Path) -> None:
    missing = tmp_path / "missing-input.mkv"
    with pytest.raises(FFmpegError) as info:
        run_ffmpeg(["-i", str(missing), str(tmp_path / "out.mp4")])
    message = str(info.value)
    assert "exit code 1" in message
    assert "No such file or directory" in message
    assert str(missing) in message


def test_run_ffmpeg_timeout_stops_ffmpeg() -> None:
    started = time.monotonic()
    with pytest.raises(FFmpegError, match=r"timed out after 0\.5 s"):
        run_ffmpeg(_ENDLESS, timeout=0.5)
    assert time.monotonic() - started < 10
    assert child_pids("ffmpeg") == []


def test_run_ffmpeg_default_timeout_is_the_tools_own() -> None:
    with pytest.raises(FFmpegError, match="timed out after 0.5 s"):
        FFmpegTools(timeout=0.5).run(_ENDLESS)
    assert child_pids("ffmpeg") == []


@pytest.mark.parametrize("timeouts", [{"timeout": 0}, {"probe_timeout": -1.0}])
def test_tools_refuse_timeouts_that_cannot_work(timeouts: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="timeouts must be positive"):
        FFmpegTools(**timeouts)


def test_run_ffmpeg_cancel_from_another_thread_kills_ffmpeg() -> None:
    token = CancelToken()
    seen: list[int] = []

    def cancel_once_running() -> None:
        end = time.monotonic() + 10
        while not seen and time.monotonic() < end:
            seen.extend(child_pids("ffmpeg"))
            time.sleep(0.02)
        token.cancel("user pressed stop")

    thread = threading.Thread(target=cancel_once_running, daemon=True)
    thread.start()
    with pytest.raises(CancelledError, match="user pressed stop"):
        run_ffmpeg(_ENDLESS, cancel=token)
    thread.join(5)
    assert seen, "ffmpeg was never seen running"
    assert child_pids("ffmpeg") == []
    for pid in seen:
        assert not Path(f"/proc/{pid}").exists()


def test_tool_versions_match_the_binaries() -> None:
    versions = TOOLS.versions()
    assert set(versions) == {"ffmpeg", "ffprobe"}
    first_line = subprocess.run(
        ["ffmpeg", "-version"], capture_output=True, text=True, check=True
    ).stdout.splitlines()[0]
    assert versions["ffmpeg"] and versions["ffmpeg"] in first_line
    assert versions["ffprobe"] == versions["ffmpeg"]


def test_tool_versions_missing_binary_is_none() -> None:
    versions = FFmpegTools(ffmpeg="langflix-no-ffmpeg").versions()
    assert versions["ffmpeg"] is None
    assert versions["ffprobe"] is not None


def test_exports() -> None:
    import langflix.core.ffmpeg as module

    assert module.__all__ == sorted(module.__all__)
    assert all(hasattr(module, name) for name in module.__all__)


# -- inputs are opened by an allow-list of demuxers ----------------------------


@pytest.fixture(scope="module")
def private(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real video outside every job: what a playlist attack wants a job to read."""
    return make_private_video(tmp_path_factory.mktemp("private"), seconds=2.0)


def test_the_private_file_is_what_an_unguarded_ffmpeg_reads_through_a_playlist(
    private: Path, tmp_path: Path
) -> None:
    # The attack is real: plain ffprobe follows the playlist to the private file.
    playlist = tmp_path / "video.mp4"
    playlist.write_bytes(hls_playlist(private, seconds=2.0))
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=format_name,duration", "-of", "csv=p=0", str(playlist)],
        capture_output=True, text=True, check=True, timeout=30,
    )  # fmt: skip
    assert out.stdout.startswith("hls,")


@pytest.mark.parametrize(
    ("content", "kind"),
    [
        (hls_playlist, "an HLS playlist (ffmpeg format 'hls')"),
        (concat_list, "an ffconcat list of other files (ffmpeg format 'concat')"),
    ],
    ids=["hls", "concat"],
)
def test_probe_refuses_a_list_of_other_files(
    private: Path, tmp_path: Path, content: Callable[[Path], bytes], kind: str
) -> None:
    upload = tmp_path / "video.mp4"
    upload.write_bytes(content(private))
    with pytest.raises(UnsupportedMediaError) as info:
        probe(upload)
    message = str(info.value)
    assert message.startswith(f"{upload} is {kind}, not a video or audio file")
    assert "give the video or audio file itself" in message
    assert str(private) not in message


def test_probe_refuses_an_image(tmp_path: Path) -> None:
    image = tmp_path / "video.mp4"
    make_media(tmp_path / "frame.png", video=pattern("32x32", 1, 1), args=["-frames:v", "1", "-c:v", "png"])
    image.write_bytes((tmp_path / "frame.png").read_bytes())
    with pytest.raises(UnsupportedMediaError, match=r"is an image \(ffmpeg format 'png_pipe'\)"):
        probe(image)


def test_probe_names_the_demuxer_it_allowed(media: dict[str, Path], private: Path) -> None:
    assert probe(media["av"]).demuxer == "mov"
    assert probe(media["silent"]).demuxer == "matroska"
    assert probe(media["wav"]).demuxer == "wav"
    assert probe(private).demuxer == "mpegts"
    assert probe(media["av"]).input == MediaInput(media["av"], "mov")


def test_media_input_forces_the_probed_demuxer_so_nothing_is_detected_again(
    media: dict[str, Path], private: Path, tmp_path: Path
) -> None:
    """A file swapped for a playlist after its probe is still opened as what the probe found."""
    video = tmp_path / "video.mp4"
    video.write_bytes(media["av"].read_bytes())
    opened = probe(video).input
    run_ffmpeg([*opened.args(), "-t", "0.5", "-f", "null", "-"])  # the real file opens

    video.write_bytes(hls_playlist(private, seconds=2.0))
    run_ffmpeg(["-i", media_url(video), "-t", "0.5", "-f", "null", "-"])  # plain -i: reads the private file
    with pytest.raises(FFmpegError, match="moov atom not found|Invalid data"):
        run_ffmpeg([*opened.args(), "-t", "0.5", "-f", "null", "-"])


def test_media_input_refuses_a_demuxer_off_the_allow_lists(tmp_path: Path) -> None:
    for demuxer in ("hls", "concat", "image2", "dash", "lavfi", "mov,mp4,m4a,3gp,3g2,mj2"):
        with pytest.raises(ValueError, match="is not a demuxer LangFlix opens inputs with"):
            MediaInput(tmp_path / "x", demuxer)
    args = MediaInput(tmp_path / "x.mkv", "matroska").args()
    assert args == [
        "-protocol_whitelist", "file", "-format_whitelist", "matroska",
        "-f", "matroska", "-i", media_url(tmp_path / "x.mkv"),
    ]  # fmt: skip
    indirections = {"hls", "dash", "concat", "image2", "imf", "vobsub", "tty", "lavfi"}
    assert not indirections & (MEDIA_DEMUXERS | SUBTITLE_DEMUXERS)


def test_allow_lists_name_real_demuxers_of_this_ffmpeg() -> None:
    out = subprocess.run(["ffmpeg", "-hide_banner", "-demuxers"], capture_output=True, text=True, timeout=30)
    names = {name for line in out.stdout.splitlines()[4:] for name in line.split()[1].split(",")}
    assert (MEDIA_DEMUXERS | SUBTITLE_DEMUXERS) - names == set()


def test_concat_list_pieces_are_limited_to_mov_files(media: dict[str, Path], private: Path, tmp_path: Path) -> None:
    own = tmp_path / "own.ffconcat"
    own.write_text(f"ffconcat version 1.0\nfile '{media['av']}'\nfile '{media['av']}'\n", encoding="utf-8")
    run_ffmpeg([*concat_list_args(own), "-c", "copy", "-f", "null", "-"])
    stranger = tmp_path / "stranger.ffconcat"
    stranger.write_text(f"ffconcat version 1.0\nfile '{private}'\n", encoding="utf-8")
    with pytest.raises(FFmpegError, match="not on whitelist"):
        run_ffmpeg([*concat_list_args(stranger), "-c", "copy", "-f", "null", "-"])


def test_subtitle_input_refuses_a_subtitle_that_is_really_a_playlist(private: Path, tmp_path: Path) -> None:
    both = tmp_path / "episode.srt"
    both.write_bytes(srt_and_hls_playlist(private))
    with pytest.raises(UnsupportedMediaError, match=r"is an HLS playlist \(ffmpeg format 'hls'\), not a subtitle file"):
        TOOLS.subtitle_input(both)


def test_subtitle_input_names_the_subtitle_demuxer(tmp_path: Path) -> None:
    srt = tmp_path / "a.srt"
    srt.write_bytes("\ufeff1\r\n00:00:00,300 --> 00:00:01,600\r\nHello.\r\n".encode())
    sami = tmp_path / "a.smi"
    sami.write_bytes("<SAMI><BODY><SYNC Start=300><P Class=KRCC>안녕\n</BODY></SAMI>\n".encode("cp949"))
    unknown = tmp_path / "b.srt"
    unknown.write_text("nothing ffmpeg knows\n", encoding="utf-8")
    assert TOOLS.subtitle_input(srt) == MediaInput(srt, "srt")
    assert TOOLS.subtitle_input(sami) == MediaInput(sami, "sami")
    assert TOOLS.subtitle_input(unknown) is None
    with pytest.raises(FFmpegError, match="no such file"):
        TOOLS.subtitle_input(tmp_path / "missing.srt")
