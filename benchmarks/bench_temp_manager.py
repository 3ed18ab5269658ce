"""Create+cleanup throughput of TempFileManager vs bare mkstemp vs the ticket's list-based sketch.

All measured in one run, interleaved: cycles per second of

* ours: ``with manager.create_temp_file(): pass``;
* bare: ``tempfile.mkstemp`` + ``os.close`` + ``os.unlink`` in one directory;
* list: a manager shaped like the ticket's sketch (``self.temp_files`` a list,
  ``append`` on create, ``remove`` on exit, ``@contextmanager`` and
  ``NamedTemporaryFile``), copied below as ``SketchManager``;

each with 100 and with 20,000 live ``delete=False`` files already tracked.
Targets: ours within 1.2x of bare at 100 live files, and flat from 100 to
20,000 relative to bare (ours/bare at 20,000 within 1.2x of ours/bare at 100;
the list-based sketch is quadratic: each exit searches the list). The exit
status is 0 when both targets are met. Run::

    .venv/bin/python benchmarks/bench_temp_manager.py [--dir DIR] [--ops 2000] [--rounds 5]

``--dir`` on a tmpfs (e.g. ``/dev/shm/x``) takes the disk out and shows the pure
Python overhead; on a disk, file creation itself dominates every figure.
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Generator
from contextlib import contextmanager
from pathlib import Path

from langflix.temp import TempFileManager

LIVE_COUNTS = (100, 20_000)
TARGET = 1.2


class SketchManager:
    """The ticket's sketch, reduced to what the benchmark runs (same shape, same costs)."""

    def __init__(self, prefix: str = "langflix_", base_dir: Path | None = None) -> None:
        self.prefix = prefix
        self.base_dir = Path(base_dir) if base_dir else Path(tempfile.gettempdir())
        self.temp_files: list[Path] = []
        self.temp_dirs: list[Path] = []

    @contextmanager
    def create_temp_file(
        self, suffix: str = "", prefix: str | None = None, delete: bool = True
    ) -> Generator[Path, None, None]:
        file_prefix = prefix or self.prefix
        try:
            with tempfile.NamedTemporaryFile(delete=False, suffix=suffix, prefix=file_prefix, dir=self.base_dir) as f:
                temp_path = Path(f.name)
                self.temp_files.append(temp_path)
            yield temp_path
        finally:
            if delete and temp_path.exists():
                try:
                    temp_path.unlink()
                    self.temp_files.remove(temp_path)
                except Exception as e:  # noqa: BLE001 - the sketch's own handling
                    print(f"Failed to cleanup temp file {temp_path}: {e}", file=sys.stderr)

    def cleanup_all(self) -> None:
        for temp_file in self.temp_files[:]:
            if temp_file.exists():
                temp_file.unlink()
        self.temp_files.clear()


def _timed(cycle: Callable[[], None], ops: int) -> float:
    """Seconds for ``ops`` calls of ``cycle`` (GC off, as timeit does)."""
    # Flush the previous run's writeback first (20,000 creates and deletes on a
    # disk): otherwise it lands on whichever implementation happens to run next.
    os.sync()
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter()
        for _ in range(ops):
            cycle()
        return time.perf_counter() - start
    finally:
        gc.enable()


def bench_ours(work: Path, live: int, ops: int) -> float:
    manager = TempFileManager(base_dir=work / "ours")
    try:
        for _ in range(live):
            with manager.create_temp_file(delete=False):
                pass
        assert len(manager.temp_files) == live

        def cycle() -> None:
            with manager.create_temp_file():
                pass

        seconds = _timed(cycle, ops)
        assert len(manager.temp_files) == live
        return ops / seconds
    finally:
        manager.close()


def bench_bare(work: Path, live: int, ops: int) -> float:
    where = work / "bare"
    where.mkdir(mode=0o700)
    try:
        for _ in range(live):
            fd, _name = tempfile.mkstemp(prefix="langflix_", dir=where)
            os.close(fd)

        def cycle() -> None:
            fd, name = tempfile.mkstemp(prefix="langflix_", dir=where)
            os.close(fd)
            os.unlink(name)

        return ops / _timed(cycle, ops)
    finally:
        shutil.rmtree(where)


