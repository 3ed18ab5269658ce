"""The public surface is what it claims: every ``__all__`` sorted, unique and real."""

from __future__ import annotations

import importlib

import pytest

MODULES = [
    "langflix.errors",
    "langflix.cancel",
    "langflix.config",
    "langflix.temp",
    "langflix.utils.temp_file_manager",
    "langflix.demo",
    "langflix.cli.pipeline",
    "langflix.cli.temp",
    "langflix.core",
    "langflix.core.subtitles",
    "langflix.core.process",
    "langflix.core.http",
    "langflix.core.ffmpeg",
    "langflix.core.output_format",
    "langflix.core.validated",
    "langflix.core.video_editor",
    "langflix.core.frames",
    "langflix.core.scenes",
    "langflix.core.card_video",
    "langflix.core.joins",
    "langflix.core.shorts",
    "langflix.core.study_media",
    "langflix.core.llm_selector",
    "langflix.core.llm_cache",
    "langflix.core.ass",
    "langflix.core.card",
    "langflix.core.expressions",
    "langflix.core.filtergraph",
    "langflix.core.fonts",
    "langflix.core.subtitle_alignment",
    "langflix.core.subtitle_cleaning",
    "langflix.core.subtitle_render",
    "langflix.core.text_layout",
    "langflix.core.thumbnail",
    "langflix.tts",
    "langflix.tts.registry",
    "langflix.pipeline",
    "langflix.pipeline.options",
    "langflix.pipeline.pipeline",
    "langflix.pipeline.job",
    "langflix.pipeline.selection",
    "langflix.pipeline.lesson",
    "langflix.pipeline.assemble",
    "langflix.pipeline.inputs",
    "langflix.pipeline.outputs",
    "langflix.pipeline.study",
    "langflix.pipeline.manifest",
    "langflix.pipeline.translation",
    "langflix.pipeline.workers",
    "langflix.pipeline.publish",
    "langflix.api",
    "langflix.api.tools",
]


def _isort_key(name: str) -> tuple[int, str]:
    return (0 if name.isupper() else 1 if name[:1].isupper() else 2, name)


@pytest.mark.parametrize("name", MODULES)
def test_all_is_sorted_unique_and_every_name_exists(name: str) -> None:
    module = importlib.import_module(name)
    exported = list(module.__all__)
    assert exported, f"{name}.__all__ is empty"
    # Either plain code-point order or the isort/ruff (RUF022) order that puts
    # CONSTANTS, then Classes, then functions; anything else is unsorted.
    assert exported in (sorted(exported), sorted(exported, key=_isort_key)), f"{name}.__all__ is not sorted"
    assert len(set(exported)) == len(exported), f"{name}.__all__ has duplicates"
    missing = [n for n in exported if not hasattr(module, n)]
    assert missing == [], f"{name}.__all__ names what the module lacks: {missing}"
    assert not [n for n in exported if n.startswith("_")], f"{name}.__all__ exports private names"


@pytest.mark.parametrize("name", MODULES)
def test_star_import_gives_exactly_all(name: str) -> None:
    namespace: dict[str, object] = {}
    exec(f"from {name} import *", namespace)  # noqa: S102 - the point of the test
    namespace.pop("__builtins__", None)
    assert sorted(namespace) == sorted(importlib.import_module(name).__all__)


def test_every_error_is_a_langflix_error() -> None:
    errors = importlib.import_module("langflix.errors")
    for name in errors.__all__:
        cls = getattr(errors, name)
        assert isinstance(cls, type) and issubclass(cls, errors.LangFlixError), name


def test_temp_manager_reexports_are_the_same_objects() -> None:
    errors = importlib.import_module("langflix.errors")
    tfm = importlib.import_module("langflix.utils.temp_file_manager")
    for name in ("TempFileError", "QuotaExceededError", "InsufficientDiskSpaceError"):
        assert getattr(tfm, name) is getattr(errors, name)
    for name in ("TempFileManager", "TempScope", "TempStats", "get_temp_manager", "install_signal_handlers"):
        assert name in tfm.__all__
