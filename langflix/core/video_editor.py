"""Scenes, cards and lessons, every byte inside a job's scope.

Each distinct piece (a scene's context clip, its expression clip, a card) is
encoded exactly once, to one normalised format (:class:`~langflix.core.output_format.OutputFormat`:
H.264 yuv420p + AAC stereo, one size, frame rate and sample rate). A scene is
cut in one ffmpeg run: one decode of the source, one filter graph that burns its
subtitles (libass, from a generated ASS file), then splits into the context clip,
the expression clip inside it and, optionally, a thumbnail PNG of one frame.
Sequences are then joined with the concat demuxer in copy mode, so repeating a
clip costs no encode and no quality. (Each joined piece keeps its AAC encoder
priming, about 23 ms at 44.1 kHz; the concat demuxer places every piece at the
previous one's end, so this never accumulates into drift and every piece stays
in sync.) Lengths are whole frames, picked by frame number (never by a time
that float rounding could move by one frame), and each piece's audio is
sample-exact to its video, so joins line up at any frame rate. The editor keeps
no list of temp files: every output is made with ``scope.new_file(...)``, and
half-written outputs are released when ffmpeg fails or is cancelled, so the
scope only ever holds complete pieces.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from langflix.cancel import CancelToken
from langflix.core.ass import ass_filter, write_ass
from langflix.core.card import CARD_BACKGROUND, CardText, card_ass
from langflix.core.ffmpeg import FFmpegTools, MediaInfo, MediaInput, concat_list_args, media_url
from langflix.core.output_format import DEFAULT_FORMAT, OutputFormat
from langflix.core.short_layout import ShortLayout
from langflix.core.subtitle_render import SceneCue, SceneLayout, SubtitleStyle, scene_ass
from langflix.core.thumbnail import THUMBNAIL_HEIGHT, THUMBNAIL_WIDTH, ThumbnailText, thumbnail_filters
from langflix.errors import FFmpegError, LangFlixError
from langflix.temp import TempArea

__all__ = ["CARD_SPEECH_TAIL", "Piece", "Scene", "StudyMedia", "VideoEditor", "short_frames"]

logger = logging.getLogger(__name__)

_SEEK_MARGIN: Final[float] = 0.5
"""Seconds before the cut that the fast (input) seek aims at; the rest is decoded and
dropped by frame number. ffmpeg decodes from the keyframe before the seek point
anyway, so a small margin only guards against a container's rounded timestamps:
a wide one would make every cut decode from one keyframe earlier for nothing."""

_PIECE_DEMUXER: Final[str] = "mov"
"""The demuxer every piece this editor wrote (mp4, m4a) is opened with again: forced, never guessed."""
_AUDIO_BITRATE: Final[str] = "128k"
_STILL_QUALITY: Final[str] = "3"
"""JPEG quality of a study screenshot (mjpeg's -q:v: 2 best .. 31 worst)."""
_TIMESCALE_PER_FRAME: Final[int] = 512
CARD_SPEECH_TAIL: Final[float] = 0.4
"""Silence kept after the spoken expression when a card is lengthened to fit it."""


@dataclass(frozen=True, slots=True)
class Piece:
    """A file this editor encoded: ``frames`` whole frames at ``format``.

    Carrying the format is what lets :meth:`VideoEditor.concat` join pieces it
    made without probing each again; a plain path is probed first.
    """

    path: Path
    frames: int
    format: OutputFormat

    @property
    def seconds(self) -> float:
        """The length of the picture (the audio is sample-exact to it)."""
        return self.frames / self.format.fps


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


@dataclass(frozen=True, slots=True)
class StudyMedia:
    """A line's audio (MP3) and a screenshot (JPEG) for a study card, files of the editor's area."""

    audio: Path
    still: Path

    @property
    def files(self) -> tuple[Path, Path]:
        return self.audio, self.still


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


@dataclass(frozen=True, slots=True)
class _Cut:
    """A stretch of the source as frame numbers at the output rate."""

    first: int  # first frame of the stretch, counted from the source's start
    frames: int
    seek: int  # the frame the input seek aims at (<= first)

    @property
    def skip(self) -> int:
        return self.first - self.seek


class VideoEditor:
    """Makes the pieces of an educational video inside one temp area (a job's scope).

    ``tools`` are the ffmpeg/ffprobe to run and their timeouts; ``cancel`` stops
    a running ffmpeg (it is killed and reaped, its outputs released).
    """

    def __init__(
        self,
        scope: TempArea,
        *,
        fmt: OutputFormat = DEFAULT_FORMAT,
        tools: FFmpegTools = FFmpegTools(),
        cancel: CancelToken | None = None,
    ) -> None:
        self._scope = scope
        self._fmt = fmt
        self._tools = tools
        self._cancel = cancel

    @property
    def fmt(self) -> OutputFormat:
        return self._fmt

    # -- pieces ---------------------------------------------------------------

    def cut_clip(self, video: Path | MediaInfo, start: float, end: float) -> Piece:
        """Cut ``[start, end)`` seconds of ``video`` exactly, normalised to the output format.

        The range is clamped to the video; a range that is empty after clamping
        raises FFmpegError. A source without audio gets a silent stereo track, so
        every piece has the same streams and joins without re-encoding. ``video``
        may be its :class:`MediaInfo` (already probed: not probed again).
        """
        info = self._source(video)
        cut = self._cut(info, start, end)
        args, audio = self._input_args(info, cut)
        graph = [
            f"[0:v]{self._frames_filter(cut)},{self._fit_filter()},format=yuv420p[v]",
            f"[{audio}]{self._samples_filter(cut.skip, cut.frames)}[a]",
        ]
        out = self._encode([*args, "-filter_complex", ";".join(graph), "-map", "[v]", "-map", "[a]"], prefix="clip_")
        return Piece(out, cut.frames, self._fmt)

    def cut_scene(
        self,
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
        info = self._source(video)
        scene = self._cut(info, *context)
        fps = self._fmt.fps
        clip_first = max(_frame_at(clip[0], fps), scene.first)
        clip_end = min(_frame_at(clip[1], fps), scene.first + scene.frames)
        if clip_end - clip_first < 1:
            raise FFmpegError(
                f"cannot cut {info.path}: the expression clip {clip[0]:.3f}-{clip[1]:.3f} s holds no frame "
                f"of its scene {context[0]:.3f}-{context[1]:.3f} s; check the subtitle times against the video"
            )
        inner = _Cut(clip_first, clip_end - clip_first, scene.first)
        lead = inner.skip  # the clip's first frame, counted in the scene's frames
        args, audio = self._input_args(info, scene)
        start, end = scene.first / fps, (scene.first + scene.frames) / fps
        overlays: list[Path] = []
        outputs: list[Path] = []
        try:
            burned = self._burn_filter(subtitles, style, start, end, overlays)
            burn = "," + burned if burned else ""
            source = f"[0:v]{self._frames_filter(scene)},"
            graph: list[str] = []
            if thumbnail is not None:
                overlays.append(write_ass(self._scope, thumbnail.ass(), prefix="thumb_"))
                at = _frame_at(thumbnail_at, fps) if thumbnail_at is not None else (clip_first + clip_end - 1) // 2
                index = min(max(at, scene.first), scene.first + scene.frames - 1) - scene.first
                graph.append(f"{source}split=2[scene][still]")
                graph.append(
                    f"[still]trim=start_frame={index}:end_frame={index + 1},setpts=PTS-STARTPTS,"
                    + ",".join(thumbnail_filters(overlays[-1], width=THUMBNAIL_WIDTH, height=THUMBNAIL_HEIGHT))
                    + "[thumb]"
                )
                source = "[scene]"
            graph += [
                f"{source}{self._fit_filter()}{burn},format=yuv420p[context]",
                f"[{audio}]{self._samples_filter(scene.skip, scene.frames)},asplit=2[context_audio][inner_audio]",
                f"[inner_audio]{self._samples_filter(lead, inner.frames, resample=False)}[clip_audio]",
            ]
            args += ["-filter_complex", ";".join(graph)]
            context_file = self._scope.new_file(suffix=".mp4", prefix="clip_")
            outputs.append(context_file)
            # IDR frames exactly where the expression clip starts and ends (by frame
            # number, as the encoder counts them): [lead, lead + frames) is then a
            # closed run of packets that can be copied out whole.
            keyframes = f"expr:eq(n,{lead})+eq(n,{lead + inner.frames})"
            args += ["-map", "[context]", "-map", "[context_audio]", *self._codec_args(),
                     "-force_key_frames:v", keyframes, "-forced-idr", "1", "-f", "mp4",
                     media_url(context_file)]  # fmt: skip
            clip_audio = self._scope.new_file(suffix=".m4a", prefix="clip_audio_")
            outputs.append(clip_audio)
            args += ["-map", "[clip_audio]", *self._audio_codec_args(), "-f", "mp4", media_url(clip_audio)]
            if thumbnail is not None:
                outputs.append(self._scope.new_file(suffix=".png", prefix="thumb_"))
                args += ["-map", "[thumb]", "-frames:v", "1", "-c:v", "png", "-f", "image2", "-update", "1",
                         media_url(outputs[-1])]  # fmt: skip
            self._tools.run(args, cancel=self._cancel)
            if thumbnail is not None and outputs[-1].stat().st_size == 0:
                raise FFmpegError(f"ffmpeg wrote no thumbnail frame for the scene of {info.path}")
            clip_file = self._copy_out(context_file, lead, inner.frames, clip_audio)
            outputs.insert(1, clip_file)
        except BaseException:
            # Failure, timeout, cancel, Ctrl-C: nobody may pick up half a video.
            for path in outputs:
                self._discard(path)
            raise
        finally:
            for overlay in overlays:
                self._discard(overlay)
        self._discard(clip_audio)
        return Scene(
            Piece(outputs[0], scene.frames, self._fmt),
            Piece(outputs[1], inner.frames, self._fmt),
            outputs[-1] if thumbnail is not None else None,
            lead,
        )

    # -- shorts and study media -------------------------------------------------

    def short(self, scene: Scene, *, layout: ShortLayout, max_seconds: float) -> Piece:
        """A vertical short made from a cut scene (subtitles already burned in): one encode.

        The scene's pieces are read as they are (the context clip, then the
        expression clip once more when both fit in ``max_seconds``; see
        :func:`short_frames`), scaled into ``layout``'s picture and drawn with
        the bands' text. Only a letterbox can reuse the burned scene: a crop
        would cut its subtitles off at the sides (:meth:`short_from_source`).
        """
        if layout.fit != "letterbox":
            raise ValueError("a cropped short is cut from the source (short_from_source): a crop of the burned "
                             "scene would cut its subtitles off")  # fmt: skip
        fps = self._fmt.fps
        replay, first, frames = short_frames(
            scene.context.frames, scene.lead, scene.clip.frames, _cap_frames(max_seconds, fps)
        )
        pieces = [scene.context, *([scene.clip] if replay else [])]
        listing = self._scope.new_file(suffix=".ffconcat", prefix="concat_")
        overlay: Path | None = None
        try:
            listing.write_text(_ffconcat(p.path for p in pieces), encoding="utf-8")
            overlay = write_ass(self._scope, layout.to_ass(frames / fps), prefix="short_")
            filters = [
                f"trim=start_frame={first}:end_frame={first + frames}", "setpts=PTS-STARTPTS",
                *layout.picture_filters(self._fmt.width, self._fmt.height), ass_filter(overlay), "format=yuv420p",
            ]  # fmt: skip
            graph = [f"[0:v]{','.join(filters)}[v]", f"[0:a]{self._samples_filter(first, frames)}[a]"]
            # Our own list of the scene's own mp4 pieces, opened with their demuxer forced.
            args = [*concat_list_args(listing, pieces=_PIECE_DEMUXER),
                    "-filter_complex", ";".join(graph), "-map", "[v]", "-map", "[a]"]  # fmt: skip
            out = self._encode(args, prefix="short_", extra=["-movflags", "+faststart"])
        finally:
            self._discard(listing)
            if overlay is not None:
                self._discard(overlay)
        return Piece(out, frames, self._fmt)

    def short_from_source(
        self,
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
        info = self._source(video)
        fps = self._fmt.fps
        scene = self._cut(info, *context)
        clip_first = min(max(_frame_at(clip[0], fps), scene.first), scene.first + scene.frames - 1)
        clip_frames = max(1, min(_frame_at(clip[1], fps), scene.first + scene.frames) - clip_first)
        lead = clip_first - scene.first
        replay, first, frames = short_frames(scene.frames, lead, clip_frames, _cap_frames(max_seconds, fps))
        args, audio = self._input_args(info, scene)
        start, end = scene.first / fps, (scene.first + scene.frames) / fps
        overlays: list[Path] = []
        try:
            picture = layout.picture_filters(info.width or self._fmt.width, info.height or self._fmt.height)
            burned = self._burn_filter(
                subtitles, style, start, end, overlays,
                width=layout.width, height=layout.height, layout=layout.subtitle_layout(SceneLayout()),
            )  # fmt: skip
            burn = [burned] if burned else []
            overlays.append(write_ass(self._scope, layout.to_ass(frames / fps), prefix="short_"))
            scene_v = ",".join([self._frames_filter(scene), *picture, *burn])
            scene_a = self._samples_filter(scene.skip, scene.frames)
            window = f"trim=start_frame={first}:end_frame={first + frames},setpts=PTS-STARTPTS"
            bands = ",".join([*layout.shade_filters(), ass_filter(overlays[-1]), "format=yuv420p"])
            samples = self._samples_filter(first, frames, resample=False)
            if replay:
                graph = [
                    f"[0:v]{scene_v},split=2[scene][again]",
                    f"[again]trim=start_frame={lead}:end_frame={lead + clip_frames},setpts=PTS-STARTPTS[replay]",
                    f"[scene][replay]concat=n=2:v=1:a=0,{window},{bands}[v]",
                    f"[{audio}]{scene_a},asplit=2[scene_a][again_a]",
                    f"[again_a]{self._samples_filter(lead, clip_frames, resample=False)}[replay_a]",
                    f"[scene_a][replay_a]concat=n=2:v=0:a=1,{samples}[a]",
                ]
            else:
                graph = [f"[0:v]{scene_v},{window},{bands}[v]", f"[{audio}]{scene_a},{samples}[a]"]
            args += ["-filter_complex", ";".join(graph), "-map", "[v]", "-map", "[a]"]
            out = self._encode(args, prefix="short_", extra=["-movflags", "+faststart"])
        finally:
            for overlay in overlays:
                self._discard(overlay)
        return Piece(out, frames, self._fmt)

    def study_media(
        self,
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
        info = self._source(video)
        cut = self._cut(info, *window)
        fps = self._fmt.fps
        args, audio = self._input_args(info, cut)
        start, end = cut.first / fps, (cut.first + cut.frames) / fps
        overlays: list[Path] = []
        outputs: list[Path] = []
        try:
            burned = self._burn_filter(subtitles, style, start, end, overlays)
            burn = "," + burned if burned else ""
            middle = cut.frames // 2
            graph = [
                f"[0:v]{self._frames_filter(cut)},{self._fit_filter()}{burn},"
                f"trim=start_frame={middle}:end_frame={middle + 1},setpts=PTS-STARTPTS,format=yuvj420p[still]",
                f"[{audio}]{self._samples_filter(cut.skip, cut.frames)}[a]",
            ]
            outputs.append(self._scope.new_file(suffix=".mp3", prefix="line_"))
            outputs.append(self._scope.new_file(suffix=".jpg", prefix="still_"))
            args += ["-filter_complex", ";".join(graph),
                     "-map", "[a]", "-c:a", "libmp3lame", "-b:a", _AUDIO_BITRATE, "-ar", str(self._fmt.sample_rate),
                     "-map_metadata", "-1", "-f", "mp3", media_url(outputs[0]),
                     "-map", "[still]", "-frames:v", "1", "-c:v", "mjpeg", "-q:v", _STILL_QUALITY,
                     "-f", "image2", "-update", "1", media_url(outputs[1])]  # fmt: skip
            self._tools.run(args, cancel=self._cancel)
            if outputs[1].stat().st_size == 0:
                raise FFmpegError(f"ffmpeg wrote no screenshot for {window[0]:.3f}-{window[1]:.3f} s of {info.path}")
        except BaseException:
            for path in outputs:
                self._discard(path)
            raise
        finally:
            for overlay in overlays:
                self._discard(overlay)
        return StudyMedia(outputs[0], outputs[1])

    def _copy_out(self, context: Path, lead: int, frames: int, audio: Path) -> Path:
        """Frames ``[lead, lead + frames)`` of ``context`` (an IDR at each end) with ``audio``, by stream copy.

        The segment muxer splits the copied video at the first keyframe at or
        after each time it is given (packet pts: no seek, no decode timestamps
        involved); half a frame before each forced IDR is exactly that IDR. The
        piece between them is the clip's picture; its audio is muxed beside it.
        """
        fps, timescale = self._fmt.fps, str(self._fmt.fps * _TIMESCALE_PER_FRAME)
        folder = self._scope.new_dir(prefix="segments_")
        try:
            times = ",".join(f"{(k - 0.5) / fps:.6f}" for k in (lead, lead + frames) if k > 0)
            # The segment muxer reads "%d" in its file name: a "%" of the path is written "%%".
            pattern = media_url(folder).replace("%", "%%") + "/segment_%d.mp4"
            self._tools.run(
                [*_own(context), "-map", "0:v:0", "-c", "copy", "-f", "segment",
                 "-segment_times", times, "-reset_timestamps", "1", "-segment_format", "mp4",
                 "-segment_format_options", f"video_track_timescale={timescale}", pattern],
                cancel=self._cancel,
            )  # fmt: skip
            picture = folder / f"segment_{0 if lead == 0 else 1}.mp4"
            return self._encode(
                [*_own(picture), *_own(audio), "-map", "0:v:0", "-map", "1:a:0", "-c", "copy",
                 "-video_track_timescale", timescale, "-map_metadata", "-1", "-map_chapters", "-1"],
                prefix="clip_",
                reencode=False,
            )  # fmt: skip
        finally:
            self._discard(folder)

    def card(self, text: CardText, *, duration: float, speech: MediaInfo | None = None) -> Piece:
        """The lesson's card (:func:`~langflix.core.card.card_ass`) on its background, with speech.

        Drawn by libass from a generated ASS file on a colour source, so any
        text shows as typed and wraps inside the frame. Its audio is ``speech``
        (the spoken expression, probed by the caller) padded with silence, or
        silence; when the speech is longer than ``duration`` the card is
        lengthened to fit it, so the speech is never cut off.
        """
        if not math.isfinite(duration) or duration <= 0:
            raise ValueError(f"a card's duration must be > 0 s, got {duration}")
        if speech is not None:
            if not speech.has_audio:
                raise FFmpegError(f"{speech.path} has no audio stream: expected the speech for the card")
            duration = max(duration, speech.duration + CARD_SPEECH_TAIL)
        f = self._fmt
        frames = max(1, _frame_at(duration, f.fps))
        document = card_ass(text, width=f.width, height=f.height, duration=frames / f.fps)
        overlay = write_ass(self._scope, document, prefix="card_")
        try:
            colour = "0x" + CARD_BACKGROUND.lstrip("#")
            args = ["-f", "lavfi", "-i", f"color=c={colour}:s={f.width}x{f.height}:r={f.fps}"]
            args += speech.input.args() if speech is not None else ["-f", "lavfi", "-i", self._silence()]
            graph = [
                # The card is still: libass draws one frame, the rest are copies of it.
                f"[0:v]trim=end_frame=1,{ass_filter(overlay)},format=yuv420p,setsar=1,"
                f"tpad=stop={frames - 1}:stop_mode=clone[v]",
                f"[1:a]{self._samples_filter(0, frames)}[a]",
            ]
            args += ["-filter_complex", ";".join(graph), "-map", "[v]", "-map", "[a]"]
            out = self._encode(args, prefix="card_")
        finally:
            # The overlay served this one encode; the card no longer needs it.
            self._discard(overlay)
        return Piece(out, frames, f)

    def educational_video(
        self, *, title_card: Piece | Path, context_clip: Piece | Path, expression_clip: Piece | Path, repeat: int
    ) -> Piece:
        """Card, then the scene in context, then the expression ``repeat`` times.

        Joined by stream copy: the expression clip is encoded once however often
        it repeats.
        """
        if repeat < 1:
            raise ValueError(f"repeat must be >= 1 (show the expression at least once), got {repeat}")
        return self.concat([title_card, context_clip, *([expression_clip] * repeat)])

    def concat(self, pieces: Sequence[Piece | Path]) -> Piece:
        """Join pieces with the concat demuxer, ``-c copy``.

        A :class:`Piece` this editor's format made is known to fit; any other
        piece is probed first: a piece in another format would make copy mode
        write a broken file silently, so it is refused by name.
        """
        if not pieces:
            raise ValueError("concat needs at least one piece")
        frames = 0
        checked: dict[Path, int] = {}
        for piece in pieces:
            path = piece.path if isinstance(piece, Piece) else Path(piece)
            if path not in checked:
                if "\n" in str(path) or "\r" in str(path):
                    # ffconcat is line based: such a name would split into two entries.
                    raise ValueError(f"cannot join {path!r}: its name contains a line break")
                checked[path] = self._frames_of(piece)
            frames += checked[path]
        listing = self._scope.new_file(suffix=".ffconcat", prefix="concat_")
        try:
            listing.write_text(_ffconcat(_path(p) for p in pieces), encoding="utf-8")
            # Our own list of our own mp4 pieces (absolute paths inside the scope).
            args = [*concat_list_args(listing, pieces=_PIECE_DEMUXER), "-map", "0", "-c", "copy"]
            # faststart: the joined video is what users stream; put the index first.
            out = self._encode(args, prefix="joined_", reencode=False, extra=["-movflags", "+faststart"])
        finally:
            self._discard(listing)
        return Piece(out, frames, self._fmt)

    # -- helpers --------------------------------------------------------------

    def _source(self, video: Path | MediaInfo) -> MediaInfo:
        info = video if isinstance(video, MediaInfo) else self._tools.probe(video)
        if not info.has_video:
            raise FFmpegError(f"{info.path} has no video stream: LangFlix needs a video file to cut clips from")
        return info

    def _cut(self, info: MediaInfo, start: float, end: float) -> _Cut:
        """``[start, end)`` clamped to the video, as whole frames (nearest frame, halves up)."""
        clamped_start = min(max(start, 0.0), info.duration)
        clamped_end = min(max(end, 0.0), info.duration)
        fps = self._fmt.fps
        first = _frame_at(clamped_start, fps)
        frames = _frame_at(clamped_end, fps) - first
        if frames < 1:
            raise FFmpegError(
                f"cannot cut {info.path}: the range {start:.3f}-{end:.3f} s is empty once clamped "
                f"to the video's {info.duration:.3f} s (shorter than one frame); check the "
                "subtitle times against the video"
            )
        if (clamped_start, clamped_end) != (start, end):
            logger.debug(
                "clamped cut %.3f-%.3f to %.3f-%.3f (video is %.3f s)",
                start, end, clamped_start, clamped_end, info.duration,
            )  # fmt: skip
        return _Cut(first, frames, max(0, first - round(_SEEK_MARGIN * fps)))

    def _input_args(self, info: MediaInfo, cut: _Cut) -> tuple[list[str], str]:
        """The inputs of a cut (a fast seek close before it) and the label of its audio."""
        args: list[str] = []
        if cut.seek > 0:
            # Timestamps start at 0 at the seek point; the frames up to the cut are
            # decoded and dropped by number (a lone -ss with -c copy would snap to a keyframe).
            args += ["-ss", f"{cut.seek / self._fmt.fps:.6f}"]
        args += info.input.args()  # the probed demuxer forced: the bytes are never guessed again
        if info.has_audio:
            return args, "0:a:0"
        return [*args, "-f", "lavfi", "-i", self._silence()], "1:a:0"

    def _burn_filter(
        self,
        subtitles: Sequence[SceneCue],
        style: SubtitleStyle,
        start: float,
        end: float,
        overlays: list[Path],
        *,
        width: int | None = None,
        height: int | None = None,
        layout: SceneLayout = SceneLayout(),
    ) -> str | None:
        """The libass filter burning the cues shown between ``start`` and ``end`` (its file joins ``overlays``).

        None when the style burns nothing or no cue falls in the window: the graph
        then has no subtitles filter and no ASS file is written.
        """
        if style == "none" or not any(c.end > start and c.start < end for c in subtitles):
            return None
        document = scene_ass(
            subtitles, clip_start=start, clip_end=end, width=width or self._fmt.width,
            height=height or self._fmt.height, style=style, layout=layout,
        )  # fmt: skip
        overlays.append(write_ass(self._scope, document, prefix="scene_"))
        return ass_filter(overlays[-1])

    def _frames_filter(self, cut: _Cut) -> str:
        """Frames ``skip`` to ``skip + frames`` of the input at the output rate, square pixels."""
        return ",".join(
            [
                # start_time=0: frame n of the grid is at n/fps even when the first frame comes late.
                f"fps={self._fmt.fps}:start_time=0",
                # A video stream shorter than the range is held on its last frame.
                "tpad=stop=-1:stop_mode=clone",
                # By frame number, not time: (n - 0.5)/fps written in microseconds can
                # round to either side of a frame and cut one frame too many or too few.
                f"trim=start_frame={cut.skip}:end_frame={cut.skip + cut.frames}",
                "setpts=PTS-STARTPTS",
                # Anamorphic sources: square the pixels first so the aspect is right.
                "scale=trunc(iw*sar/2)*2:ih",
                "setsar=1",
            ]
        )

    def _fit_filter(self) -> str:
        """The picture fitted (letterboxed) into the output size."""
        w, h = self._fmt.width, self._fmt.height
        return (
            f"scale={w}:{h}:force_original_aspect_ratio=decrease:force_divisible_by=2,"
            f"pad={w}:{h}:(ow-iw)/2:(oh-ih)/2:color=black,setsar=1"
        )

    def _samples_filter(self, skip: int, frames: int, *, resample: bool = True) -> str:
        """The audio under those frames, sample-exact, stereo at the output rate."""
        sr, fps = self._fmt.sample_rate, self._fmt.fps
        first = round(skip * sr / fps)
        last = first + round(frames * sr / fps)
        steps = []
        if resample:
            steps += [
                # async + first_pts=0: audio that starts late is preceded by silence
                # instead of being pulled forward out of sync with the picture.
                f"aresample={sr}:async=1:first_pts=0",
                f"aformat=sample_fmts=fltp:sample_rates={sr}:channel_layouts=stereo",
            ]
        # apad: audio that ends early is padded with silence to the end.
        return ",".join([*steps, "apad", f"atrim=start_sample={first}:end_sample={last}", "asetpts=PTS-STARTPTS"])

    def _encode(self, args: list[str], *, prefix: str, reencode: bool = True, extra: Sequence[str] = ()) -> Path:
        """Run one ffmpeg into a new scope file; release the file if it fails."""
        out = self._scope.new_file(suffix=".mp4", prefix=prefix)
        try:
            codec = self._codec_args() if reencode else []
            self._tools.run([*args, *codec, *extra, "-f", "mp4", media_url(out)], cancel=self._cancel)
        except BaseException:
            # Failure, timeout, cancel, Ctrl-C: nobody may pick up half a video.
            self._discard(out)
            raise
        return out

    def _discard(self, path: Path) -> None:
        try:
            self._scope.release(path)
        except (OSError, LangFlixError) as exc:  # never hide the error being raised
            logger.warning("could not release %s: %s", path, exc)

    def _codec_args(self) -> list[str]:
        f = self._fmt
        return [
            "-c:v", "libx264", "-preset", f.preset, "-crf", str(f.crf), "-pix_fmt", "yuv420p",
            # One time base for every piece: concat copy keeps timestamps exact.
            "-video_track_timescale", str(f.fps * _TIMESCALE_PER_FRAME),
            *self._audio_codec_args(), "-map_metadata", "-1", "-map_chapters", "-1",
        ]  # fmt: skip

    def _audio_codec_args(self) -> list[str]:
        return ["-c:a", "aac", "-b:a", _AUDIO_BITRATE, "-ar", str(self._fmt.sample_rate), "-ac", "2"]

    def _silence(self) -> str:
        return f"anullsrc=r={self._fmt.sample_rate}:cl=stereo"

    def _frames_of(self, piece: Piece | Path) -> int:
        """How many frames ``piece`` holds, once it is known to join with this format."""
        if isinstance(piece, Piece) and piece.format == self._fmt:
            return piece.frames
        path = _path(piece)
        info = self._tools.probe(path)
        f = self._fmt
        # The container too: the concat list opens its pieces with the mov demuxer forced.
        expected = (True, True, f.width, f.height, "h264", "aac", f.sample_rate, _PIECE_DEMUXER)
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
        return _frame_at(info.video_duration or info.duration, f.fps)


def _path(piece: Piece | Path) -> Path:
    return piece.path if isinstance(piece, Piece) else Path(piece)


def _own(piece: Path) -> list[str]:
    """The input options of a piece this editor wrote, like any input: demuxer forced, file protocol only."""
    return MediaInput(piece, _PIECE_DEMUXER).args()


def _frame_at(seconds: float, fps: int) -> int:
    """The frame nearest to ``seconds``, halves rounded up (round() would go to even)."""
    return math.floor(seconds * fps + 0.5)


def _cap_frames(max_seconds: float, fps: int) -> int:
    """The most whole frames that last at most ``max_seconds``."""
    if not (math.isfinite(max_seconds) and max_seconds > 0):
        raise ValueError(f"a short's longest length must be > 0 s, got {max_seconds}")
    return max(1, math.floor(max_seconds * fps + 1e-9))


def _ffconcat(paths: Iterable[Path]) -> str:
    """An ffconcat list naming ``paths`` (absolute, quoted)."""
    lines = ["ffconcat version 1.0"]
    for path in paths:
        if "\n" in str(path) or "\r" in str(path):
            # ffconcat is line based: such a name would split into two entries.
            raise ValueError(f"cannot join {path!r}: its name contains a line break")
        lines.append(f"file {_concat_quote(str(Path(path).absolute()))}")
    return "\n".join(lines) + "\n"


def _concat_quote(value: str) -> str:
    """Quote a path for an ffconcat ``file`` line: '...' with ' written as '\\''."""
    return "'" + value.replace("'", "'\\''") + "'"