def bench_list(work: Path, live: int, ops: int) -> float:
    where = work / "list"
    where.mkdir(mode=0o700)
    manager = SketchManager(base_dir=where)
    try:
        for _ in range(live):
            with manager.create_temp_file(delete=False):
                pass

        def cycle() -> None:
            with manager.create_temp_file():
                pass

        seconds = _timed(cycle, ops)
        assert len(manager.temp_files) == live
        return ops / seconds
    finally:
        manager.cleanup_all()
        shutil.rmtree(where)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=Path.cwd() / ".bench_temp_manager", help="work dir (removed after)")
    parser.add_argument("--ops", type=int, default=2000, help="create+cleanup cycles per measurement")
    parser.add_argument("--list-ops", type=int, default=500, help="cycles for the (slow) list-based sketch")
    parser.add_argument("--rounds", type=int, default=5, help="best of this many rounds per figure")
    args = parser.parse_args(argv)

    work = args.dir.resolve()
    if work.exists():
        parser.error(f"{work} exists; pass a --dir that does not (it is removed afterwards)")
    work.mkdir(parents=True, mode=0o700)
    rates: dict[tuple[str, int], float] = {}
    try:
        # Interleaved rounds (every implementation at every live count, then
        # again): load from other processes hits all figures alike, and the
        # best of the rounds is kept, as timeit does.
        for _ in range(args.rounds):
            for live in LIVE_COUNTS:
                for name, bench, ops in (
                    ("ours", bench_ours, args.ops),
                    ("bare", bench_bare, args.ops),
                    ("list", bench_list, args.list_ops),
                ):
                    rate = bench(work, live, ops)
                    rates[name, live] = max(rate, rates.get((name, live), 0.0))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    lo, hi = LIVE_COUNTS
    print(f"create+cleanup cycles per second (best of {args.rounds}; work dir {work})")
    print(f"{'implementation':<34}{f'{lo} live':>14}{f'{hi:,} live':>14}{'cost x':>9}")
    labels = {
        "ours": "TempFileManager (ours)",
        "bare": "bare mkstemp+close+unlink",
        "list": "list-based sketch (ticket)",
    }
    for name, label in labels.items():
        slow = rates[name, lo] / rates[name, hi]
        print(f"{label:<34}{rates[name, lo]:>14,.0f}{rates[name, hi]:>14,.0f}{slow:>8.2f}x")
    print()
    at_lo = rates["bare", lo] / rates["ours", lo]
    at_hi = rates["bare", hi] / rates["ours", hi]
    flat = at_hi / at_lo  # how much worse ours gets than bare from lo to hi live files
    own = rates["ours", lo] / rates["ours", hi]
    quad = rates["list", lo] / rates["list", hi]
    fast_ok, flat_ok = at_lo <= TARGET, flat <= TARGET
    print(f"ours vs bare mkstemp, cost ratio at {lo} live:    {at_lo:.2f}x  (target <= {TARGET}x) "
          f"{'OK' if fast_ok else 'MISSED'}")
    print(f"ours vs bare mkstemp, cost ratio at {hi:,} live: {at_hi:.2f}x")
    print(f"that ratio at {hi:,} live / at {lo} live:        {flat:.2f}x  (target: flat, <= {TARGET}x) "
          f"{'OK' if flat_ok else 'NOT FLAT'}")
    print(f"ours alone, cost at {hi:,} live / at {lo} live:  {own:.2f}x")
    print(f"list sketch, cost at {hi:,} live / at {lo} live: {quad:.2f}x  (quadratic over a run)")
    print(f"ours vs list sketch at {hi:,} live:             {rates['ours', hi] / rates['list', hi]:.1f}x faster")
    return 0 if fast_ok and flat_ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
