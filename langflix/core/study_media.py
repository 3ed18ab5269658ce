"""A study card's media: a line's audio (MP3) and a screenshot (JPEG), in one run with no video encode."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from langflix.core.ffmpeg import MediaInfo, media_url
from langflix.core.frames import fit_filter, frame_span, frames_filter, samples_filter
from langflix.core.subtitle_render import SceneCue, SubtitleStyle
from langflix.core.video_editor import AUDIO_BITRATE, VideoEditor
from langflix.errors import FFmpegError

__all__ = ["StudyMedia", "study_media"]

_STILL_QUALITY: Final[str] = "3"
"""JPEG quality of a study screenshot (mjpeg's -q:v: 2 best .. 31 worst)."""


@dataclass(frozen=True, slots=True)
class StudyMedia:
    """A line's audio (MP3) and a screenshot (JPEG) for a study card, files of the editor's area."""

    audio: Path
    still: Path

    @property
    def files(self) -> tuple[Path, Path]:
        return self.audio, self.still


def study_media(
    editor: VideoEditor,
    video: Path | MediaInfo,
    *,
    window: tuple[float, float],
    subtitles: Sequence[SceneCue] = (),
    style: SubtitleStyle = "bilingual",
) -> StudyMedia:
    """The line's audio (MP3) and a screenshot (JPEG, its middle frame) of ``window`` of ``video``.

    One run, no video encode: the audio is the window's, sample-exact; the
    screenshot is the frame in the middle, fitted to the output size, with
    ``subtitles`` burned in (give none when ``video`` is a clip that has
    them already).
    """
    info = editor.source(video)
    span = frame_span(info, *window, editor.fmt.fps)
    args, audio = editor.input_args(info, span)
    with editor.run_files() as files:
        burned = editor.burn_filter(subtitles, style, span.seconds(editor.fmt.fps), files)
        burn = "," + burned if burned else ""
        middle = span.frames // 2
        graph = [
            f"[0:v]{frames_filter(editor.fmt, span)},{fit_filter(editor.fmt)}{burn},"
            f"trim=start_frame={middle}:end_frame={middle + 1},setpts=PTS-STARTPTS,format=yuvj420p[still]",
            f"[{audio}]{samples_filter(editor.fmt, span.skip, span.frames)}[a]",
        ]
        line = files.output(suffix=".mp3", prefix="line_")
        still = files.output(suffix=".jpg", prefix="still_")
        args += ["-filter_complex", ";".join(graph),
                 "-map", "[a]", "-c:a", "libmp3lame", "-b:a", AUDIO_BITRATE, "-ar", str(editor.fmt.sample_rate),
                 "-map_metadata", "-1", "-f", "mp3", media_url(line),
                 "-map", "[still]", "-frames:v", "1", "-c:v", "mjpeg", "-q:v", _STILL_QUALITY,
                 "-f", "image2", "-update", "1", media_url(still)]  # fmt: skip
        editor.run(args)
        if still.stat().st_size == 0:
            raise FFmpegError(f"ffmpeg wrote no screenshot for {window[0]:.3f}-{window[1]:.3f} s of {info.path}")
    return StudyMedia(line, still)
