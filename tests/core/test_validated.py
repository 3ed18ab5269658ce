"""ValidatedModel: a range or choice declared on a field becomes every message about it."""

from __future__ import annotations

from typing import Annotated

import pytest
from pydantic import AfterValidator, BaseModel, Field

import langflix.core.validated as module
from langflix.core.validated import ValidatedModel, field_bounds
from langflix.errors import InvalidOptionError


def _no_shouting(value: str) -> str:
    if value.isupper():
        raise ValueError(f"{value!r} is shouted; write it in lower case")
    return value


class Inner(ValidatedModel):
    size: int = Field(default=2, ge=1, le=9)


class Sample(ValidatedModel):
    count: int = Field(default=1, ge=1, le=20)
    ratio: float = Field(default=0.5, ge=0.0)
    name: Annotated[str, Field(max_length=5), AfterValidator(_no_shouting)] = "ok"
    inner: Inner = Inner()


@pytest.mark.parametrize(
    ("values", "problem"),
    [
        ({"count": 21}, ("count", "must be between 1 and 20, got 21")),
        ({"count": "21"}, ("count", "must be between 1 and 20, got 21")),  # a form's string, parsed first
        ({"count": "many"}, ("count", "must be an integer, got 'many'")),
        ({"count": 2.5}, ("count", "must be an integer, got 2.5")),
        ({"ratio": -1}, ("ratio", "must be at least 0.0, got -1")),
        ({"ratio": "half"}, ("ratio", "must be a number, got 'half'")),
        ({"name": "toolong"}, ("name", "must be at most 5 characters")),
        ({"name": "LOUD"}, ("name", "'LOUD' is shouted; write it in lower case")),
        ({"inner": {"size": 10}}, ("inner", "size: must be between 1 and 9, got 10")),
        ({"extra": 1}, ("extra", "is not an option of Sample")),
    ],
)
def test_messages_name_the_field_and_the_fix(values: dict[str, object], problem: tuple[str, str]) -> None:
    with pytest.raises(InvalidOptionError) as info:
        Sample(**values)  # type: ignore[arg-type]
    assert info.value.problems == (problem,)
    assert str(info.value) == f"{problem[0]}: {problem[1]}"


def test_a_nested_model_instance_is_taken_as_it_is() -> None:
    inner = Inner(size=9)
    assert Sample(inner=inner).inner is inner


def test_bounds_of_any_model() -> None:
    class Plain(BaseModel):
        workers: int = Field(default=2, ge=1)

    assert Sample.bounds("count") == (1, 20)
    assert Sample.bounds("ratio") == (0.0, None)
    assert Sample.bounds("name") == (None, None)
    assert field_bounds(Plain, "workers") == (1, None)


def test_replace_is_validated_and_keeps_the_rest() -> None:
    sample = Sample(count=3, name="abc")
    assert sample.replace(ratio=2.0) == Sample(count=3, ratio=2.0, name="abc")
    with pytest.raises(InvalidOptionError, match="count: must be between 1 and 20, got 0"):
        sample.replace(count=0)


def test_invalid_option_error_of_many_problems() -> None:
    error = InvalidOptionError.of([("a", "is wrong"), ("b", "is worse")])
    assert str(error) == "a: is wrong; b: is worse"
    assert error.problems == (("a", "is wrong"), ("b", "is worse"))
    assert InvalidOptionError("plain").problems == ()


def test_exports() -> None:
    assert module.__all__ == sorted(module.__all__)
    assert all(hasattr(module, name) for name in module.__all__)
