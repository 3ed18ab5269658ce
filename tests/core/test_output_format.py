"""OutputFormat: the one video format of a job, its ranges declared once on its fields."""

from __future__ import annotations

import pytest

import langflix.core.output_format as module
from langflix.core.output_format import DEFAULT_FORMAT, OutputFormat, parse_size
from langflix.errors import ConfigError, InvalidOptionError


def test_defaults_are_720p_h264_at_25_fps() -> None:
    assert OutputFormat() == DEFAULT_FORMAT
    assert OutputFormat().model_dump() == {
        "width": 1280, "height": 720, "fps": 25, "sample_rate": 44100, "crf": 23, "preset": "veryfast",
    }  # fmt: skip
    assert OutputFormat(width=320, height=240).size == "320x240"


@pytest.mark.parametrize(
    ("values", "field", "reason"),
    [
        ({"width": 321}, "width", "must be even (yuv420p halves it), got 321; use 320 or 322"),
        ({"height": 8}, "height", "must be at least 16, got 8"),
        ({"fps": 0}, "fps", "must be between 1 and 120, got 0"),
        ({"sample_rate": 4000}, "sample_rate", "must be between 8000 and 192000, got 4000"),
        ({"crf": 60}, "crf", "must be between 0 and 51, got 60"),
        ({"preset": ""}, "preset", "must not be empty"),
        ({"fps": "fast"}, "fps", "must be an integer, got 'fast'"),
        ({"colour": "red"}, "colour", "is not an option of OutputFormat"),
    ],
)
def test_a_bad_value_names_its_field_and_what_is_wrong(values: dict[str, object], field: str, reason: str) -> None:
    with pytest.raises(InvalidOptionError) as info:
        OutputFormat(**values)  # type: ignore[arg-type]
    assert info.value.problems == ((field, reason),)
    assert str(info.value) == f"{field}: {reason}"
    # One family for callers of the library, the built-in for plain validation code.
    assert isinstance(info.value, ConfigError) and isinstance(info.value, ValueError)


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(InvalidOptionError) as info:
        OutputFormat(width=321, crf=99)
    assert [field for field, _ in info.value.problems] == ["width", "crf"]


def test_formats_are_frozen_and_replace_validates() -> None:
    fmt = OutputFormat(width=320, height=240)
    with pytest.raises(ValueError, match="frozen"):
        fmt.width = 640  # type: ignore[misc]
    assert fmt.replace(preset="ultrafast") == OutputFormat(width=320, height=240, preset="ultrafast")
    with pytest.raises(InvalidOptionError, match="width: must be even"):
        fmt.replace(width=641)
    assert hash(fmt) == hash(OutputFormat(width=320, height=240))


def test_bounds_are_read_from_the_declaration() -> None:
    assert OutputFormat.bounds("fps") == (1, 120)
    assert OutputFormat.bounds("width") == (16, None)
    assert OutputFormat.bounds("preset") == (None, None)


@pytest.mark.parametrize(("text", "size"), [("1280x720", (1280, 720)), ("320X240", (320, 240))])
def test_parse_size(text: str, size: tuple[int, int]) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["big", "1280", "1280x720x3", "wide x tall", ""])
def test_parse_size_names_the_expected_shape(text: str) -> None:
    with pytest.raises(ValueError, match="is not WIDTHxHEIGHT, e.g. 1280x720"):
        parse_size(text)


def test_exports() -> None:
    assert module.__all__ == sorted(module.__all__)
    assert all(hasattr(module, name) for name in module.__all__)
