"""``langflix temp status|sweep``: see and reclaim temp sessions on this machine, and the shared staging scaled out."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from langflix.cli import app
from langflix.config import get_settings
from langflix.errors import ConfigError, LangFlixError, TempFileError
from langflix.temp import (
    DEFAULT_PREFIX,
    SweepReport,
    default_base_dir,
    human_bytes,
    list_leased,
    list_sessions,
    sweep_leased,
    sweep_orphans,
)

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
    """Show the base dir, its sessions (live, dead, garbage), free disk space and, scaled out, the shared staging."""
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
    else:
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
    _shared_status(console, prefix)


def _shared_status(console: Console, prefix: str) -> None:
    """Scaled out (LANGFLIX_REDIS_URL set): the shared dir's staging, each area with its owner and age."""
    try:
        settings = get_settings()
    except LangFlixError as exc:  # the local part is shown; this says why the shared one is not
        console.print(f"[yellow]Shared staging not shown:[/yellow] {escape(str(exc))}", soft_wrap=True)
        return
    if not settings.scaled_out or settings.redis_url is None:
        return
    staging = settings.staging_dir()
    try:
        from langflix.api.scale.connection import connect
        from langflix.api.scale.leases import RedisLeaseChecker
    except ImportError as exc:
        console.print(f"[yellow]Shared staging not shown:[/yellow] {exc}; install 'langflix[redis]'")
        return
    client = connect(settings.redis_url, patient=False)
    try:
        areas = list_leased(staging, RedisLeaseChecker(client, settings.redis_url), prefix)
    finally:
        client.close()
    console.print(f"[bold]Shared staging:[/bold] {staging}")
    if not areas:
        console.print("No staging areas or uploads: nothing to reclaim.")
        return
    table = Table("state", "area", "name", "owner", "age", "bytes")
    for info in sorted(areas, key=lambda s: (s.state, s.path.name)):
        table.add_row(
            info.state, info.area, info.path.name, info.holder or "?", _format_age(info.age), human_bytes(info.bytes)
        )
    console.print(table)
    if any(s.state == "unknown" for s in areas):
        console.print("Some owners could not be checked (is Redis reachable at LANGFLIX_REDIS_URL?): they are kept.")
    gone = sum(s.state in ("expired", "garbage") for s in areas)
    if gone:
        console.print(f"{gone} area(s) can be reclaimed: run [bold]langflix temp sweep --shared[/bold].")


def _fail(message: str) -> NoReturn:
    Console(stderr=True).print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True, highlight=False)
    raise typer.Exit(1)


def _sweep_shared(prefix: str, dry_run: bool) -> SweepReport:
    """The shared dir's staging areas whose lease is abandoned, checked against the jobs in Redis."""
    try:
        settings = get_settings()
    except LangFlixError as exc:
        _fail(str(exc))
    if not settings.scaled_out or settings.redis_url is None:
        _fail("--shared sweeps LANGFLIX_SHARED_DIR against the leases in Redis: set LANGFLIX_REDIS_URL and "
              "LANGFLIX_SHARED_DIR as the API servers and workers have them")  # fmt: skip
    try:
        from langflix.api.scale.connection import connect, reachable
        from langflix.api.scale.leases import RedisLeaseChecker
    except ImportError as exc:
        _fail(f"{exc}; install the scale-out extra: pip install 'langflix[redis]'")
    client = connect(settings.redis_url, patient=False)
    try:
        reachable(client, settings.redis_url)
        return sweep_leased(
            settings.staging_dir(), RedisLeaseChecker(client, settings.redis_url), prefix, dry_run=dry_run
        )
    except LangFlixError as exc:
        _fail(str(exc))
    finally:
        client.close()


@temp_app.command("sweep")
def sweep(
    base_dir: BaseDirOption = None,
    prefix: PrefixOption = DEFAULT_PREFIX,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Report what would be reclaimed; delete nothing.")] = False,
    min_age: Annotated[
        float,
        typer.Option("--min-age", help="Seconds of heartbeat silence that make a session unlockable here (NFS) stale."),
    ] = 0.0,
    shared: Annotated[
        bool,
        typer.Option(
            "--shared",
            help="Sweep the staging areas of LANGFLIX_SHARED_DIR instead: those whose job's lease (in "
            "LANGFLIX_REDIS_URL) expired and whose job is finished or unknown. Any host may run it.",
        ),
    ] = False,
) -> None:
    """Reclaim the temp sessions of dead LangFlix processes; live ones are never touched."""
    started = time.perf_counter()
    if shared:
        report = _sweep_shared(prefix, dry_run)
    else:
        try:
            report = sweep_orphans(_base_dir(base_dir), prefix, min_age=min_age, dry_run=dry_run)
        except TempFileError as exc:  # a base dir another user controls: the message says what to do
            _fail(str(exc))
    console = Console()
    console.print(f"{report.summary()} ({time.perf_counter() - started:.2f} s)")
    for error in report.errors:
        console.print(f"[red]error:[/red] {error}")
    if report.errors:
        raise typer.Exit(1)
