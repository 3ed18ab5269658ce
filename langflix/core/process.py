"""The one subprocess helper: run a command, never leave it running.

Every external tool LangFlix starts (ffmpeg, ffprobe, espeak-ng) goes through
:func:`run_process`, so there is exactly one place that decides how a child is
started (argument list, stdin closed), how its output is captured (stderr kept
as a bounded tail) and how it is stopped (terminate, wait, kill, reap) on a
timeout, a cancellation, Ctrl-C or any other exception.
"""

from __future__ import annotations

import logging
import os
import re
import selectors
import shlex
import signal
import subprocess
import time
from collections.abc import Sequence
from typing import Final

from langflix.cancel import CancelToken
from langflix.errors import CancelledError, LangFlixError

__all__ = ["STDERR_TAIL_BYTES", "STDERR_TAIL_LINES", "run_process", "tool_version"]

logger = logging.getLogger(__name__)

STDERR_TAIL_BYTES: Final[int] = 64 * 1024
"""Bytes of stderr kept in memory: a chatty tool cannot exhaust memory through us."""

STDERR_TAIL_LINES: Final[int] = 15
"""Lines of stderr quoted in an error message."""

_POLL_SECONDS: Final[float] = 0.05
_TERMINATE_GRACE: Final[float] = 3.0
_READ_CHUNK: Final[int] = 64 * 1024
_ORPHAN_PIPE_GRACE: Final[float] = 2.0
_VERSION_TIMEOUT: Final[float] = 10.0


def run_process(
    cmd: Sequence[str | os.PathLike[str]],
    *,
    timeout: float | None = None,
    cancel: CancelToken | None = None,
    error_cls: type[LangFlixError] = LangFlixError,
    install_hint: str | None = None,
    terminate_grace: float = _TERMINATE_GRACE,
) -> subprocess.CompletedProcess[bytes]:
    """Run ``cmd`` to completion and return its captured output.

    Raises ``error_cls`` on a non-zero exit (quoting the command and the last
    lines of stderr, also kept alone in its ``stderr_tail`` attribute), on a
    timeout and when the binary is missing;
    :class:`~langflix.errors.CancelledError` when ``cancel`` fires. In every
    failure path the child has exited and been reaped before this returns:
    callers may delete the files it was writing straight away.
    """
    if isinstance(cmd, (str, bytes)):
        # A string would need a shell (quoting bugs, injection): refuse it early.
        raise TypeError("run_process takes an argument list, not a shell string")
    args = [os.fspath(part) for part in cmd]
    if not args:
        raise ValueError("run_process needs a command")
    shown = shlex.join(args)
    if cancel is not None:
        # Do not even start work that nobody wants any more.
        cancel.raise_if_cancelled()
    logger.debug("run: %s", shown)

    try:
        proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
    except FileNotFoundError as exc:
        hint = install_hint or f"install {args[0]} or put it on PATH"
        raise error_cls(f"{args[0]} is not installed: {hint}") from exc
    except PermissionError as exc:
        raise error_cls(
            f"{args[0]} cannot be executed (permission denied): check the path and its mode"
        ) from exc

    started = time.monotonic()
    deadline = None if timeout is None else started + timeout
    stdout = bytearray()
    stderr = bytearray()
    try:
        outcome = _pump(proc, stdout, stderr, deadline, cancel)
        if outcome != "done":
            # Stop before closing our pipe ends: a child killed by SIGPIPE
            # mid-write would not get its polite SIGTERM shutdown.
            _stop(proc, terminate_grace)
    except BaseException:
        # KeyboardInterrupt, MemoryError, a bug in a cancel token...: the child
        # must not outlive this call, whatever went wrong while we waited.
        _kill_and_reap(proc)
        raise
    finally:
        _close_pipes(proc)

    if outcome == "timeout":
        raise _error(
            error_cls,
            f"{shown} timed out after {timeout:g} s and was stopped"
            f"{_format_tail(stderr, prefix=': ')}",
            stderr,
        )
    if outcome == "cancelled":
        assert cancel is not None
        raise CancelledError(f"{cancel.reason}: stopped {args[0]} (pid {proc.pid})")

    returncode = proc.returncode
    elapsed = time.monotonic() - started
    logger.debug("exit %s after %.2f s: %s", returncode, elapsed, shown)
    if returncode != 0:
        raise _error(
            error_cls,
            f"{shown} failed with {_describe_exit(returncode)}"
            f"{_format_tail(stderr, prefix=': ', empty=' (no error output)')}",
            stderr,
        )
    return subprocess.CompletedProcess(args, returncode, bytes(stdout), bytes(stderr))


