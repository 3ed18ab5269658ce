"""Files an attacker uploads: text that ffmpeg would read as a playlist of other files.

ffmpeg detects a format from the bytes, whatever the name: a few lines saying
``#EXTM3U`` named ``video.mp4`` are an HLS playlist, and every file they name is
read as if it were the upload. The "private" file is a real, tiny MPEG-TS video,
so an unguarded job really would cut it and publish it.
"""

from __future__ import annotations

from pathlib import Path

from .media import make_media, pattern, sine

__all__ = ["concat_list", "hls_playlist", "make_private_video", "srt_and_hls_playlist"]


def make_private_video(directory: Path, *, seconds: float = 4.0) -> Path:
    """A real video somewhere no job should ever read: ``<directory>/private.ts``."""
    directory.mkdir(parents=True, exist_ok=True)
    return make_media(
        directory / "private.ts",
        video=pattern("320x240", 15, seconds, name="testsrc2"),
        audio=sine(660, 22050, seconds),
        args=["-pix_fmt", "yuv420p", "-shortest", "-f", "mpegts"],
    )


def hls_playlist(target: Path, *, seconds: float = 4.0) -> bytes:
    """An HLS playlist whose one segment is ``target`` (an absolute path)."""
    return (
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:10\n"
        f"#EXTINF:{seconds:.1f},\n{target.absolute()}\n#EXT-X-ENDLIST\n"
    ).encode()


def concat_list(target: Path) -> bytes:
    """An ffconcat list naming ``target``."""
    return f"ffconcat version 1.0\nfile '{target.absolute()}'\n".encode()


def srt_and_hls_playlist(target: Path) -> bytes:
    """One file that is both: an HLS playlist to ffmpeg, and a subtitle with two cues to a lenient SRT parser."""
    return hls_playlist(target) + (
        b"\n1\n00:00:00,300 --> 00:00:01,600\nLet's break the ice, everybody.\n\n"
        b"2\n00:00:02,000 --> 00:00:03,400\nRelax, it's a piece of cake.\n"
    )
