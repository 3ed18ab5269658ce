"""A scene cut from the source: its context clip and, copied out of it, the expression clip.

A scene is cut in one ffmpeg run: one decode of the source, one filter graph
that burns its subtitles (libass, from a generated ASS file), then splits into
the context clip and, optionally, a thumbnail PNG of one frame. The context is
encoded with keyframes where the expression clip starts and ends, so the clip
is those very frames, copied out by stream copy (no second encode of them),
with its own sample-exact audio from the same run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from langflix.core.ffmpeg import MediaInfo, media_url
from langflix.core.frames import FrameSpan, fit_filter, frame_at, frame_span, frames_filter, samples_filter
from langflix.core.subtitle_render import SceneCue, SubtitleStyle
from langflix.core.thumbnail import THUMBNAIL_HEIGHT, THUMBNAIL_WIDTH, ThumbnailText, thumbnail_filters
from langflix.core.video_editor import TIMESCALE_PER_FRAME, Piece, VideoEditor, piece_input
from langflix.errors import FFmpegError

__all__ = ["Scene", "cut_clip", "cut_scene"]


@dataclass(frozen=True, slots=True)
class Scene:
    """What one cut of a scene made: the context clip, the expression clip inside it,
    and the thumbnail when one was asked for."""

    context: Piece
    clip: Piece
    thumbnail: Path | None = None
    lead: int = 0
    """The context frame the expression clip starts at."""

    @property
    def files(self) -> tuple[Path, ...]:
        return tuple(p for p in (self.context.path, self.clip.path, self.thumbnail) if p is not None)


def cut_clip(editor: VideoEditor, video: Path | MediaInfo, start: float, end: float) -> Piece:
    """Cut ``[start, end)`` seconds of ``video`` exactly, normalised to the output format.

    The range is clamped to the video; a range that is empty after clamping
    raises FFmpegError. A source without audio gets a silent stereo track, so
    every piece has the same streams and joins without re-encoding. ``video``
    may be its :class:`MediaInfo` (already probed: not probed again).
    """
    info = editor.source(video)
    span = frame_span(info, start, end, editor.fmt.fps)
    args, audio = editor.input_args(info, span)
    graph = [
        f"[0:v]{frames_filter(editor.fmt, span)},{fit_filter(editor.fmt)},format=yuv420p[v]",
        f"[{audio}]{samples_filter(editor.fmt, span.skip, span.frames)}[a]",
    ]
    out = editor.encode([*args, "-filter_complex", ";".join(graph), "-map", "[v]", "-map", "[a]"], prefix="clip_")
    return Piece(out, span.frames, editor.fmt)


def cut_scene(
    editor: VideoEditor,
    video: Path | MediaInfo,
    *,
    context: tuple[float, float],
    clip: tuple[float, float],
    subtitles: Sequence[SceneCue] = (),
    style: SubtitleStyle = "bilingual",
    thumbnail: ThumbnailText | None = None,
    thumbnail_at: float | None = None,
) -> Scene:
    """The scene ``context`` of ``video`` and the expression clip ``clip`` inside it, from one decode.

    One decode of the source feeds one filter graph: the context's frames,
    normalised, with ``subtitles`` burned in at their real times (``style``
    "none", or no cue in the scene, burns nothing), are encoded once, as the
    context clip, with keyframes where ``clip`` starts and ends. The
    expression clip is then those very frames, copied out of the context
    clip (no second encode of them), with its own sample-exact audio from
    the same run. ``thumbnail`` adds a 1280x720 PNG of the frame at
    ``thumbnail_at`` (default: the middle of ``clip``) with its text drawn
    large, from the unsubtitled frame. ``clip`` is clamped into ``context``;
    FFmpegError when either is empty.
    """
    info = editor.source(video)
    scene = frame_span(info, *context, editor.fmt.fps)
    fps = editor.fmt.fps
    clip_first = max(frame_at(clip[0], fps), scene.first)
    clip_end = min(frame_at(clip[1], fps), scene.end)
    if clip_end - clip_first < 1:
        raise FFmpegError(
            f"cannot cut {info.path}: the expression clip {clip[0]:.3f}-{clip[1]:.3f} s holds no frame "
            f"of its scene {context[0]:.3f}-{context[1]:.3f} s; check the subtitle times against the video"
        )
    inner = FrameSpan(clip_first, clip_end - clip_first, scene.first)
    lead = inner.skip  # the clip's first frame, counted in the scene's frames
    args, audio = editor.input_args(info, scene)
    still: Path | None = None
    with editor.run_files() as files:
        burned = editor.burn_filter(subtitles, style, scene.seconds(fps), files)
        burn = "," + burned if burned else ""
        source = f"[0:v]{frames_filter(editor.fmt, scene)},"
        graph: list[str] = []
        if thumbnail is not None:
            overlay = files.ass(thumbnail.ass(), prefix="thumb_")
            at = frame_at(thumbnail_at, fps) if thumbnail_at is not None else (clip_first + clip_end - 1) // 2
            index = min(max(at, scene.first), scene.end - 1) - scene.first
            graph.append(f"{source}split=2[scene][still]")
            graph.append(
                f"[still]trim=start_frame={index}:end_frame={index + 1},setpts=PTS-STARTPTS,"
                + ",".join(thumbnail_filters(overlay, width=THUMBNAIL_WIDTH, height=THUMBNAIL_HEIGHT))
                + "[thumb]"
            )
            source = "[scene]"
        graph += [
            f"{source}{fit_filter(editor.fmt)}{burn},format=yuv420p[context]",
            f"[{audio}]{samples_filter(editor.fmt, scene.skip, scene.frames)},asplit=2[context_audio][inner_audio]",
            f"[inner_audio]{samples_filter(editor.fmt, lead, inner.frames, resample=False)}[clip_audio]",
        ]
        args += ["-filter_complex", ";".join(graph)]
        context_file = files.output(suffix=".mp4", prefix="clip_")
        # IDR frames exactly where the expression clip starts and ends (by frame
        # number, as the encoder counts them): [lead, lead + frames) is then a
        # closed run of packets that can be copied out whole.
        keyframes = f"expr:eq(n,{lead})+eq(n,{lead + inner.frames})"
        args += ["-map", "[context]", "-map", "[context_audio]", *editor.codec_args(),
                 "-force_key_frames:v", keyframes, "-forced-idr", "1", "-f", "mp4",
                 media_url(context_file)]  # fmt: skip
        clip_audio = files.output(suffix=".m4a", prefix="clip_audio_")
        args += ["-map", "[clip_audio]", *editor.audio_codec_args(), "-f", "mp4", media_url(clip_audio)]
        if thumbnail is not None:
            still = files.output(suffix=".png", prefix="thumb_")
            args += ["-map", "[thumb]", "-frames:v", "1", "-c:v", "png", "-f", "image2", "-update", "1",
                     media_url(still)]  # fmt: skip
        editor.run(args)
        if still is not None and still.stat().st_size == 0:
            raise FFmpegError(f"ffmpeg wrote no thumbnail frame for the scene of {info.path}")
        clip_file = _copy_out(editor, context_file, lead, inner.frames, clip_audio)
    editor.discard(clip_audio)
    return Scene(Piece(context_file, scene.frames, editor.fmt), Piece(clip_file, inner.frames, editor.fmt), still, lead)


def _copy_out(editor: VideoEditor, context: Path, lead: int, frames: int, audio: Path) -> Path:
    """Frames ``[lead, lead + frames)`` of ``context`` (an IDR at each end) with ``audio``, by stream copy.

    The segment muxer splits the copied video at the first keyframe at or
    after each time it is given (packet pts: no seek, no decode timestamps
    involved); half a frame before each forced IDR is exactly that IDR. The
    piece between them is the clip's picture; its audio is muxed beside it.
    """
    fps = editor.fmt.fps
    timescale = str(fps * TIMESCALE_PER_FRAME)
    folder = editor.scope.new_dir(prefix="segments_")
    try:
        times = ",".join(f"{(k - 0.5) / fps:.6f}" for k in (lead, lead + frames) if k > 0)
        # The segment muxer reads "%d" in its file name: a "%" of the path is written "%%".
        pattern = media_url(folder).replace("%", "%%") + "/segment_%d.mp4"
        editor.run(
            [*piece_input(context), "-map", "0:v:0", "-c", "copy", "-f", "segment",
             "-segment_times", times, "-reset_timestamps", "1", "-segment_format", "mp4",
             "-segment_format_options", f"video_track_timescale={timescale}", pattern],
        )  # fmt: skip
        picture = folder / f"segment_{0 if lead == 0 else 1}.mp4"
        return editor.encode(
            [*piece_input(picture), *piece_input(audio), "-map", "0:v:0", "-map", "1:a:0", "-c", "copy",
             "-video_track_timescale", timescale, "-map_metadata", "-1", "-map_chapters", "-1"],
            prefix="clip_",
            reencode=False,
        )  # fmt: skip
    finally:
        editor.discard(folder)