def _pump(
    proc: subprocess.Popen[bytes],
    stdout: bytearray,
    stderr: bytearray,
    deadline: float | None,
    cancel: CancelToken | None,
) -> str:
    """Read both pipes until the child exits; 'done', 'timeout' or 'cancelled'.

    One selector loop instead of ``communicate()``: it lets us poll the cancel
    token and bound stderr, and it cannot deadlock on a full pipe because both
    pipes are always drained.
    """
    assert proc.stdout is not None and proc.stderr is not None
    sinks = {proc.stdout.fileno(): stdout, proc.stderr.fileno(): stderr}
    err_fd = proc.stderr.fileno()
    exited_at: float | None = None
    with selectors.DefaultSelector() as sel:
        for fd in sinks:
            sel.register(fd, selectors.EVENT_READ)
        while True:
            if cancel is not None and cancel.cancelled:
                return "cancelled"
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                return "timeout"
            wait = _POLL_SECONDS if cancel is not None else 1.0
            if deadline is not None:
                wait = min(wait, max(deadline - now, 0.0))
            if sel.get_map() and exited_at is not None and now - exited_at > _ORPHAN_PIPE_GRACE:
                # The child exited but a grandchild it left behind still holds the
                # pipes open: do not wait for that stranger, keep what we have.
                for registered in list(sel.get_map()):
                    sel.unregister(registered)
            if sel.get_map():
                if exited_at is None and proc.poll() is not None:
                    exited_at = now
                for key, _ in sel.select(wait):
                    chunk = os.read(key.fd, _READ_CHUNK)
                    if not chunk:
                        sel.unregister(key.fd)
                        continue
                    sink = sinks[key.fd]
                    sink += chunk
                    if key.fd == err_fd and len(sink) > STDERR_TAIL_BYTES:
                        del sink[: len(sink) - STDERR_TAIL_BYTES]
            else:
                # Both pipes closed: only the exit status is left to collect.
                try:
                    proc.wait(wait)
                except subprocess.TimeoutExpired:
                    continue
                return "done"


def _stop(proc: subprocess.Popen[bytes], grace: float) -> None:
    """Terminate politely (ffmpeg closes its output), then kill; always reap."""
    if proc.poll() is None:
        try:
            proc.terminate()
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            logger.warning("pid %s ignored SIGTERM for %.1f s; killing it", proc.pid, grace)
        except BaseException:
            _kill_and_reap(proc)
            raise
    _kill_and_reap(proc)


def _kill_and_reap(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the child if it still runs and wait for it, so no zombie is left."""
    if proc.poll() is None:
        try:
            proc.kill()
        except ProcessLookupError:  # exited between poll() and kill()
            pass
    # A second Ctrl-C while we reap must not leave a zombie: retry the wait.
    while True:
        try:
            proc.wait()
            return
        except KeyboardInterrupt:
            continue


def _close_pipes(proc: subprocess.Popen[bytes]) -> None:
    for pipe in (proc.stdout, proc.stderr):
        if pipe is not None:
            pipe.close()


def _error(error_cls: type[LangFlixError], message: str, stderr: bytearray) -> LangFlixError:
    """Build the error; ``stderr_tail`` lets a caller quote the tool without the command."""
    exc = error_cls(message)
    exc.stderr_tail = _format_tail(stderr, prefix="")  # type: ignore[attr-defined]
    return exc


def _describe_exit(returncode: int) -> str:
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"{name} (exit code {returncode})"
    return f"exit code {returncode}"


def _format_tail(stderr: bytes | bytearray, *, prefix: str, empty: str = "") -> str:
    """The last lines of stderr, decoded leniently, for an error message."""
    text = bytes(stderr).decode("utf-8", errors="replace").strip()
    if not text:
        return empty
    lines = [line.rstrip() for line in text.splitlines() if line.strip()]
    return prefix + "\n".join(lines[-STDERR_TAIL_LINES:])


def tool_version(cmd: Sequence[str], pattern: str, *, timeout: float = _VERSION_TIMEOUT) -> str | None:
    """The version ``pattern`` finds in the first line ``cmd`` prints; None when it cannot run."""
    try:
        result = run_process(cmd, timeout=timeout)
    except LangFlixError:
        return None
    first_line = result.stdout.decode("utf-8", "replace").strip().splitlines()[:1]
    match = re.search(pattern, first_line[0]) if first_line else None
    return match.group(1) if match else None
