"""The scene's subtitles as an ASS document: both languages, the expression lit up.

For one clip (a context scene or an expression repeat) the cues shown in it are
drawn at their real times, shifted so the clip starts at 0 and clamped to its
length: the English line, and under (or above) it the translation in its own
style; the expression inside the English line in colour and bold, in the form
it was said ("figured it out" for "figure out", :func:`expression_spans`).

One event per cue holds both lines, so the translation always sits right next
to its English line and libass stacks overlapping cues without mixing them.
Lines are broken here, with libass's widths (:mod:`langflix.core.fonts`), so a
line longer than the frame wraps inside the safe margins, and a cue too tall
for its share of the frame is drawn smaller rather than pushed off the top.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Final, Literal, get_args

from langflix.core.ass import AssEvent, AssStyle, ass_document, ass_tag_color, markup_lines
from langflix.core.expressions import expression_spans
from langflix.core.fonts import DEFAULT_FONT_FAMILY, TextMeasure, text_measure
from langflix.core.subtitles import Cue
from langflix.core.text_layout import line_segments, wrap_lines

__all__ = [
    "HIGHLIGHT_COLOR",
    "SUBTITLE_STYLES",
    "TRANSLATION_COLOR",
    "SceneCue",
    "SceneLayout",
    "SubtitleStyle",
    "TranslationPosition",
    "highlight_tags",
    "scene_ass",
    "scene_cues",
]

SubtitleStyle = Literal["bilingual", "english", "none"]
"""What a scene shows: both languages, English only, or nothing burned in."""

SUBTITLE_STYLES: Final[tuple[str, ...]] = get_args(SubtitleStyle)

TranslationPosition = Literal["below", "above"]

HIGHLIGHT_COLOR: Final[str] = "#FFB020"
"""Amber: apart from the white English line and the pale blue translation."""

TRANSLATION_COLOR: Final[str] = "#A8DCFF"
_ENGLISH_COLOR: Final[str] = "#FFFFFF"
_ENGLISH_STYLE: Final[str] = "English"
_TRANSLATION_STYLE: Final[str] = "Translation"
_MIN_SHOWN: Final[float] = 0.01
"""A cue that overlaps the clip by less than a centisecond would round to nothing."""


@dataclass(frozen=True, slots=True)
class SceneCue:
    """One cue to draw: episode times, the English text, its translation, the spans to light."""

    start: float
    end: float
    text: str
    translation: str | None = None
    highlights: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True, slots=True)
class SceneLayout:
    """Sizes and margins of the scene's subtitles, as shares of the output.

    ``max_height`` is the share of the frame one cue (both languages) may take
    before it is drawn smaller; ``wrap_room`` keeps a little width in hand for
    kerning, so libass never needs to wrap again.
    """

    english_size: float = 0.058
    translation_size: float = 0.05
    margin_x: float = 0.06
    margin_bottom: float = 0.06
    outline: float = 0.07
    shadow: float = 0.03
    max_height: float = 0.45
    wrap_room: float = 0.96
    min_scale: float = 0.5


def highlight_tags(color: str = HIGHLIGHT_COLOR, base: str = _ENGLISH_COLOR) -> tuple[str, str]:
    """The override tags that switch the highlight on and back off (colour + bold).

    Off restores colour and weight explicitly rather than with ``\\r``: a reset
    would also undo a size the line was shrunk to.
    """
    return f"{{\\1c{ass_tag_color(color)}\\b1}}", f"{{\\1c{ass_tag_color(base)}\\b0}}"


def scene_cues(
    cues: Iterable[Cue],
    *,
    phrase: str | None = None,
    translate: Callable[[Cue], str | None] | None = None,
) -> list[SceneCue]:
    """Scene cues from subtitle cues: ``translate`` gives each its translation (None:
    English only), and every place ``phrase`` is said in a line is highlighted."""
    scene = []
    for cue in cues:
        spans = tuple(expression_spans(phrase, cue.text)) if phrase else ()
        translation = translate(cue) if translate is not None else None
        scene.append(SceneCue(cue.start, cue.end, cue.text, translation or None, spans))
    return scene


def scene_ass(
    cues: Sequence[SceneCue],
    *,
    clip_start: float,
    clip_end: float,
    width: int,
    height: int,
    style: SubtitleStyle = "bilingual",
    translation_position: TranslationPosition = "below",
    layout: SceneLayout = SceneLayout(),
    font: str = DEFAULT_FONT_FAMILY,
    measure: TextMeasure | None = None,
) -> str:
    """The ASS document for the clip ``[clip_start, clip_end)`` of an episode.

    ``clip_start`` is the time of the clip's first frame in the episode: each
    cue is shown from ``start - clip_start`` to ``end - clip_start``, clamped
    to the clip; cues outside it are left out. ``style`` "english" leaves the
    translations out; "none" is refused (burn nothing: skip the filter).
    """
    if style not in ("bilingual", "english"):
        raise ValueError(
            f"subtitle style {style!r} draws nothing; skip the ass filter instead "
            f"(styles: {', '.join(SUBTITLE_STYLES)})"
        )
    if translation_position not in get_args(TranslationPosition):
        raise ValueError(f"translation_position must be 'below' or 'above', got {translation_position!r}")
    if not (math.isfinite(clip_start) and math.isfinite(clip_end)) or clip_end <= clip_start:
        raise ValueError(f"the clip must end after it starts, got {clip_start}..{clip_end}")
    measure = measure or text_measure(font)
    margin_x = round(width * layout.margin_x)
    margin_v = round(height * layout.margin_bottom)
    english_size = height * layout.english_size
    translation_size = height * layout.translation_size
    styles = [
        _style(_ENGLISH_STYLE, font, english_size, _ENGLISH_COLOR, layout, margin_x, margin_v),
        _style(_TRANSLATION_STYLE, font, translation_size, TRANSLATION_COLOR, layout, margin_x, margin_v),
    ]
    duration = clip_end - clip_start
    max_width = (width - 2 * margin_x) * layout.wrap_room
    events = []
    for cue in sorted(cues, key=lambda c: (c.start, c.end)):
        start = max(cue.start, clip_start) - clip_start
        end = min(cue.end, clip_end) - clip_start
        if end - start < _MIN_SHOWN or start >= duration:
            continue
        translation = cue.translation if style == "bilingual" else None
        text = _cue_text(
            cue, translation, translation_position, english_size, translation_size,
            max_width, height * layout.max_height, layout.min_scale, measure,
        )  # fmt: skip
        if text:
            events.append(AssEvent(start, end, _ENGLISH_STYLE, text))
    return ass_document(width=width, height=height, styles=styles, events=events)


def _style(
    name: str, font: str, size: float, color: str, layout: SceneLayout, margin_x: int, margin_v: int
) -> AssStyle:
    return AssStyle(
        name=name, font=font, size=round(size, 2), color=color,
        outline=round(size * layout.outline, 2), shadow=round(size * layout.shadow, 2),
        alignment=2, margin_l=margin_x, margin_r=margin_x, margin_v=margin_v,
    )  # fmt: skip


def _cue_text(
    cue: SceneCue,
    translation: str | None,
    position: TranslationPosition,
    english_size: float,
    translation_size: float,
    max_width: float,
    max_height: float,
    min_scale: float,
    measure: TextMeasure,
) -> str:
    """Both lines of one cue as ASS text, shrunk (never below ``min_scale``) to fit."""
    scale = 1.0
    while True:
        english = wrap_lines(
            cue.text, size=english_size * scale, max_width=max_width, measure=measure, highlights=cue.highlights
        )
        other = (
            wrap_lines(translation, size=translation_size * scale, max_width=max_width, measure=measure)
            if translation
            else []
        )
        tall = measure.line_height(english_size * scale) * len(english)
        tall += measure.line_height(translation_size * scale) * len(other)
        if tall <= max_height or scale <= min_scale:
            break
        scale = max(min_scale, scale * 0.9)
    lit, unlit = highlight_tags()
    parts = []
    if english:
        text = markup_lines(line_segments(cue.text, english, cue.highlights), lit=lit, unlit=unlit)
        parts.append(f"{{\\r{_ENGLISH_STYLE}{_size_tag(english_size, scale)}}}{text}")
    if other and translation:
        text = markup_lines(line_segments(translation, other), lit="", unlit="")
        parts.append(f"{{\\r{_TRANSLATION_STYLE}{_size_tag(translation_size, scale)}}}{text}")
    if position == "above":
        parts.reverse()
    return "\\N".join(parts)


def _size_tag(size: float, scale: float) -> str:
    return f"\\fs{size * scale:.2f}" if scale < 1 else ""
