"""``langflix temp status|sweep``: see and reclaim temp sessions on this machine."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from langflix.cli import app
from langflix.errors import ConfigError, TempFileError
from langflix.temp import DEFAULT_PREFIX, default_base_dir, human_bytes, list_sessions, sweep_orphans

__all__ = ["status", "sweep", "temp_app"]

temp_app = typer.Typer(help="Inspect and reclaim LangFlix temporary files.", no_args_is_help=True)
app.add_typer(temp_app, name="temp")

BaseDirOption = Annotated[
    Path | None,
    typer.Option("--base-dir", help="Temp base dir (default: LANGFLIX_TEMP_DIR or the system temp dir)."),
]
PrefixOption = Annotated[str, typer.Option("--prefix", help="Session name prefix.")]


def _format_age(seconds: float) -> str:
    if seconds == float("inf"):
        return "?"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f}{unit}"
    return f"{seconds:.0f}s"


def _base_dir(given: Path | None) -> Path:
    """``--base-dir``, else the configured one; an invalid setting ends the command with its message."""
    if given is not None:
        return given
    try:
        return default_base_dir()
    except ConfigError as exc:
        Console(stderr=True).print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True, highlight=False)
        raise typer.Exit(1) from exc


@temp_app.command("status")
def status(base_dir: BaseDirOption = None, prefix: PrefixOption = DEFAULT_PREFIX) -> None:
    """Show the base dir, its sessions (live, dead, garbage) and free disk space."""
    console = Console()
    base = _base_dir(base_dir)
    console.print(f"[bold]Temp base dir:[/bold] {base}")
    if base.exists():
        usage = shutil.disk_usage(base)
        console.print(f"[bold]Free disk:[/bold] {human_bytes(usage.free)} of {human_bytes(usage.total)}")
    else:
        console.print("[dim]The base dir does not exist yet (created on first use).[/dim]")
    sessions = list_sessions(base, prefix)
    if not sessions:
        console.print(f"No sessions with prefix {prefix!r}: nothing to reclaim.")
        return
    table = Table("state", "session", "pid", "host", "age", "bytes")
    for info in sorted(sessions, key=lambda s: (s.state, s.path.name)):
        owner = info.owner
        table.add_row(
            info.state,
            info.path.name,
            str(owner.pid) if owner else "?",
            owner.host if owner else "?",
            _format_age(info.age),
            human_bytes(info.bytes),
        )
    console.print(table)
    dead = sum(s.state in ("dead", "garbage") for s in sessions)
    if dead:
        console.print(f"{dead} tree(s) can be reclaimed: run [bold]langflix temp sweep[/bold].")


@temp_app.command("sweep")
def sweep(
    base_dir: BaseDirOption = None,
    prefix: PrefixOption = DEFAULT_PREFIX,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Report what would be reclaimed; delete nothing.")] = False,
    min_age: Annotated[
        float,
        typer.Option("--min-age", help="Seconds of heartbeat silence that make a session unlockable here (NFS) stale."),
    ] = 0.0,
) -> None:
    """Reclaim the temp sessions of dead LangFlix processes; live ones are never touched."""
    started = time.perf_counter()
    try:
        report = sweep_orphans(_base_dir(base_dir), prefix, min_age=min_age, dry_run=dry_run)
    except TempFileError as exc:  # a base dir another user controls: the message says what to do
        Console(stderr=True).print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True, highlight=False)
        raise typer.Exit(1) from exc
    console = Console()
    console.print(f"{report.summary()} ({time.perf_counter() - started:.2f} s)")
    for error in report.errors:
        console.print(f"[red]error:[/red] {error}")
    if report.errors:
        raise typer.Exit(1)
