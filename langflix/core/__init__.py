"""The media layer: subtitles, expressions, ffmpeg, the video editor, HTTP options.

Nothing here reads settings: binaries, timeouts, formats and HTTP options are
passed in by the caller (``langflix.config.Settings`` builds them). Each module
answers one question:

- ``subtitles`` (with ``sami``, ``text_encoding``): reading subtitle files into cues;
- ``subtitle_cleaning``, ``subtitle_alignment``: cues as said, a second file's translations;
- ``expressions``: the curated list and the offline choice of what to teach;
- ``llm_selector`` (with ``llm_cache``): the optional choice and translation by an
  OpenAI-compatible chat model, its answers kept on disk;
- ``process``: the one subprocess helper;
- ``ffmpeg``: :class:`FFmpegTools`, running and probing with the caller's binaries;
- ``output_format``: :class:`OutputFormat`, the one video format of a job;
- ``video_editor``: :class:`VideoEditor`, what every video product shares (a temp area, the
  format, frames and samples as filters, one encode, outputs released on failure), and its
  products: ``scenes`` (one decode, subtitles burned, the expression clip copied out),
  ``card_video`` (the title card), ``joins`` (lessons and compilations by stream copy),
  ``shorts`` (the vertical 9:16 video), ``study_media`` (a deck's audio and screenshot);
- ``frames``: cuts as whole frames and the filters that take them by number (pure);
- ``short_layout``: where a short's scene and text go (pure geometry, drawn by libass);
- ``deck``: an episode's Anki package and TSV, every id stable across runs;
- ``ass``, ``subtitle_render``, ``card``, ``thumbnail``, ``fonts``, ``text_layout``: what is
  drawn with libass, laid out with its own widths;
- ``http``: :class:`HttpOptions` and the retry policy of every HTTP client;
- ``validated``: the options base class whose errors name the field.
"""

from __future__ import annotations

from langflix.core.expressions import LANGUAGE_LEVELS, Expression, select_expressions
from langflix.core.ffmpeg import FFmpegTools, MediaInfo
from langflix.core.http import HttpOptions, RetryPolicy
from langflix.core.llm_selector import LLMExpressionSelector
from langflix.core.output_format import DEFAULT_FORMAT, OutputFormat
from langflix.core.process import run_process
from langflix.core.subtitles import Cue, Subtitles, load_subtitles
from langflix.core.validated import ValidatedModel
from langflix.core.video_editor import VideoEditor

__all__ = [
    "Cue",
    "DEFAULT_FORMAT",
    "Expression",
    "FFmpegTools",
    "HttpOptions",
    "LANGUAGE_LEVELS",
    "LLMExpressionSelector",
    "MediaInfo",
    "OutputFormat",
    "RetryPolicy",
    "Subtitles",
    "ValidatedModel",
    "VideoEditor",
    "load_subtitles",
    "run_process",
    "select_expressions",
]
