"""The live processes of this machine, read from ``/proc`` (Linux).

Tests use it to check that no ffmpeg/ffprobe/espeak-ng child outlives a job and
that a killed process group is really gone.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Process", "child_pids", "children", "encoder_of", "gone_within", "processes", "when_encoding"]


@dataclass(frozen=True)
class Process:
    """One line of ``/proc/<pid>/stat``, the fields the tests need."""

    pid: int
    comm: str
    state: str
    ppid: int
    pgid: int


def processes() -> list[Process]:
    """Every process in ``/proc`` (zombies included; one that exits meanwhile is skipped)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # exited meanwhile
        # "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses.
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        found.append(Process(int(entry.name), comm, fields[0], int(fields[1]), int(fields[2])))
    return found


def children(parent: int | None = None) -> list[Process]:
    """The live children (zombies included) of ``parent``, by default this process."""
    me = os.getpid() if parent is None else parent
    return [p for p in processes() if p.ppid == me]


def child_pids(name_prefix: str) -> list[int]:
    """PIDs of this process's children (zombies included) whose command starts with ``name_prefix``."""
    return [p.pid for p in children() if p.comm.startswith(name_prefix)]


def _encodes(pid: int) -> bool:
    try:
        return b"libx264" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def encoder_of(parent: int, *, within: float = 60.0) -> int:
    """The pid of the first child ffmpeg of ``parent`` that is encoding (libx264 on its command line)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        for child in children(parent):
            if child.comm == "ffmpeg" and child.state != "Z" and _encodes(child.pid):
                return child.pid
        time.sleep(0.002)
    raise AssertionError(f"pid {parent} started no encoding ffmpeg within {within} s")


def gone_within(pid: int, seconds: float) -> bool:
    """Whether ``pid`` ends (gone, or a zombie nobody reaps yet) within ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return True
        if stat[stat.rindex(")") + 2] == "Z":
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.01)


def when_encoding(action: Callable[[int], None], *, within: float = 60.0) -> threading.Thread:
    """Call ``action(pid)`` from a thread as soon as a child ffmpeg is encoding (libx264 on its command line)."""

    def watch() -> None:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            for child in children():
                if child.comm != "ffmpeg":
                    continue
                try:
                    cmdline = Path(f"/proc/{child.pid}/cmdline").read_bytes()
                except OSError:
                    continue
                if b"libx264" in cmdline:
                    action(child.pid)
                    return
            time.sleep(0.002)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread
