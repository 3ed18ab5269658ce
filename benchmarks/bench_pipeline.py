"""Benchmark: the whole pipeline against the cost of encoding its output once.

Generates a sample episode (default 10 minutes, 1280x720, test pattern + espeak-ng
speech of idiomatic lines at known times), runs :class:`LangFlixPipeline` on it
with 5 expressions at the default output format, and prints, in one run:

* the pipeline's wall time (subtitles to published outputs);
* the floor: the time one ffmpeg takes to encode the pipeline's own total lesson
  duration once, from the same episode, with the same size, codecs and settings
  (the least any tool must spend to produce that much video);
* their ratio (target <= 1.5): what cutting, title cards, speech, probing,
  joining and publishing cost on top of the unavoidable encode;
* the peak bytes the job's temp scope held (sampled at every step and by a
  20 Hz watcher on the job's own manager).

The compilation is a stream copy of the lessons, so it is not counted in the
floor's duration (counting it would halve the ratio for nothing). Everything
lives in TempFileManager scopes and is removed at exit.

    .venv/bin/python benchmarks/bench_pipeline.py [--duration 600] [--expressions 5]
        [--size 1280x720] [--preset veryfast] [--temp-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import threading
import time
from pathlib import Path
from typing import Final

from langflix.config import Settings
from langflix.core.ffmpeg import run_ffmpeg
from langflix.core.video_editor import OutputFormat
from langflix.demo import make_sample_episode
from langflix.main import LangFlixPipeline, PipelineOptions, ProgressEvent
from langflix.temp import TempFileManager

TARGET_RATIO: Final[float] = 1.5


def _human(nbytes: int) -> str:
    size = float(nbytes)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def _cpu_seconds() -> float:
    """CPU time (user + system) of this process and its reaped children (ffmpeg & co)."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _floor_seconds(video: Path, seconds: float, fmt: OutputFormat, out: Path) -> float:
    """Wall time of one encode of ``seconds`` of the episode, at ``fmt``, like the editor's."""
    w, h = fmt.width, fmt.height
    started = time.monotonic()
    run_ffmpeg(
        [
            "-i", str(video), "-t", f"{seconds:.3f}",
            "-map", "0:v:0", "-map", "0:a:0",
            "-vf", f"fps={fmt.fps},scale={w}:{h}:force_original_aspect_ratio=decrease,"
                   f"pad={w}:{h}:(ow-iw)/2:(oh-ih)/2,format=yuv420p",
            "-af", f"aresample={fmt.sample_rate}",
            "-c:v", "libx264", "-preset", fmt.preset, "-crf", str(fmt.crf), "-pix_fmt", "yuv420p",
            "-c:a", "aac", "-b:a", "128k", "-ar", str(fmt.sample_rate), "-ac", "2",
            "-f", "mp4", str(out),
        ]  # fmt: skip
    )
    return time.monotonic() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=600.0, help="episode length in seconds")
    parser.add_argument("--expressions", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--size", default="1280x720")
    parser.add_argument("--preset", default="veryfast", help="x264 preset of the outputs")
    parser.add_argument("--temp-dir", type=Path, default=None, help="base dir for temp files")
    args = parser.parse_args(argv)
    width, height = (int(x) for x in args.size.split("x"))
    fmt = OutputFormat(width=width, height=height, preset=args.preset)

    # Two managers: the episode and outputs in one, the job alone in the other, so the
    # job manager's peak is the job scope's peak and nothing else.
    with TempFileManager(prefix="langflix_bench_", base_dir=args.temp_dir) as work, TempFileManager(
        prefix="langflix_benchjob_", base_dir=args.temp_dir
    ) as jobs:
        print(f"generating a {args.duration:.0f} s {width}x{height} sample episode ...", flush=True)
        t0 = time.monotonic()
        video, srt = make_sample_episode(
            work.new_dir(), duration=args.duration, width=width, height=height, manager=work
        )
        print(f"  made in {time.monotonic() - t0:.1f} s: {video.name} + {srt.name}")

        peak = 0
        stop = threading.Event()

        def watch() -> None:
            nonlocal peak
            while not stop.wait(0.05):
                peak = max(peak, jobs.stats().live_bytes)

        steps: dict[str, float] = {}
        last = [time.monotonic(), "start"]

        def progress(event: ProgressEvent) -> None:
            now = time.monotonic()
            steps[str(last[1])] = steps.get(str(last[1]), 0.0) + now - float(last[0])
            last[:] = [now, event.step]

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        options = PipelineOptions(
            max_expressions=args.expressions, repeat=args.repeat, output_format=fmt
        )
        started, cpu_started = time.monotonic(), _cpu_seconds()
        result = LangFlixPipeline(
            video,
            srt,
            work.new_dir(),
            options,
            manager=jobs,
            settings=Settings(llm_base_url=None),
            progress=progress,
        ).run()
        wall = time.monotonic() - started
        cpu = _cpu_seconds() - cpu_started
        stop.set()
        watcher.join()
        steps[str(last[1])] = steps.get(str(last[1]), 0.0) + time.monotonic() - float(last[0])
        peak = max(peak, result.peak_temp_bytes)
        left = [p for p in jobs.path.rglob("*") if p.name != ".owner"]

        manifest = json.loads(result.manifest.read_text(encoding="utf-8"))
        lesson_seconds = sum(item["duration"] for item in manifest["expressions"])
        # The floor is measured twice and averaged: on a shared machine one lucky or
        # unlucky run would decide the ratio on its own.
        floors: list[float] = []
        cpu_floors: list[float] = []
        for _ in range(2):
            floor_out = work.new_file(suffix=".mp4")
            cpu_floor_started = _cpu_seconds()
            floors.append(_floor_seconds(video, lesson_seconds, fmt, floor_out))
            cpu_floors.append(_cpu_seconds() - cpu_floor_started)
            work.release(floor_out)
        floor = sum(floors) / len(floors)
        cpu_floor = sum(cpu_floors) / len(cpu_floors)

    ratio = wall / floor
    print()
    print(f"episode            {args.duration:.0f} s at {width}x{height}, "
          f"{len(result.videos)} expressions, repeat {args.repeat}, preset {args.preset}")
    print(f"lessons            {lesson_seconds:.1f} s of video "
          f"(+ {manifest['compilation']['duration']:.1f} s compilation, stream copy)")
    print(f"pipeline wall time {wall:.2f} s")
    print(f"floor (one encode) {floor:.2f} s for {lesson_seconds:.1f} s at the same settings "
          f"(runs: {', '.join(f'{f:.2f}' for f in floors)})")
    print(f"ratio              {ratio:.2f}  (target <= {TARGET_RATIO})")
    # CPU time does not depend on what else the machine runs: the fairer figure on a busy box.
    print(f"cpu time           pipeline {cpu:.2f} s, floor {cpu_floor:.2f} s, ratio {cpu / cpu_floor:.2f}")
    print(f"load average       {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"peak scope bytes   {peak} ({_human(peak)})")
    print(f"temp files left    {len(left)}")
    print("time per step      " + ", ".join(f"{k} {v:.1f} s" for k, v in steps.items() if k != "start"))
    return 0 if ratio <= TARGET_RATIO and not left else 1


if __name__ == "__main__":
    sys.exit(main())
