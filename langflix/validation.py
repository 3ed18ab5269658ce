"""What is wrong with a value pydantic refused, in the words of the person who has to fix it.

One wording for every model LangFlix validates, options and settings alike:
"repeat: must be between 1 and 20, got 99" for an option,
"LANGFLIX_WORKERS: must be at least 1, got 0" for a setting. Both are one
:class:`~langflix.errors.InvalidOptionError` (a ``ConfigError`` and a
``ValueError``) whose ``problems`` name each option or variable. It sits at the
bottom of the layers, beside the error tree, because the temp layer's settings
need it as much as the pipeline's options.
"""

from __future__ import annotations

import annotated_types
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails
from pydantic_settings import BaseSettings

from langflix.errors import InvalidOptionError

__all__ = ["describe_error", "field_bounds", "invalid_option", "invalid_settings"]


def field_bounds(model: type[BaseModel], field: str) -> tuple[float | None, float | None]:
    """The inclusive (lowest, highest) values ``model.field`` accepts; None where open."""
    low: float | None = None
    high: float | None = None
    for constraint in model.model_fields[field].metadata:
        if isinstance(constraint, annotated_types.Ge):
            low = float(constraint.ge)  # type: ignore[arg-type]  # SupportsGe: numeric fields only
        elif isinstance(constraint, annotated_types.Le):
            high = float(constraint.le)  # type: ignore[arg-type]  # SupportsLe: numeric fields only
    return low, high


def invalid_option(exc: ValidationError, model: type[BaseModel]) -> InvalidOptionError:
    """One InvalidOptionError for every problem pydantic found validating ``model``."""
    problems = [
        (".".join(map(str, error["loc"])) or model.__name__, describe_error(error, model)) for error in exc.errors()
    ]
    return InvalidOptionError.of(problems)


def describe_error(error: ErrorDetails, model: type[BaseModel]) -> str:
    """What is wrong with one value, in the words a user of a flag or a form reads."""
    kind, value, ctx = error["type"], error.get("input"), error.get("ctx") or {}
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return f"must be an integer, got {value!r}"
    if kind in ("float_parsing", "float_type", "finite_number"):
        return f"must be a number, got {value!r}"
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        return _range_message(error, model)
    if kind == "string_too_long":
        return f"must be at most {ctx['max_length']} characters"
    if kind == "string_too_short":
        return "must not be empty" if ctx.get("min_length") == 1 else f"must be at least {ctx['min_length']} characters"
    if kind == "value_error" and "error" in ctx:
        return str(ctx["error"])
    if kind == "extra_forbidden":
        return f"is not an option of {model.__name__}"
    if kind == "missing":
        return "is required"
    message = error["msg"]
    return message[:1].lower() + message[1:]


def _range_message(error: ErrorDetails, model: type[BaseModel]) -> str:
    owner, field = _owner(model, error["loc"])
    low, high = field_bounds(owner, field) if owner is not None and field is not None else (None, None)
    value = error.get("input")
    if low is not None and high is not None:
        return f"must be between {low:g} and {high:g}, got {value}"
    ctx = error.get("ctx") or {}
    for key, words in (("ge", "at least"), ("gt", "more than"), ("le", "at most"), ("lt", "less than")):
        if key in ctx:
            return f"must be {words} {ctx[key]}, got {value}"
    return str(error["msg"])


def _owner(model: type[BaseModel], loc: tuple[int | str, ...]) -> tuple[type[BaseModel] | None, str | None]:
    """The model declaring the field at ``loc`` ("output_format", "width" -> OutputFormat, "width")."""
    current: type[BaseModel] = model
    for depth, part in enumerate(loc):
        if not isinstance(part, str) or part not in current.model_fields:
            return None, None
        if depth == len(loc) - 1:
            return current, part
        nested = current.model_fields[part].annotation
        if not (isinstance(nested, type) and issubclass(nested, BaseModel)):
            return None, None
        current = nested
    return None, None


def invalid_settings(exc: ValidationError, settings: type[BaseSettings]) -> InvalidOptionError:
    """One InvalidOptionError naming each environment variable of ``settings`` that holds a bad value.

    "LANGFLIX_TEMP_MAX_BYTES: must be an integer, got 'abc' (what the setting means)";
    the problems' names are the variables.
    """
    prefix = str(settings.model_config.get("env_prefix", ""))
    problems = []
    for error in exc.errors():
        loc = error["loc"]
        reason = describe_error(error, settings)
        declared = settings.model_fields.get(str(loc[0])) if loc else None
        if declared is not None and declared.description:
            reason += f" ({declared.description.rstrip('.')})"
        problems.append(((prefix + "_".join(map(str, loc))).upper(), reason))
    message = "; ".join(f"{name}: {reason}" for name, reason in problems)
    return InvalidOptionError(f"{message}. Fix or unset the variable(s) named above.", problems)
