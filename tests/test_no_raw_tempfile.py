"""The temp-file contract, enforced: only the temp code makes temp paths.

The temp code is the package ``langflix/temp/`` and the ticket's module
``langflix/utils/temp_file_manager.py`` that re-exports it. Any other module of
``langflix/`` that imports or names ``tempfile``, ``mkstemp``, ``mkdtemp``,
``NamedTemporaryFile``, ``gettempdir`` (or their siblings), or holds a ``/tmp``
path in a string literal, bypasses the owner of every temporary byte. The check
reads the syntax tree, so comments and docstrings never trip it, and both the
checker and the list of allowed places are proven on samples, so this test can
actually fail.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import langflix

PACKAGE = Path(langflix.__file__).resolve().parent
TEMP_PACKAGE = PACKAGE / "temp"
TICKET_MODULE = PACKAGE / "utils" / "temp_file_manager.py"

FORBIDDEN_NAMES = frozenset(
    {
        "tempfile",
        "mkstemp",
        "mkdtemp",
        "mktemp",
        "NamedTemporaryFile",
        "TemporaryFile",
        "TemporaryDirectory",
        "SpooledTemporaryFile",
        "gettempdir",
        "gettempdirb",
    }
)
# "/tmp" as a path: "/tmp", "/tmp/x", "f'/tmp/{job}'", "C:/tmp" -- not "/tmpl" or "a.tmp".
TMP_LITERAL = re.compile(r"(?<![\w.])/tmp(?![\w.-])")


def _docstring_nodes(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
    return ids


def find_violations(source: str, filename: str = "<sample>") -> list[str]:
    """Every forbidden use in ``source`` as ``file:line: what`` (empty when clean)."""
    tree = ast.parse(source, filename)
    docstrings = _docstring_nodes(tree)
    found: list[str] = []

    def add(node: ast.AST, what: str) -> None:
        found.append(f"{filename}:{getattr(node, 'lineno', '?')}: {what}")

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "tempfile":
                    add(node, "import tempfile")
        elif isinstance(node, ast.ImportFrom):
            if (node.module or "").split(".")[0] == "tempfile":
                add(node, f"from tempfile import {', '.join(a.name for a in node.names)}")
            for alias in node.names:
                if alias.name in FORBIDDEN_NAMES:
                    add(node, f"imports {alias.name}")
        elif isinstance(node, ast.Name) and node.id in FORBIDDEN_NAMES:
            add(node, f"uses {node.id}")
        elif isinstance(node, ast.Attribute) and node.attr in FORBIDDEN_NAMES:
            add(node, f"uses .{node.attr}")
        elif isinstance(node, ast.Constant) and id(node) not in docstrings:
            value = node.value
            if isinstance(value, bytes):
                value = value.decode("latin-1")
            if isinstance(value, str):
                if value == "tempfile":  # __import__("tempfile"), importlib.import_module("tempfile")
                    add(node, "names the tempfile module in a string")
                elif TMP_LITERAL.search(value):
                    add(node, f"string literal with a /tmp path: {value!r}")
    return found


def is_temp_code(path: Path) -> bool:
    """Whether ``path`` is one of the places allowed to make temp paths."""
    path = path.resolve()
    return path.is_relative_to(TEMP_PACKAGE) or path == TICKET_MODULE


def package_modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if not is_temp_code(p))


def test_no_module_but_the_temp_code_makes_temp_paths() -> None:
    modules = package_modules()
    assert len(modules) > 5, f"found too few modules under {PACKAGE}: is the package where we think?"
    violations = [v for path in modules for v in find_violations(path.read_text(), str(path.relative_to(PACKAGE)))]
    assert violations == [], (
        "Only langflix/temp/ (and langflix/utils/temp_file_manager.py) may create temp paths; go through a "
        "TempFileManager or scope instead:\n" + "\n".join(violations)
    )


def test_the_temp_package_itself_is_the_one_that_uses_tempfile() -> None:
    # Sanity check of the premise (and of the checker): the allowed code does use it.
    assert any(find_violations(p.read_text()) for p in TEMP_PACKAGE.rglob("*.py"))


ALLOWED_SAMPLES = {
    "the package's face": TEMP_PACKAGE / "__init__.py",
    "a private module": TEMP_PACKAGE / "_names.py",
    "a future module": TEMP_PACKAGE / "_owners.py",
    "the ticket's module": TICKET_MODULE,
}
REFUSED_SAMPLES = {
    "a sibling that merely starts alike": PACKAGE / "temporary.py",
    "a lookalike package": PACKAGE / "tempx" / "_names.py",
    "the old sessions module": PACKAGE / "utils" / "temp_sessions.py",
    "a neighbour of the ticket module": PACKAGE / "utils" / "http_retry.py",
    "the pipeline": PACKAGE / "main.py",
    "outside the package": PACKAGE.parent / "temp" / "_names.py",
}


@pytest.mark.parametrize("path", ALLOWED_SAMPLES.values(), ids=ALLOWED_SAMPLES.keys())
def test_the_allowed_places_are_the_temp_package_and_the_ticket_module(path: Path) -> None:
    assert is_temp_code(path)


@pytest.mark.parametrize("path", REFUSED_SAMPLES.values(), ids=REFUSED_SAMPLES.keys())
def test_no_other_place_is_allowed(path: Path) -> None:
    assert not is_temp_code(path)


BAD_SAMPLES = {
    "import": "import tempfile\n",
    "import as": "import tempfile as tf\n",
    "from import": "from tempfile import mkstemp\n",
    "from import other": "from tempfile import gettempdir as g\n",
    "attribute": "import os\nx = os.tempfile\n",
    "call": "fd, name = mkstemp()\n",
    "named": "f = NamedTemporaryFile(delete=False, prefix='langflix_tts_')\n",
    "mkdtemp": "d = mkdtemp()\n",
    "gettempdir attr": "base = somewhere.gettempdir()\n",
    "dunder import": "m = __import__('tempfile')\n",
    "tmp literal": "path = '/tmp/video.mkv'\n",
    "tmp bare": "base = '/tmp'\n",
    "tmp fstring": "job = 1\npath = f'/tmp/{job}_video.mkv'\n",
    "tmp bytes": "p = b'/tmp/x'\n",
    "tmp in call": "open('/tmp/{}_sub.srt'.format(job))\n",
}


@pytest.mark.parametrize("source", BAD_SAMPLES.values(), ids=BAD_SAMPLES.keys())
def test_checker_catches_bad_samples(source: str) -> None:
    assert find_violations(source), f"the checker missed: {source!r}"


GOOD_SAMPLES = {
    "comment": "# never use tempfile or '/tmp/x' here\nx = 1\n",
    "docstring": '"""Unlike tempfile.mkstemp, /tmp is not used."""\n',
    "function docstring": 'def f():\n    """Writes nowhere near /tmp."""\n',
    "manager": "from langflix.temp import get_temp_manager\n",
    "ticket module": "from langflix.utils.temp_file_manager import get_temp_manager\n",
    "similar words": "x = '/tmpl/a.tmp'\ny = 'my_tempfiles_count'\n",
}


@pytest.mark.parametrize("source", GOOD_SAMPLES.values(), ids=GOOD_SAMPLES.keys())
def test_checker_accepts_good_samples(source: str) -> None:
    assert find_violations(source) == []


def test_checker_reports_file_and_line() -> None:
    assert find_violations("x = 1\nimport tempfile\n", "pkg/mod.py") == ["pkg/mod.py:2: import tempfile"]
