"""Time ``sweep_orphans`` against ``rm -rf`` on identical trees of dead sessions.

100,000 files in 1,000 dead sessions, reclaimed by the sweep
(lock probe, rename to ``garbage-``, fd-based delete) versus ``rm -rf`` of a tree
made the same way, in one run. Target: the sweep within 1.3x of ``rm -rf``.

Both trees are real sessions, made by managers in a child process that then
dies without any cleanup (``os._exit``: exactly what a SIGKILLed owner leaves),
with the files a job would make: nested scope directories holding small files. Run::

    .venv/bin/python benchmarks/bench_sweep.py [--sessions 1000] [--files 100] [--dir DIR]
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from langflix.temp import sweep_orphans

PREFIX = "langflix_"
# Sessions one child holds at once (one fd each), well under the usual 1,024-fd limit.
BATCH = 200

# Makes sessions in base, fills them, then dies without cleanup: the kernel
# drops its flocks, the trees stay.
_OWNER_THAT_DIES = """
import os, sys
from langflix.temp import TempFileManager
base, prefix, count, files, size = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:6])
payload = b"x" * size
managers = []
for _ in range(count):
    manager = TempFileManager(prefix=prefix, base_dir=base)
    root = manager.session_dir
    # A job scope with a nested step scope, like TempScope makes them.
    job = root / "job-1-abcd1234"
    step = job / "clip-2-efgh5678"
    step.mkdir(parents=True, mode=0o700)
    for i in range(files):
        where = root if i % 3 == 0 else job if i % 3 == 1 else step
        fd = os.open(where / f"{prefix}{i:05d}.bin", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, payload)
        os.close(fd)
    managers.append(manager)
os._exit(0)
"""


def build(base: Path, sessions: int, files: int, size: int) -> int:
    """Make ``sessions`` dead sessions of ``files`` files each; return the bytes written."""
    for start in range(0, sessions, BATCH):
        count = min(BATCH, sessions - start)
        args = [str(base), PREFIX, str(count), str(files), str(size)]
        subprocess.run([sys.executable, "-c", _OWNER_THAT_DIES, *args], check=True)
    return sessions * files * size


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=1000)
    parser.add_argument("--files", type=int, default=100, help="files per session")
    parser.add_argument("--size", type=int, default=512, help="bytes per file")
    parser.add_argument("--dir", type=Path, default=Path.cwd() / ".bench_sweep", help="work dir (removed after)")
    parser.add_argument("--rounds", type=int, default=1, help="repeat and report the best of each")
    args = parser.parse_args(argv)

    work = args.dir.resolve()
    if work.exists():
        print(f"{work} exists; remove it or pass another --dir", file=sys.stderr)
        return 2
    work.mkdir(parents=True)
    sweep_times: list[float] = []
    rm_times: list[float] = []
    try:
        for round_no in range(args.rounds):
            swept, removed = work / f"sweep-{round_no}", work / f"rm-{round_no}"
            written = build(swept, args.sessions, args.files, args.size)
            build(removed, args.sessions, args.files, args.size)
            os.sync()
            gc.collect()
            # Alternate the order so neither side always runs on the warmer cache.
            order = ("sweep", "rm") if round_no % 2 == 0 else ("rm", "sweep")
            for which in order:
                if which == "sweep":
                    start = time.perf_counter()
                    report = sweep_orphans(swept, PREFIX)
                    sweep_times.append(time.perf_counter() - start)
                    assert report.removed == args.sessions, report
                    assert not report.errors, report.errors
                    assert report.bytes_freed >= written, (report.bytes_freed, written)
                    assert not any(swept.iterdir()), "the sweep left something behind"
                else:
                    start = time.perf_counter()
                    subprocess.run(["rm", "-rf", str(removed)], check=True)
                    rm_times.append(time.perf_counter() - start)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    n_files = args.sessions * args.files
    best_sweep, best_rm = min(sweep_times), min(rm_times)
    print(f"tree: {args.sessions:,} dead sessions, {n_files:,} files ({args.size} B each), {os.cpu_count()} CPUs")
    print(f"sweep_orphans: {best_sweep:.3f} s  (rounds: {', '.join(f'{t:.3f}' for t in sweep_times)})")
    print(f"rm -rf:        {best_rm:.3f} s  (rounds: {', '.join(f'{t:.3f}' for t in rm_times)})")
    ratio = best_sweep / best_rm
    print(f"ratio sweep / rm -rf: {ratio:.2f}x (target <= 1.30x: {'met' if ratio <= 1.3 else 'MISSED'})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
