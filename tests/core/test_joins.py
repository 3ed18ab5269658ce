"""Lessons and compilations joined by stream copy: real ffmpeg, tiny generated media, real scopes."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from support.editing import FMT, SCENE_CUES, assert_normalised, gray_frames, scope_files

from langflix.core.card import CardText
from langflix.core.card_video import make_card
from langflix.core.ffmpeg import FFmpegTools
from langflix.core.joins import concat, educational_video
from langflix.core.scenes import cut_clip, cut_scene
from langflix.core.thumbnail import ThumbnailText
from langflix.core.video_editor import VideoEditor
from langflix.errors import FFmpegError
from langflix.temp import TempFileManager, TempScope

pytestmark = pytest.mark.slow

probe = FFmpegTools().probe


# -- educational_video and concat ------------------------------------------------


def test_educational_video_joins_without_reencoding(
    editor: VideoEditor, scope: TempScope, media: dict[str, Path], caplog: pytest.LogCaptureFixture
) -> None:
    card = make_card(editor, CardText("break the ice", line="Let's break the ice."), duration=1.5)
    scene = cut_scene(editor, media["av"], context=(0.5, 3.0), clip=(1.0, 2.0))
    with caplog.at_level(logging.DEBUG, logger="langflix.core.process"):
        video = educational_video(
            editor, title_card=card, context_clip=scene.context, expression_clip=scene.clip, repeat=3
        )
    commands = [r.getMessage() for r in caplog.records if r.getMessage().startswith("run: ")]
    assert len(commands) == 1, "the editor's own pieces are joined without probing them"
    assert "-f concat" in commands[0] and "-c copy" in commands[0]
    assert "libx264" not in commands[0]

    # Whole frames, halves rounded up: a 1.5 s card is 38 frames; 0.5-3.0 s is
    # frames 13..74 (frame 12 straddles 0.5 s), 62 frames.
    pieces = [1.52, 2.48, 1.0, 1.0, 1.0]
    assert [probe(p.path).duration for p in (card, scene.context, scene.clip)] == pytest.approx(
        pieces[:3], abs=1e-3
    )
    assert video.frames == 38 + 62 + 3 * 25
    # The sum of the pieces, plus at most one AAC priming: no drift per join.
    assert_normalised(video, sum(pieces), tol=0.03)
    assert video.path.parent == scope.path
    # Pieces stay (the caller may reuse them); the concat list is gone.
    assert scope_files(scope) == sorted([card.path, *scene.files, video.path])
    # The join decodes cleanly end to end: every frame is there.
    frames = gray_frames(video, FMT.width, FMT.height)
    assert len(frames) == 38 + 62 + 3 * 25


def test_educational_video_needs_at_least_one_repeat(editor: VideoEditor, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="repeat must be >= 1"):
        educational_video(editor, title_card=tmp_path, context_clip=tmp_path,
                                 expression_clip=tmp_path, repeat=0)  # fmt: skip


@pytest.mark.parametrize(("fps", "preset"), [(12, "ultrafast"), (25, "ultrafast"), (30, "ultrafast"), (30, "veryfast")])
def test_lessons_join_into_a_compilation_at_any_frame_rate(
    scope: TempScope, media: dict[str, Path], fps: int, preset: str
) -> None:
    """Lessons of awkward lengths (cuts that straddle frames) join at 12, 25 and 30 fps."""
    fmt = FMT.replace(fps=fps, preset=preset)
    editor = VideoEditor(scope, fmt=fmt)
    card = make_card(editor, CardText("a", line="b"), duration=1.0)
    lessons = []
    for context, clip in (((0.0, 3.2), (0.3, 2.9)), ((0.37, 3.61), (1.04, 2.63))):
        scene = cut_scene(editor, media["av"], context=context, clip=clip, subtitles=SCENE_CUES)
        lessons.append(
            educational_video(editor, title_card=card, context_clip=scene.context, expression_clip=scene.clip, repeat=2)
        )
    for lesson in lessons:
        info = probe(lesson.path)
        assert info.fps == pytest.approx(fps, abs=0.01), "the average frame rate of a join is the format's"
        assert len(gray_frames(lesson, fmt.width, fmt.height)) == lesson.frames, "no frame lost or doubled"
    # Joined again by path: each lesson is probed and accepted (the bug refused them at 12 and 30 fps).
    compilation = concat(editor, [lesson.path for lesson in lessons])
    assert compilation.frames == sum(lesson.frames for lesson in lessons)
    assert_normalised(compilation, compilation.seconds, fmt, tol=0.06)
    assert len(gray_frames(compilation, fmt.width, fmt.height)) == compilation.frames


def test_concat_refuses_a_piece_in_another_format(
    editor: VideoEditor, scope: TempScope, media: dict[str, Path]
) -> None:
    clip = cut_clip(editor, media["av"], 0.0, 1.0)
    with pytest.raises(FFmpegError, match="cannot be joined without re-encoding") as info:
        concat(editor, [clip, media["av"]])
    assert str(media["av"]) in str(info.value)
    assert scope_files(scope) == [clip.path]


def test_concat_probes_a_piece_of_another_format_even_as_a_piece(
    editor: VideoEditor, scope: TempScope, media: dict[str, Path]
) -> None:
    other = cut_clip(VideoEditor(scope, fmt=FMT.replace(width=160, height=120)), media["av"], 0.0, 1.0)
    with pytest.raises(FFmpegError, match="160x120"):
        concat(editor, [cut_clip(editor, media["av"], 0.0, 1.0), other])


def test_concat_of_a_missing_piece_is_an_error(
    editor: VideoEditor, scope: TempScope, tmp_path: Path
) -> None:
    with pytest.raises(FFmpegError, match="no such file"):
        concat(editor, [tmp_path / "gone.mp4"])
    assert scope_files(scope) == []


def test_paths_with_quotes_colons_and_brackets_are_safe(
    tmp_path: Path, media: dict[str, Path]
) -> None:
    # A user-chosen base dir full of filtergraph and ffconcat metacharacters.
    weird = tmp_path / "it's: [a,b]; 100% \\ odd"
    mgr = TempFileManager(base_dir=weird)
    try:
        with mgr.scope("job") as job:
            editor = VideoEditor(job, fmt=FMT)
            card = make_card(editor, CardText("it's", line="a: b", translation="한국어"), duration=1.0)
            scene = cut_scene(
                editor, media["av"], context=(0.0, 1.0), clip=(0.2, 0.8), subtitles=SCENE_CUES,
                thumbnail=ThumbnailText("x"),
            )
            video = educational_video(
                editor, title_card=card, context_clip=scene.context, expression_clip=scene.clip, repeat=1
            )
            assert_normalised(video, 1.0 + 1.0 + 0.6)
    finally:
        mgr.cleanup_all()
        mgr.close()
