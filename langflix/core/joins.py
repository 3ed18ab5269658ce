"""Pieces joined with the concat demuxer in copy mode: a lesson, a compilation, no encode.

Repeating a clip costs no encode and no quality. Each joined piece keeps its
AAC encoder priming (about 23 ms at 44.1 kHz); the concat demuxer places every
piece at the previous one's end, so this never accumulates into drift and
every piece stays in sync. Only pieces in the editor's own format can be joined
this way: any other is refused by name before ffmpeg would write a broken file.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from langflix.core.ffmpeg import concat_list_args
from langflix.core.frames import frame_at
from langflix.core.video_editor import PIECE_DEMUXER, Piece, VideoEditor
from langflix.errors import FFmpegError

__all__ = ["concat", "educational_video", "ffconcat"]


def educational_video(
    editor: VideoEditor, *, title_card: Piece | Path, context_clip: Piece | Path, expression_clip: Piece | Path,
    repeat: int,
) -> Piece:  # fmt: skip
    """Card, then the scene in context, then the expression ``repeat`` times.

    Joined by stream copy: the expression clip is encoded once however often
    it repeats.
    """
    if repeat < 1:
        raise ValueError(f"repeat must be >= 1 (show the expression at least once), got {repeat}")
    return concat(editor, [title_card, context_clip, *([expression_clip] * repeat)])


def concat(editor: VideoEditor, pieces: Sequence[Piece | Path]) -> Piece:
    """Join pieces with the concat demuxer, ``-c copy``.

    A :class:`Piece` in the editor's format is known to fit; any other piece
    is probed first: a piece in another format would make copy mode write a
    broken file silently, so it is refused by name.
    """
    if not pieces:
        raise ValueError("concat needs at least one piece")
    frames = 0
    checked: dict[Path, int] = {}
    for piece in pieces:
        path = _path(piece)
        if path not in checked:
            _refuse_line_breaks(path)
            checked[path] = _frames_of(editor, piece)
        frames += checked[path]
    with editor.run_files() as files:
        listing = files.scratch_file(suffix=".ffconcat", prefix="concat_")
        listing.write_text(ffconcat(_path(p) for p in pieces), encoding="utf-8")
        # Our own list of our own mp4 pieces (absolute paths inside the scope).
        args = [*concat_list_args(listing, pieces=PIECE_DEMUXER), "-map", "0", "-c", "copy"]
        # faststart: the joined video is what users stream; put the index first.
        out = editor.encode(args, prefix="joined_", reencode=False, extra=["-movflags", "+faststart"])
    return Piece(out, frames, editor.fmt)


def ffconcat(paths: Iterable[Path]) -> str:
    """An ffconcat list naming ``paths`` (absolute, quoted)."""
    lines = ["ffconcat version 1.0"]
    for path in paths:
        _refuse_line_breaks(path)
        lines.append(f"file {_concat_quote(str(Path(path).absolute()))}")
    return "\n".join(lines) + "\n"


def _frames_of(editor: VideoEditor, piece: Piece | Path) -> int:
    """How many frames ``piece`` holds, once it is known to join with the editor's format."""
    f = editor.fmt
    if isinstance(piece, Piece) and piece.format == f:
        return piece.frames
    path = _path(piece)
    info = editor.probe(path)
    # The container too: the concat list opens its pieces with the mov demuxer forced.
    expected = (True, True, f.width, f.height, "h264", "aac", f.sample_rate, PIECE_DEMUXER)
    actual = (
        info.has_video, info.has_audio, info.width, info.height,
        info.video_codec, info.audio_codec, info.sample_rate, info.demuxer,
    )  # fmt: skip
    # The coded rate, not the average: every join leaves a gap of one AAC priming
    # (~23 ms) between two joined files, which lowers the average of a short one.
    rate = info.frame_rate or info.fps
    fps_ok = rate is not None and abs(rate - f.fps) < 0.01
    if actual != expected or not fps_ok:
        raise FFmpegError(
            f"{path} cannot be joined without re-encoding: it is "
            f"{info.width}x{info.height} {rate} fps {info.video_codec}/{info.audio_codec} "
            f"{info.sample_rate} Hz ({info.demuxer}), expected {f.width}x{f.height} {f.fps} fps h264/aac "
            f"{f.sample_rate} Hz (mp4); make every piece with the same VideoEditor"
        )
    return frame_at(info.video_duration or info.duration, f.fps)


def _refuse_line_breaks(path: Path) -> None:
    if "\n" in str(path) or "\r" in str(path):
        # ffconcat is line based: such a name would split into two entries.
        raise ValueError(f"cannot join {path!r}: its name contains a line break")


def _path(piece: Piece | Path) -> Path:
    return piece.path if isinstance(piece, Piece) else Path(piece)


def _concat_quote(value: str) -> str:
    """Quote a path for an ffconcat ``file`` line: '...' with ' written as '\\''."""
    return "'" + value.replace("'", "'\\''") + "'"
