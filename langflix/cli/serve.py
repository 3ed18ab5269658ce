"""``langflix serve``: run the job API with uvicorn (the default) or granian (embedded).

One process either way; ``--workers`` is the number of *job* worker threads
(``LANGFLIX_WORKERS``), not server processes: jobs, their cancel handles and
their temp scopes live in this one process, which is what lets a DELETE stop
a job's ffmpeg and lets SIGTERM leave the temp dir empty. With
``LANGFLIX_REDIS_URL`` set the jobs go to ``langflix worker`` processes
instead, and Redis must answer at start. ``--http-server granian`` serves the
same app with granian embedded in this one process: it receives upload bodies
faster here (``benchmarks/bench_upload_servers.py``) but its embedded mode is
young, so uvicorn stays the default.
"""

from __future__ import annotations

import ipaddress
import logging
import signal
import socket
import threading
import time
from types import FrameType
from typing import Annotated, Final, Literal

import typer

from langflix.cli import app
from langflix.config import get_settings
from langflix.errors import ConfigError, LangFlixError

__all__ = [
    "GRACEFUL_SHUTDOWN_SECONDS",
    "HttpServer",
    "INSECURE_REFUSAL",
    "STARTUP_FAILURE",
    "is_local_address",
    "serve",
]

logger = logging.getLogger(__name__)

STARTUP_FAILURE: Final[int] = 3
INSECURE_REFUSAL: Final[int] = 2
"""Exit status when asked to listen beyond this machine without a token."""
GRACEFUL_SHUTDOWN_SECONDS: Final[int] = 10
"""How long in-flight requests (an upload) get before they are cancelled at shutdown."""

HttpServer = Literal["granian", "uvicorn"]


def _announce_when_accepting(host: str, port: int, url_host: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=1):
                break
        except OSError:
            time.sleep(0.02)
    typer.echo(f"LangFlix serving on http://{url_host}:{port} (granian)", err=True)


def _free_port(host: str) -> int:
    # granian binds in Rust and does not report a port 0 back: choose one here.
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as probe:
        probe.bind((host.strip("[]"), 0))
        return int(probe.getsockname()[1])


def is_local_address(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine (``127.0.0.0/8``, ``::1``, ``localhost``)."""
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _refuse_without_token(host: str) -> None:
    typer.echo(
        f"langflix serve: refusing to listen on {host} without a token: anyone who can reach that address "
        "could upload, cancel and delete jobs and download every output.\n"
        "Set one, then start again:\n"
        "  export LANGFLIX_API_TOKEN=\"$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')\"\n"
        "or keep it in a file only the server's user reads:  LANGFLIX_API_TOKEN_FILE=/etc/langflix/token\n"
        "Clients then send 'Authorization: Bearer <token>'; the dashboard asks for it at /login.\n"
        "To serve without any token anyway (a trusted network only), pass --insecure-no-auth.",
        err=True,
    )
    raise typer.Exit(code=INSECURE_REFUSAL)


def _check_redis(url: str | None) -> None:
    """Scaled out, Redis must answer before the server says it is up: say what to fix, not a traceback."""
    try:
        from langflix.api.scale.connection import connect, reachable
    except ImportError as exc:
        typer.echo(f"langflix serve: LANGFLIX_REDIS_URL is set but {exc}; pip install 'langflix[redis]'", err=True)
        raise typer.Exit(code=STARTUP_FAILURE) from None
    assert url is not None
    client = connect(url, patient=False)
    try:
        reachable(client, url)
    except LangFlixError as exc:
        typer.echo(f"langflix serve: {exc}", err=True)
        raise typer.Exit(code=STARTUP_FAILURE) from None
    finally:
        client.close()


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port (0: any free port).")] = 8000,
    workers: Annotated[
        int | None,
        typer.Option(min=1, help="Job worker threads.", show_default="LANGFLIX_WORKERS, else 2"),
    ] = None,
    log_level: Annotated[str, typer.Option(help="The HTTP server's log level.")] = "info",
    http_server: Annotated[
        HttpServer,
        typer.Option("--http-server", help="uvicorn, or granian (embedded; receives upload bodies faster)."),
    ] = "uvicorn",
    insecure_no_auth: Annotated[
        bool,
        typer.Option(
            "--insecure-no-auth",
            help="Serve on a non-local address without LANGFLIX_API_TOKEN: anyone who reaches it may use it.",
        ),
    ] = False,
) -> None:
    """Serve the LangFlix job API under /api/v1 and its dashboard at /; SIGTERM or Ctrl-C stops it cleanly.

    With LANGFLIX_API_TOKEN (or LANGFLIX_API_TOKEN_FILE) set, every API call
    needs 'Authorization: Bearer <token>' and the dashboard a login. Without
    one it listens only on a local address, unless --insecure-no-auth.

    At start: orphaned temp sessions of dead processes are reclaimed and jobs a
    dead server left running are marked failed. At stop: no new job is taken,
    running jobs are cancelled, their temp files removed; the exit status is 0.
    """
    from langflix.api.app import create_app
    from langflix.api.serving import LangFlixServer, serve_with_granian, uvicorn_config

    try:
        settings = get_settings()
    except ConfigError as exc:
        typer.echo(f"langflix serve: {exc}", err=True)
        raise typer.Exit(code=STARTUP_FAILURE) from None
    allowed_without_token = insecure_no_auth or settings.insecure_no_auth or is_local_address(host)
    if settings.access_token() is None and not allowed_without_token:
        _refuse_without_token(host)
    if settings.scaled_out:
        _check_redis(settings.redis_url)
    if workers is not None:
        settings = settings.model_copy(update={"workers": workers})
    if insecure_no_auth:
        settings = settings.model_copy(update={"insecure_no_auth": True})
        if settings.access_token() is None:
            logger.warning("serving on %s without a token (--insecure-no-auth): anyone who reaches it may use it", host)
    application = create_app(settings)
    if http_server == "granian":
        bound = port or _free_port(host)
        url_host = f"[{host}]" if ":" in host and not host.startswith("[") else host

        def announce() -> None:
            # The app has started; granian's listener opens just after: say so once it accepts.
            threading.Thread(
                target=_announce_when_accepting, args=(host.strip("[]"), bound, url_host), daemon=True
            ).start()

        started = serve_with_granian(
            application,
            host.strip("[]"),
            bound,
            log_level=log_level,
            graceful_seconds=GRACEFUL_SHUTDOWN_SECONDS,
            on_started=announce,
        )
        if not started:
            raise typer.Exit(code=STARTUP_FAILURE)  # e.g. the job store is locked; the log says why
        return
    config = uvicorn_config(
        application,
        host=host,
        port=port,
        log_level=log_level,
        lifespan="on",
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )
    server = LangFlixServer(config, application)

    # uvicorn handles SIGTERM/SIGINT while it runs (graceful shutdown, which
    # cancels the jobs and empties the temp dir through the app's lifespan) and
    # afterwards re-raises the signal to the handler it found. Without this, that
    # would be the generic exit-on-signal handler and a clean shutdown would end
    # with status 143. A signal that arrives just before uvicorn takes over asks
    # the server to stop instead of being lost.
    def _graceful(signum: int, frame: FrameType | None) -> None:
        server.should_exit = True

    # SIGHUP (uvicorn ignores it) takes the same graceful path instead of the
    # generic handler, which would exit with jobs' ffmpeg children still running.
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
    for sig in previous:
        signal.signal(sig, _graceful)
    try:
        server.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if not server.started:
        raise typer.Exit(code=STARTUP_FAILURE)  # e.g. the job store is locked; uvicorn logged why
