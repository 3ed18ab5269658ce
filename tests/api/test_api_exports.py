"""The API package's public surface is what it claims: every ``__all__`` sorted, unique and real."""

from __future__ import annotations

import importlib

import pytest

MODULES = [
    "langflix.api.access",
    "langflix.api.app",
    "langflix.api.deps",
    "langflix.api.disposition",
    "langflix.api.episode",
    "langflix.api.errors",
    "langflix.api.events",
    "langflix.api.guard",
    "langflix.api.job_records",
    "langflix.api.pages",
    "langflix.api.report",
    "langflix.api.routes.dashboard",
    "langflix.api.routes.downloads",
    "langflix.api.routes.events",
    "langflix.api.routes.health",
    "langflix.api.routes.jobs",
    "langflix.api.routes.temp",
    "langflix.api.runner",
    "langflix.api.serving",
    "langflix.api.store",
    "langflix.api.tally",
    "langflix.api.upload_form",
    "langflix.api.uploads",
    "langflix.api.zipstream",
    "langflix.cli.serve",
]


@pytest.mark.parametrize("name", MODULES)
def test_all_is_sorted_unique_and_real(name: str) -> None:
    module = importlib.import_module(name)
    exported = list(module.__all__)
    assert exported == sorted(exported), f"{name}.__all__ is not sorted"
    assert len(set(exported)) == len(exported), f"{name}.__all__ has duplicates"
    assert [n for n in exported if not hasattr(module, n)] == []
    assert not [n for n in exported if n.startswith("_")]


def test_store_and_runner_hold_no_http_types() -> None:
    # The service layers stay reusable outside FastAPI (a CLI, a test, another server).
    for name in (
        "langflix.api.store",
        "langflix.api.runner",
        "langflix.api.uploads",
        "langflix.api.access",
        "langflix.api.events",
        "langflix.api.episode",
        "langflix.api.zipstream",
        "langflix.api.tally",
    ):
        module = importlib.import_module(name)
        source = open(module.__file__, encoding="utf-8").read()  # noqa: SIM115
        for http in ("fastapi", "starlette", "Request", "Response", "HTTPException", "status_code"):
            assert http not in source, f"{name} mentions {http}"
