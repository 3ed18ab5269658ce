"""One job, from an episode (video + subtitles) to ``OUTPUT_DIR/<episode>/``.

The public face of the pipeline layer; each module answers one question:

- ``options``: what the user chose (:class:`PipelineOptions`, declared once);
- ``pipeline``: the orchestration (:class:`LangFlixPipeline`);
- ``job``: one running job's state and its progress reports;
- ``inputs``: the job's files checked and read, every line it shows translated;
- ``selection``: which expressions are taught (the LLM's, else the offline list);
- ``translation``: where each line's translation comes from (bilingual track, file, LLM);
- ``lesson``: the arithmetic of a lesson (windows, lengths, bytes), pure;
- ``assemble``: making what one expression gives (lesson, short, study media) in the job's scope;
- ``outputs``: every expression made, then the episode's compilation, deck and metadata;
- ``study``: the episode's Anki deck from the expressions' study media;
- ``workers``: the lessons of a job made at once, bounded and cancellable;
- ``manifest``: the episode's manifest, built and summarised by pure functions;
- ``metadata``: the upload metadata of the shorts and the compilation, pure;
- ``publish``: claiming the episode dir, publishing all at once, taking it back.
"""

from __future__ import annotations

from langflix.pipeline.job import ProgressCallback, ProgressEvent
from langflix.pipeline.manifest import (
    COMPILATION_NAME,
    COMPILATION_THUMBNAIL,
    DECK_NAME,
    DECK_TSV_NAME,
    MANIFEST_NAME,
    SummaryRow,
    build_manifest,
    summary_rows,
    translation_note,
)
from langflix.pipeline.metadata import METADATA_NAME
from langflix.pipeline.options import OUTPUT_KINDS, PipelineOptions
from langflix.pipeline.pipeline import LangFlixPipeline, PipelineResult
from langflix.pipeline.publish import episode_dir_candidates, sanitize_episode_name, unpublish

__all__ = [
    "COMPILATION_NAME",
    "COMPILATION_THUMBNAIL",
    "DECK_NAME",
    "DECK_TSV_NAME",
    "LangFlixPipeline",
    "MANIFEST_NAME",
    "METADATA_NAME",
    "OUTPUT_KINDS",
    "PipelineOptions",
    "PipelineResult",
    "ProgressCallback",
    "ProgressEvent",
    "SummaryRow",
    "build_manifest",
    "episode_dir_candidates",
    "sanitize_episode_name",
    "summary_rows",
    "translation_note",
    "unpublish",
]
