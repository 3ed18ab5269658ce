"""Tests for ``langflix/temp/_settings.py``: the temp settings, validated once, named in every error."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from langflix.config import Settings, get_settings
from langflix.errors import ConfigError, InvalidOptionError
from langflix.temp import DEFAULT_MIN_FREE_BYTES, TempFileManager, TempSettings, default_base_dir, sweep_orphans

VARIABLES = ("LANGFLIX_TEMP_DIR", "LANGFLIX_TEMP_MAX_BYTES", "LANGFLIX_MIN_FREE_BYTES")


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in VARIABLES:
        monkeypatch.delenv(variable, raising=False)


def test_defaults_without_any_variable() -> None:
    settings = TempSettings.from_env()
    assert (settings.temp_dir, settings.temp_max_bytes, settings.min_free_bytes) == (None, None, DEFAULT_MIN_FREE_BYTES)
    assert settings.temp_base_dir() == Path(tempfile.gettempdir()) == default_base_dir()


def test_each_field_is_its_langflix_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANGFLIX_TEMP_DIR", str(tmp_path / "t"))
    monkeypatch.setenv("LANGFLIX_TEMP_MAX_BYTES", "5000")
    monkeypatch.setenv("LANGFLIX_MIN_FREE_BYTES", "0")
    settings = TempSettings.from_env()
    assert (settings.temp_dir, settings.temp_max_bytes, settings.min_free_bytes) == (tmp_path / "t", 5000, 0)
    assert settings.temp_base_dir() == tmp_path / "t" == default_base_dir()


@pytest.mark.parametrize("variable", VARIABLES)
def test_an_empty_variable_means_unset(monkeypatch: pytest.MonkeyPatch, variable: str) -> None:
    monkeypatch.setenv(variable, "")
    assert TempSettings.from_env() == TempSettings()


@pytest.mark.parametrize(
    ("variable", "value", "explains"),
    [
        ("LANGFLIX_TEMP_MAX_BYTES", "abc", "must be an integer, got 'abc'"),
        ("LANGFLIX_TEMP_MAX_BYTES", "0", "must be at least 1, got 0"),
        ("LANGFLIX_TEMP_MAX_BYTES", "1.5", "must be an integer, got '1.5'"),
        ("LANGFLIX_MIN_FREE_BYTES", "-1", "must be at least 0, got -1"),
    ],
)
def test_a_bad_value_is_a_config_error_that_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, explains: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(InvalidOptionError) as info:
        TempSettings.from_env()
    assert isinstance(info.value, ConfigError)
    message = str(info.value)
    assert message.startswith(f"{variable}: {explains} (")
    assert "bytes" in message  # what the variable means, from its field's description
    assert message.endswith("Fix or unset the variable(s) named above.")
    assert [name for name, _ in info.value.problems] == [variable]


def test_every_bad_variable_is_named_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANGFLIX_TEMP_MAX_BYTES", "abc")
    monkeypatch.setenv("LANGFLIX_MIN_FREE_BYTES", "-5")
    with pytest.raises(InvalidOptionError) as info:
        TempSettings.from_env()
    assert [name for name, _ in info.value.problems] == ["LANGFLIX_TEMP_MAX_BYTES", "LANGFLIX_MIN_FREE_BYTES"]


def test_temp_and_service_settings_fail_through_one_mechanism(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The same error type and the same words, whichever settings class reads the variable.
    monkeypatch.setenv("LANGFLIX_TEMP_MAX_BYTES", "0")
    errors = []
    for read in (TempSettings.from_env, Settings.from_env, get_settings):
        get_settings.cache_clear()
        with pytest.raises(InvalidOptionError) as info:
            read()
        errors.append((type(info.value), info.value.problems))
    get_settings.cache_clear()
    assert errors[0] == errors[1] == errors[2], errors


def test_what_reads_the_settings_reports_a_bad_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANGFLIX_TEMP_DIR", str(tmp_path / "never-made"))
    monkeypatch.setenv("LANGFLIX_TEMP_MAX_BYTES", "abc")
    for reads_the_settings in (default_base_dir, TempFileManager, sweep_orphans):
        with pytest.raises(ConfigError, match="LANGFLIX_TEMP_MAX_BYTES: must be an integer, got 'abc'"):
            reads_the_settings()
    assert not (tmp_path / "never-made").exists()
    # An explicit base dir needs no settings at all.
    with TempFileManager(base_dir=tmp_path / "explicit") as manager:
        assert manager.base_dir == tmp_path / "explicit"


def test_the_service_settings_inherit_the_temp_fields_declared_once(monkeypatch: pytest.MonkeyPatch) -> None:
    assert issubclass(Settings, TempSettings)
    for name, declared in TempSettings.model_fields.items():
        inherited = Settings.model_fields[name]
        assert repr(inherited) == repr(declared), name  # same type, default, range and description
    monkeypatch.setenv("LANGFLIX_TEMP_MAX_BYTES", "4096")
    assert Settings().temp_max_bytes == TempSettings.from_env().temp_max_bytes == 4096
    monkeypatch.setenv("LANGFLIX_TEMP_MAX_BYTES", "abc")
    with pytest.raises(ConfigError, match="LANGFLIX_TEMP_MAX_BYTES: must be an integer, got 'abc'"):
        Settings.from_env()  # the same clear error for the service's settings
