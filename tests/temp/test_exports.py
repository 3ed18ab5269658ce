"""The temp package's public surface is what it claims, and only public types cross it.

``langflix.temp.__all__`` is the whole temp API: every public name of the
package and nothing else (httpx's ``test_exported_members`` idea). Every
signature of that API names only public types, so a caller never has to guess
or import a private one. The ticket's module re-exports exactly the same
objects. Outside ``langflix/temp/`` nobody imports the package's private modules.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import types
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import langflix
import langflix.errors
import langflix.temp
import langflix.utils.temp_file_manager as ticket_module

PACKAGE = Path(langflix.__file__).resolve().parent
TESTS = Path(__file__).resolve().parents[1]


def _isort_key(name: str) -> tuple[int, str]:
    return (0 if name.isupper() else 1 if name[:1].isupper() else 2, name)


def test_all_is_every_public_name_of_the_package_sorted() -> None:
    public = {name for name in vars(langflix.temp) if not name.startswith("_")} - {"annotations"}
    assert set(langflix.temp.__all__) == public
    assert langflix.temp.__all__ == sorted(public, key=_isort_key)


def test_every_export_is_defined_by_the_temp_package_or_the_error_tree() -> None:
    for name in langflix.temp.__all__:
        value = getattr(langflix.temp, name)
        module = getattr(value, "__module__", None)
        if isinstance(value, (type, types.FunctionType)):
            assert module == "langflix.errors" or str(module).startswith("langflix.temp._"), (name, module)
    for name in ("TempFileError", "QuotaExceededError", "InsufficientDiskSpaceError"):
        assert getattr(langflix.temp, name) is getattr(langflix.errors, name)


def _public_types() -> set[type]:
    exported = [getattr(langflix.temp, n) for n in langflix.temp.__all__]
    errors = [getattr(langflix.errors, n) for n in langflix.errors.__all__]
    return {value for value in [*exported, *errors] if isinstance(value, type)}


def _annotated_callables() -> Iterator[tuple[str, Any]]:
    """Every exported function, and every method/property an exported class defines (constructors included)."""
    for name in langflix.temp.__all__:
        value = getattr(langflix.temp, name)
        if isinstance(value, types.FunctionType):
            yield name, value
        if not isinstance(value, type) or value.__module__ == "langflix.errors":
            continue
        for attr, member in vars(value).items():
            if attr.startswith("_") and not (attr.startswith("__") and attr.endswith("__")):
                continue
            if attr == "__init__" and inspect.isabstract(value):
                continue  # an abstract base is made only through its subclasses
            if isinstance(member, (classmethod, staticmethod)):
                member = member.__func__
            if isinstance(member, property):
                member = member.fget
            if isinstance(member, types.FunctionType):
                yield f"{name}.{attr}", member


def _classes_in(annotation: Any) -> Iterator[type]:
    if isinstance(annotation, type) and typing.get_origin(annotation) is None:
        yield annotation
    for arg in typing.get_args(annotation):
        yield from _classes_in(arg)
    origin = typing.get_origin(annotation)
    if isinstance(origin, type):
        yield origin


def test_every_public_signature_names_only_public_types() -> None:
    public = _public_types()
    namespace = dict(vars(langflix.temp))
    checked = 0
    leaks = []
    for where, function in _annotated_callables():
        hints = typing.get_type_hints(function, localns=namespace)
        for parameter, annotation in hints.items():
            for cls in _classes_in(annotation):
                if cls.__module__.startswith("langflix.") and cls not in public:
                    leaks.append(f"{where}({parameter}): {cls.__module__}.{cls.__qualname__}")
        checked += 1
    assert checked > 60, f"only {checked} signatures found: is the walk still looking at the API?"
    assert leaks == [], "public signatures naming private types:\n" + "\n".join(leaks)


def test_the_walk_would_catch_a_private_type() -> None:
    class _Private:
        pass

    def leaky(area: _Private) -> None:
        """A public function typed with a private class: what the walk must catch."""

    hints = typing.get_type_hints(leaky, localns={"_Private": _Private})
    assert _Private in set(_classes_in(hints["area"]))
    assert _Private not in _public_types()


def test_the_ticket_module_reexports_exactly_the_package() -> None:
    assert ticket_module.__all__ == langflix.temp.__all__
    for name in langflix.temp.__all__:
        assert getattr(ticket_module, name) is getattr(langflix.temp, name), name
    namespace: dict[str, object] = {}
    exec("from langflix.utils.temp_file_manager import *", namespace)  # noqa: S102 - the point of the test
    namespace.pop("__builtins__", None)
    assert sorted(namespace) == sorted(langflix.temp.__all__)


def _imports(path: Path) -> Iterator[tuple[int, str]]:
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.lineno, node.module
            for alias in node.names:
                yield node.lineno, f"{node.module}.{alias.name}"


def private_temp_imports(path: Path) -> list[str]:
    """Imports of ``langflix.temp``'s private modules in ``path`` (``file:line: module``)."""
    return [
        f"{path}:{line}: {module}"
        for line, module in _imports(path)
        if module.startswith("langflix.temp._") or module.startswith("langflix.utils.temp_file_manager._")
    ]


def test_nobody_outside_the_package_imports_its_private_modules() -> None:
    outside = [p for p in PACKAGE.rglob("*.py") if not p.is_relative_to(PACKAGE / "temp")]
    outside += [p for p in TESTS.rglob("*.py") if not p.is_relative_to(TESTS / "temp")]
    assert len(outside) > 50
    found = [hit for path in outside for hit in private_temp_imports(path)]
    assert found == [], "import the public langflix.temp instead:\n" + "\n".join(found)


def test_langflix_itself_imports_the_package_not_the_ticket_path() -> None:
    # The ticket's module is for code written to the ticket; inside LangFlix the
    # temp layer is langflix.temp, so the layers stay visible in the imports.
    users = [
        f"{path}:{line}"
        for path in PACKAGE.rglob("*.py")
        if path != PACKAGE / "utils" / "temp_file_manager.py"
        for line, module in _imports(path)
        if module == "langflix.utils.temp_file_manager"
    ]
    assert users == []


@pytest.mark.parametrize(
    ("source", "found"),
    [
        ("from langflix.temp._areas import TempArea\n", True),
        ("import langflix.temp._sessions\n", True),
        ("from langflix.temp import _budget\n", True),
        ("from langflix.temp import TempArea\n", False),
        ("import langflix.temporary\n", False),
    ],
)
def test_the_private_import_check_is_proven_on_samples(tmp_path: Path, source: str, found: bool) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(source)
    assert bool(private_temp_imports(sample)) is found


def test_every_private_module_keeps_its_all_honest() -> None:
    for path in sorted((PACKAGE / "temp").glob("_*.py")):
        if path.name == "__init__.py":
            continue
        module = importlib.import_module(f"langflix.temp.{path.stem}")
        exported = list(module.__all__)
        assert exported == sorted(exported, key=_isort_key) or exported == sorted(exported), path.name
        assert [n for n in exported if not hasattr(module, n)] == [], path.name
