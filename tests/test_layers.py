"""The layers, enforced: nothing in ``langflix/`` imports a layer above its own.

Bottom to top: errors/cancel/validation -> temp -> core -> tts -> config -> pipeline ->
api/cli (the demo sits with the CLI). A lower layer that needs something from a
higher one takes it as a parameter instead (ffmpeg's binaries, a TTS client's
HTTP options): that is what keeps each layer testable on its own. The checks
read the syntax tree (imports inside functions and ``TYPE_CHECKING`` blocks
count too) and are proven on bad samples, so this test can fail.

Two more rules ride along: the temp layer's face is ``langflix.temp`` (nothing
outside the temp layer imports its modules directly), and nothing imports a
private name or module (``_x``) of another package, tests included.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import langflix

PACKAGE = Path(langflix.__file__).resolve().parent
TESTS = Path(__file__).resolve().parent

LAYERS: tuple[tuple[str, ...], ...] = (
    ("errors", "cancel", "validation"),
    ("temp", "utils"),
    ("core",),
    ("tts",),
    ("config",),
    ("pipeline",),
    ("api", "cli", "demo", "main", "__main__"),
)
"""Top-level parts of ``langflix``, bottom to top; a part may import its own layer and those below."""

TEMP_FACE = "langflix.temp"
TEMP_LAYER = frozenset(LAYERS[1])


def layer_of(module: str) -> int:
    """The layer of ``langflix.<part>...``; a part no layer names is an error of this table."""
    part = module.split(".")[1]
    for index, parts in enumerate(LAYERS):
        if part in parts:
            return index
    raise AssertionError(f"langflix.{part} is in no layer: add it to LAYERS in {Path(__file__).name}")


def module_name(path: Path, root: Path = PACKAGE) -> str:
    relative = path.relative_to(root.parent).with_suffix("")
    parts = list(relative.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(tree: ast.AST, importer: str) -> list[tuple[int, str, list[str]]]:
    """(line, imported module, names) for every import of a langflix module."""
    found = []
    package = importer if importer.count(".") == 0 else importer.rsplit(".", 1)[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, []) for alias in node.names if alias.name.startswith("langflix.")]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:  # relative: resolve against the importer's package
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, *([module] if module else [])])
            if module.startswith("langflix.") or (module == "langflix" and node.names):
                found.append((node.lineno, module, [alias.name for alias in node.names]))
    return found


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _package_of(module: str) -> str:
    """``langflix.tts.base`` -> ``langflix.tts``; ``langflix.config`` -> ``langflix``.

    The ticket's ``langflix/utils/temp_*`` modules and ``langflix/temp/`` are one
    component (the first re-exports the second), so they share their privates.
    """
    package = module.rsplit(".", 1)[0] if "." in module else module
    for part in TEMP_LAYER:
        if package == f"langflix.{part}" or package.startswith(f"langflix.{part}."):
            return TEMP_FACE
    return package


def find_violations(source: str, importer: str, filename: str = "<sample>") -> list[str]:
    """Every layer, temp-face and privacy breach of ``source`` (the module ``importer``)."""
    tree = ast.parse(source, filename)
    own = layer_of(importer) if importer.startswith("langflix.") else len(LAYERS)
    own_part = importer.split(".")[1] if importer.startswith("langflix.") else ""
    own_package = _package_of(importer + "._") if filename.endswith("__init__.py") else _package_of(importer)
    found = []
    for line, module, names in _imports(tree, importer):
        if module == "langflix":
            modules = [f"langflix.{name}" for name in names]
        else:
            modules = [module]
        for target in modules:
            where = f"{filename}:{line}"
            if layer_of(target) > own:
                found.append(f"{where}: {importer} (layer {own}) imports {target} (layer {layer_of(target)})")
            part = target.split(".")[1]
            if part == "utils" and own_part not in TEMP_LAYER:
                found.append(f"{where}: {importer} imports {target}; import the temp layer from {TEMP_FACE}")
            private_modules = [p for p in target.split(".") if _is_private(p)]
            if private_modules and not (own_package + ".").startswith(_package_of(target) + "."):
                found.append(f"{where}: {importer} imports the private module {target}")
            private_names = [n for n in names if _is_private(n)]
            if private_names and _package_of(target) != own_package and target != own_package:
                found.append(f"{where}: {importer} imports private {', '.join(private_names)} of {target}")
    return found


def _sources(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts)


def test_no_module_imports_a_layer_above_its_own() -> None:
    modules = _sources(PACKAGE)
    assert len(modules) > 20, f"found too few modules under {PACKAGE}: is the package where we think?"
    violations = [v for path in modules for v in find_violations(path.read_text(), module_name(path), str(path))]
    assert violations == [], "Pass what a lower layer needs as a parameter instead:\n" + "\n".join(violations)


def test_every_part_of_the_package_has_a_layer() -> None:
    parts = {p.name.removesuffix(".py") for p in PACKAGE.iterdir() if p.suffix == ".py" or (p / "__init__.py").exists()}
    named = {part for layer in LAYERS for part in layer}
    assert parts - {"__init__"} <= named, f"parts without a layer: {sorted(parts - named - {'__init__'})}"


def test_tests_import_no_private_name_of_langflix() -> None:
    # White-box tests of one package's own modules live in the directory that mirrors
    # it (tests/temp/ for langflix/temp/) and may read those modules; no other test may.
    violations = []
    for path in _sources(TESTS):
        tree = ast.parse(path.read_text(), str(path))
        mirrored = f"langflix.{path.relative_to(TESTS).parts[0]}."
        for line, module, names in _imports(tree, "tests"):
            if module.startswith(mirrored) and len(path.relative_to(TESTS).parts) > 1:
                continue
            private = [n for n in names if _is_private(n)] + [p for p in module.split(".") if _is_private(p)]
            if private:
                violations.append(f"{path.relative_to(TESTS)}:{line}: imports {', '.join(private)} from {module}")
    assert violations == [], "Give the test a public hook instead:\n" + "\n".join(violations)


BAD_SAMPLES = {
    "core imports config": ("langflix.core.ffmpeg", "from langflix.config import get_settings\n"),
    "core imports config lazily": ("langflix.core.ffmpeg", "def f():\n    import langflix.config\n"),
    "tts imports config": ("langflix.tts", "from langflix import config\n"),
    "core imports pipeline for types": (
        "langflix.core.x",
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from langflix.pipeline import Job\n",
    ),
    "cancel imports core": ("langflix.cancel", "from langflix.core.process import run_process\n"),
    "temp imports core": ("langflix.temp.areas", "import langflix.core.ffmpeg\n"),
    "pipeline imports api": ("langflix.pipeline.job", "from langflix.api.store import JobStore\n"),
    "core reaches into the temp modules": ("langflix.core.x", "from langflix.utils.temp_file_manager import X\n"),
    "private name of another package": ("langflix.api.jobs", "from langflix.tts.base import _body_snippet\n"),
    "private module of another package": ("langflix.core.x", "from langflix.temp._areas import TempArea\n"),
    "relative import upward": ("langflix.core.x", "from ..pipeline import Job\n"),
}


@pytest.mark.parametrize(("importer", "source"), BAD_SAMPLES.values(), ids=BAD_SAMPLES.keys())
def test_checker_catches_bad_samples(importer: str, source: str) -> None:
    assert find_violations(source, importer), f"the checker missed: {source!r} in {importer}"


GOOD_SAMPLES = {
    "down": ("langflix.pipeline.job", "from langflix.core.ffmpeg import FFmpegTools\nimport langflix.errors\n"),
    "same layer": ("langflix.cli.serve", "from langflix.api.app import create_app\n"),
    "own package's private": ("langflix.tts.google", "from langflix.tts.base import _body_snippet\n"),
    "temp face": ("langflix.core.video_editor", "from langflix.temp import TempArea\n"),
    "temp inside its layer": ("langflix.temp", "from langflix.utils.temp_file_manager import TempFileManager\n"),
    "temp's private modules inside temp": ("langflix.temp", "from langflix.temp._areas import TempArea\n"),
    "the ticket's module re-exports temp's privates": (
        "langflix.utils.temp_file_manager",
        "from langflix.temp._areas import _TempArea\n",
    ),
    "third party": ("langflix.core.ffmpeg", "import httpx\nfrom pydantic import BaseModel\n"),
}


@pytest.mark.parametrize(("importer", "source"), GOOD_SAMPLES.values(), ids=GOOD_SAMPLES.keys())
def test_checker_accepts_good_samples(importer: str, source: str) -> None:
    filename = "langflix/temp/__init__.py" if importer == "langflix.temp" else "<sample>"
    assert find_violations(source, importer, filename) == []
