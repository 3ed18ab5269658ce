"""``langflix serve`` refuses to listen beyond this machine without a token, and says how to set one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from langflix.cli.serve import INSECURE_REFUSAL, is_local_address


def _serve(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("LANGFLIX_API_TOKEN")}
    environment.update(
        LANGFLIX_TEMP_DIR=str(tmp_path / "temp"), LANGFLIX_DATA_DIR=str(tmp_path / "data"),
        LANGFLIX_OUTPUT_DIR=str(tmp_path / "out"), **env,
    )  # fmt: skip
    (tmp_path / "temp").mkdir(exist_ok=True)
    command = [sys.executable, "-m", "langflix", "serve", "--port", "0", *args]
    return subprocess.run(
        command, capture_output=True, text=True, timeout=60, env=environment, stdin=subprocess.DEVNULL
    )


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10", "langflix.example"])
def test_a_public_address_without_a_token_is_refused_with_the_way_out(tmp_path: Path, host: str) -> None:
    done = _serve(tmp_path, "--host", host)
    assert done.returncode == INSECURE_REFUSAL, done.stderr
    message = done.stderr
    assert f"refusing to listen on {host} without a token" in message
    assert "export LANGFLIX_API_TOKEN=" in message and "LANGFLIX_API_TOKEN_FILE" in message
    assert "--insecure-no-auth" in message
    assert not (tmp_path / "data").exists(), "refused before anything was opened"
    assert list((tmp_path / "temp").iterdir()) == []


def test_a_short_token_is_refused_before_serving(tmp_path: Path) -> None:
    done = _serve(tmp_path, "--host", "0.0.0.0", LANGFLIX_API_TOKEN="sekrit-x")
    assert done.returncode != 0
    assert "LANGFLIX_API_TOKEN: the token is 8 characters long; use at least 16" in done.stderr
    assert "sekrit" not in done.stderr + done.stdout, "the message names the length, never the value"


def test_local_addresses() -> None:
    for host in ("127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost", "LOCALHOST"):
        assert is_local_address(host), host
    for host in ("0.0.0.0", "::", "10.0.0.1", "192.168.1.2", "example.com", "localhost.example.com"):
        assert not is_local_address(host), host
