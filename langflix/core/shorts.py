"""The vertical short (9:16): the scene, then the expression clip once more when it fits, the bands on top.

A letterboxed short reuses the scene a lesson cut (subtitles already burned
in): its pieces are read as they are and scaled once into the tall frame. A
cropped short is cut from the source (a crop of the burned scene would cut its
subtitles off at the sides), its subtitles burned inside the layout's subtitle
area, in one decode. What the short shows within its length cap is
:func:`short_frames`, on plain numbers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from langflix.core.ass import ass_filter
from langflix.core.ffmpeg import MediaInfo, concat_list_args
from langflix.core.frames import frame_at, frame_span, frames_filter, samples_filter
from langflix.core.joins import ffconcat
from langflix.core.scenes import Scene
from langflix.core.short_layout import ShortLayout
from langflix.core.subtitle_render import SceneCue, SceneLayout, SubtitleStyle
from langflix.core.video_editor import PIECE_DEMUXER, Piece, VideoEditor

__all__ = ["short_frames", "short_from_scene", "short_from_source"]

_FASTSTART = ["-movflags", "+faststart"]
"""A short is streamed: its index goes first."""


def short_frames(context: int, lead: int, clip: int, cap: int) -> tuple[bool, int, int]:
    """What a short of at most ``cap`` frames shows: (replay the clip?, first frame, frames).

    The scene, then the expression clip once more when both fit; else the scene
    alone; a scene longer than ``cap`` is cut to the ``cap`` frames centred on
    the expression clip (which starts ``lead`` frames into it).
    """
    if cap < 1 or context < 1:
        raise ValueError(f"a short needs at least one frame of scene and of cap, got {context} and {cap}")
    if context + clip <= cap:
        return True, 0, context + clip
    if context <= cap:
        return False, 0, context
    first = min(max(0, lead + clip // 2 - cap // 2), context - cap)
    return False, first, cap


def short_from_scene(editor: VideoEditor, scene: Scene, *, layout: ShortLayout, max_seconds: float) -> Piece:
    """A vertical short made from a cut scene (subtitles already burned in): one encode.

    The scene's pieces are read as they are (the context clip, then the
    expression clip once more when both fit in ``max_seconds``; see
    :func:`short_frames`), scaled into ``layout``'s picture and drawn with
    the bands' text. Only a letterbox can reuse the burned scene: a crop
    would cut its subtitles off at the sides (:func:`short_from_source`).
    """
    if layout.fit != "letterbox":
        raise ValueError("a cropped short is cut from the source (short_from_source): a crop of the burned "
                         "scene would cut its subtitles off")  # fmt: skip
    fps = editor.fmt.fps
    replay, first, frames = short_frames(
        scene.context.frames, scene.lead, scene.clip.frames, _cap_frames(max_seconds, fps)
    )
    pieces = [scene.context, *([scene.clip] if replay else [])]
    with editor.run_files() as files:
        listing = files.scratch_file(suffix=".ffconcat", prefix="concat_")
        listing.write_text(ffconcat(p.path for p in pieces), encoding="utf-8")
        overlay = files.ass(layout.to_ass(frames / fps), prefix="short_")
        filters = [
            f"trim=start_frame={first}:end_frame={first + frames}", "setpts=PTS-STARTPTS",
            *layout.picture_filters(editor.fmt.width, editor.fmt.height), ass_filter(overlay), "format=yuv420p",
        ]  # fmt: skip
        graph = [f"[0:v]{','.join(filters)}[v]", f"[0:a]{samples_filter(editor.fmt, first, frames)}[a]"]
        # Our own list of the scene's own mp4 pieces, opened with their demuxer forced.
        args = [*concat_list_args(listing, pieces=PIECE_DEMUXER),
                "-filter_complex", ";".join(graph), "-map", "[v]", "-map", "[a]"]  # fmt: skip
        out = editor.encode(args, prefix="short_", extra=_FASTSTART)
    return Piece(out, frames, editor.fmt)


def short_from_source(
    editor: VideoEditor,
    video: Path | MediaInfo,
    *,
    context: tuple[float, float],
    clip: tuple[float, float],
    layout: ShortLayout,
    max_seconds: float,
    subtitles: Sequence[SceneCue] = (),
    style: SubtitleStyle = "bilingual",
) -> Piece:
    """A vertical short cut from the source in one run (a crop, or a scene no lesson cut).

    One decode: the scene's frames fitted by ``layout`` (cropped or
    letterboxed), its subtitles burned inside the layout's subtitle area,
    then the expression clip once more when it fits, the bands drawn on top.
    """
    info = editor.source(video)
    fps = editor.fmt.fps
    scene = frame_span(info, *context, editor.fmt.fps)
    clip_first = min(max(frame_at(clip[0], fps), scene.first), scene.end - 1)
    clip_frames = max(1, min(frame_at(clip[1], fps), scene.end) - clip_first)
    lead = clip_first - scene.first
    replay, first, frames = short_frames(scene.frames, lead, clip_frames, _cap_frames(max_seconds, fps))
    args, audio = editor.input_args(info, scene)
    with editor.run_files() as files:
        picture = layout.picture_filters(info.width or editor.fmt.width, info.height or editor.fmt.height)
        burned = editor.burn_filter(
            subtitles, style, scene.seconds(fps), files,
            width=layout.width, height=layout.height, layout=layout.subtitle_layout(SceneLayout()),
        )  # fmt: skip
        overlay = files.ass(layout.to_ass(frames / fps), prefix="short_")
        scene_v = ",".join([frames_filter(editor.fmt, scene), *picture, *([burned] if burned else [])])
        scene_a = samples_filter(editor.fmt, scene.skip, scene.frames)
        window = f"trim=start_frame={first}:end_frame={first + frames},setpts=PTS-STARTPTS"
        bands = ",".join([*layout.shade_filters(), ass_filter(overlay), "format=yuv420p"])
        samples = samples_filter(editor.fmt, first, frames, resample=False)
        if replay:
            graph = [
                f"[0:v]{scene_v},split=2[scene][again]",
                f"[again]trim=start_frame={lead}:end_frame={lead + clip_frames},setpts=PTS-STARTPTS[replay]",
                f"[scene][replay]concat=n=2:v=1:a=0,{window},{bands}[v]",
                f"[{audio}]{scene_a},asplit=2[scene_a][again_a]",
                f"[again_a]{samples_filter(editor.fmt, lead, clip_frames, resample=False)}[replay_a]",
                f"[scene_a][replay_a]concat=n=2:v=0:a=1,{samples}[a]",
            ]
        else:
            graph = [f"[0:v]{scene_v},{window},{bands}[v]", f"[{audio}]{scene_a},{samples}[a]"]
        args += ["-filter_complex", ";".join(graph), "-map", "[v]", "-map", "[a]"]
        out = editor.encode(args, prefix="short_", extra=_FASTSTART)
    return Piece(out, frames, editor.fmt)


def _cap_frames(max_seconds: float, fps: int) -> int:
    """The most whole frames that last at most ``max_seconds``."""
    if not (math.isfinite(max_seconds) and max_seconds > 0):
        raise ValueError(f"a short's longest length must be > 0 s, got {max_seconds}")
    return max(1, math.floor(max_seconds * fps + 1e-9))
