"""The lesson's title card as a video piece: drawn by libass on its background, with the spoken expression."""

from __future__ import annotations

import math
from typing import Final

from langflix.core.ass import ass_filter
from langflix.core.card import CARD_BACKGROUND, CardText, card_ass
from langflix.core.ffmpeg import MediaInfo
from langflix.core.frames import frame_at, samples_filter
from langflix.core.video_editor import Piece, VideoEditor
from langflix.errors import FFmpegError

__all__ = ["CARD_SPEECH_TAIL", "make_card"]

CARD_SPEECH_TAIL: Final[float] = 0.4
"""Silence kept after the spoken expression when a card is lengthened to fit it."""


def make_card(editor: VideoEditor, text: CardText, *, duration: float, speech: MediaInfo | None = None) -> Piece:
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
    f = editor.fmt
    frames = max(1, frame_at(duration, f.fps))
    # The overlay serves this one encode; the card no longer needs it after.
    with editor.run_files() as files:
        overlay = files.ass(card_ass(text, width=f.width, height=f.height, duration=frames / f.fps), prefix="card_")
        colour = "0x" + CARD_BACKGROUND.lstrip("#")
        args = ["-f", "lavfi", "-i", f"color=c={colour}:s={f.width}x{f.height}:r={f.fps}"]
        args += speech.input.args() if speech is not None else ["-f", "lavfi", "-i", editor.silence()]
        graph = [
            # The card is still: libass draws one frame, the rest are copies of it.
            f"[0:v]trim=end_frame=1,{ass_filter(overlay)},format=yuv420p,setsar=1,"
            f"tpad=stop={frames - 1}:stop_mode=clone[v]",
            f"[1:a]{samples_filter(editor.fmt, 0, frames)}[a]",
        ]
        args += ["-filter_complex", ";".join(graph), "-map", "[v]", "-map", "[a]"]
        out = editor.encode(args, prefix="card_")
    return Piece(out, frames, f)
