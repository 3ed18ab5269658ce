"""One job, from an episode (video + subtitles) to ``OUTPUT_DIR/<episode>/``.

The public face of the pipeline layer; each module answers one question:

- ``options``: what the user chose (:class:`PipelineOptions`, declared once);
- ``pipeline``: the orchestration (:class:`LangFlixPipeline`);
- ``job``: one running job's state and its progress reports;
- ``selection``: which expressions are taught (the LLM's, else the offline list);
- ``lesson``: the arithmetic of a lesson (windows, lengths, bytes), pure;
- ``assemble``: making one lesson in the job's scope;
- ``manifest``: the episode's manifest, built and summarised by pure functions;
- ``publish``: claiming the episode dir, publishing all at once, taking it back.
"""

from __future__ import annotations

from langflix.pipeline.job import ProgressCallback, ProgressEvent
from langflix.pipeline.manifest import (
    COMPILATION_NAME,
    MANIFEST_NAME,
    SummaryRow,
    build_manifest,
    summary_rows,
)
from langflix.pipeline.options import PipelineOptions
from langflix.pipeline.pipeline import LangFlixPipeline, PipelineResult
from langflix.pipeline.publish import episode_dir_candidates, sanitize_episode_name, unpublish

__all__ = [
    "COMPILATION_NAME",
    "LangFlixPipeline",
    "MANIFEST_NAME",
    "PipelineOptions",
    "PipelineResult",
    "ProgressCallback",
    "ProgressEvent",
    "SummaryRow",
    "build_manifest",
    "episode_dir_candidates",
    "sanitize_episode_name",
    "summary_rows",
    "unpublish",
]
