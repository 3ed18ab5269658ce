"""Options declared once: a pydantic base whose failures name the option and the fix.

An options model (the output format, a job's options) declares each range and
choice once, on its field. Everything else derives from that declaration: the
CLI's ``min``/``max``, the API form's schema and its 422, the settings' checks.
A bad value raises :class:`~langflix.errors.InvalidOptionError` (a
``ConfigError`` and a ``ValueError``) worded for a person: "repeat: must be
between 1 and 20, got 99", with the field names in ``problems`` (the wording is
:mod:`langflix.validation`'s, shared with the settings).
"""

from __future__ import annotations

from typing import Any, Self

from pydantic import BaseModel, ConfigDict, ValidationError

from langflix.validation import describe_error, field_bounds, invalid_option

__all__ = ["ValidatedModel", "describe_error", "field_bounds", "invalid_option"]


class ValidatedModel(BaseModel):
    """A frozen model checked at construction; any failure is one InvalidOptionError."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise invalid_option(exc, type(self)) from exc

    @classmethod
    def bounds(cls, field: str) -> tuple[float | None, float | None]:
        """The inclusive (lowest, highest) values ``field`` accepts; None where open."""
        return field_bounds(cls, field)

    def replace(self, **changes: Any) -> Self:
        """A copy with ``changes``, validated like a new instance (``model_copy`` is not)."""
        values = {name: getattr(self, name) for name in type(self).model_fields}
        return type(self)(**(values | changes))
