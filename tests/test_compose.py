"""``compose.yaml`` is a real scale-out: Redis with its append-only file, one API, two workers, one shared volume.

Parsed as YAML (anchors and merge keys resolved as compose resolves them),
and every ``langflix`` command it runs is parsed by the real CLI, so a renamed
command or option fails here rather than in someone's deployment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import typer
import yaml

from langflix.cli import app

ROOT = Path(__file__).resolve().parents[1]


def _compose() -> dict[str, Any]:
    loaded = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def _parse(argv: list[str]) -> Any:
    """Parse ``langflix ...`` exactly as the installed CLI would (its click context); a bad command or option raises."""
    assert argv[0] == "langflix", argv
    group: Any = typer.main.get_command(app)
    at = next(i for i, arg in enumerate(argv) if i and not arg.startswith("-"))  # the command, after -v
    name, rest = argv[at], argv[at + 1 :]
    root = group.make_context("langflix", argv[1 : at + 1], resilient_parsing=False)
    command = group.get_command(root, name)
    if command is None:
        raise LookupError(f"No such command {name!r}")
    return command.make_context(name, rest, parent=root)


def test_the_services_are_redis_with_aof_an_api_and_two_workers() -> None:
    services = _compose()["services"]
    redis = services["redis"]
    assert redis["image"].startswith("redis:")
    command = redis["command"]
    assert command[0] == "redis-server" and command[command.index("--appendonly") + 1] == "yes"
    assert any(volume.endswith(":/data") for volume in redis["volumes"])
    workers = [
        name for name, service in services.items() if service.get("command", [None])[:3] == ["langflix", "-v", "worker"]
    ]
    apis = [name for name, service in services.items() if "serve" in service.get("command", [])]
    assert len(workers) == 2 and apis == ["api"]


def test_api_and_workers_share_one_volume_at_the_shared_dir_and_one_redis() -> None:
    compose = _compose()
    assert {"shared", "redis-data"} <= set(compose["volumes"])
    for name in ("api", "worker-1", "worker-2"):
        service = compose["services"][name]
        env = service["environment"]
        assert env["LANGFLIX_REDIS_URL"].startswith("redis://redis:6379/")
        assert f"shared:{env['LANGFLIX_SHARED_DIR']}" in service["volumes"]
        assert env["LANGFLIX_TEMP_DIR"] != env["LANGFLIX_SHARED_DIR"]  # scratch stays local to each service
        assert service["depends_on"]["redis"]["condition"] == "service_healthy"
        assert service["build"] == "."


def test_every_command_it_runs_is_a_real_cli_command() -> None:
    services = _compose()["services"]
    serve = _parse(services["api"]["command"])
    assert serve.command.name == "serve" and serve.params["host"] == "0.0.0.0" and serve.params["port"] == 8000
    for name in ("worker-1", "worker-2"):
        worker = _parse(services[name]["command"])
        assert worker.command.name == "worker" and worker.params["queues"] == ["langflix"]


def test_the_parser_refuses_what_the_cli_would() -> None:
    # click's usage errors (typer vendors click, so matched by name)
    with pytest.raises(Exception, match="No such option") as bad_option:
        _parse(["langflix", "worker", "--no-such-option"])
    with pytest.raises(Exception, match="No such command") as bad_command:
        _parse(["langflix", "workers"])
    assert type(bad_option.value).__name__ == "NoSuchOption" and isinstance(bad_command.value, LookupError)


def test_the_image_installs_the_scale_out_extra() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert '".[redis]"' in dockerfile and "ffmpeg" in dockerfile and "espeak-ng" in dockerfile
