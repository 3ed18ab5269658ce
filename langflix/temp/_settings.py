"""The temp layer's settings, read from the environment and validated once.

:class:`TempSettings` declares ``LANGFLIX_TEMP_DIR``, ``LANGFLIX_TEMP_MAX_BYTES``
and ``LANGFLIX_MIN_FREE_BYTES`` with their ranges; ``langflix.config.Settings``
inherits it, so the service, the CLI and the process-wide manager read the same
values through the same checks. An empty variable means "unset".
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, ClassVar, Self

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from langflix.temp._budget import DEFAULT_MIN_FREE_BYTES
from langflix.validation import invalid_settings

__all__ = ["TempSettings", "default_base_dir"]


class TempSettings(BaseSettings):
    """Where temp sessions live and how much they may use; each field is ``LANGFLIX_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="LANGFLIX_", extra="ignore")

    temp_dir: Path | None = Field(
        default=None, description="Base dir for temp sessions; the system temp dir when unset."
    )
    temp_max_bytes: int | None = Field(
        default=None,
        ge=1,
        description="Byte budget of the process-wide temp manager: a whole number of bytes >= 1; none when unset.",
    )
    min_free_bytes: int = Field(
        default=DEFAULT_MIN_FREE_BYTES,
        ge=0,
        description="Free disk space always left untouched: a whole number of bytes >= 0.",
    )

    secret_fields: ClassVar[frozenset[str]] = frozenset()
    """Fields whose values are secrets (tokens, keys): never repeated by an error, nor chained into one."""

    @field_validator("temp_dir", "temp_max_bytes", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        return None if value == "" else value

    @field_validator("min_free_bytes", mode="before")
    @classmethod
    def _empty_is_default(cls, value: Any) -> Any:
        return DEFAULT_MIN_FREE_BYTES if value == "" else value

    @classmethod
    def from_env(cls) -> Self:
        """The settings from the environment; an :class:`~langflix.errors.InvalidOptionError` names each bad variable.

        (That error is a ``ConfigError``.) Subclasses (the service's ``Settings``)
        fail the same way, in the same words. When a field of
        :attr:`secret_fields` is among the bad ones, pydantic's error is not
        chained: it repeats the input, and a traceback must never print a token.
        """
        try:
            return cls()
        except ValidationError as exc:
            error = invalid_settings(exc, cls)
            if any(problem["loc"] and str(problem["loc"][0]) in cls.secret_fields for problem in exc.errors()):
                raise error from None
            raise error from exc

    def temp_base_dir(self) -> Path:
        """Where temp sessions go: ``temp_dir``, or the system temp dir when it is unset."""
        return self.temp_dir if self.temp_dir is not None else Path(tempfile.gettempdir())


def default_base_dir() -> Path:
    """``LANGFLIX_TEMP_DIR`` when set, else the system temp dir (``InvalidOptionError`` when invalid)."""
    return TempSettings.from_env().temp_base_dir()
