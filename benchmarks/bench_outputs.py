"""Benchmark: what each output kind adds to a job, and all of them against the distinct-footage floor.

Generates a sample episode (default 2 minutes, 1280x720, test pattern + espeak-ng
speech of idiomatic lines, its Korean SRT), then runs :class:`LangFlixPipeline` on
it for each output set, in one run on the same machine:

* ``lessons``                      the baseline;
* ``lessons,shorts``               + a vertical short per expression (default 1080x1920);
* ``lessons,shorts,deck``          + the Anki deck (audio and screenshot per expression);
* ``lessons,shorts,deck,compilation`` everything (the default of a job);

and prints each one's wall and CPU time (this process and every ffmpeg/espeak-ng it
ran; each set twice, the second pass in reverse order, averaged) and its ratio to
the baseline (shorts + deck against lessons only), the share of the full job each
output kind adds, and the full job against the floor of encoding the distinct
footage once: each lesson's card, context and expression clip at the lesson format
plus each short's footage (context and clip) at the short's size, one ffmpeg each
from the same episode with the same x264 settings (measured twice, averaged). The
floor burns no subtitles and draws no text; the pipeline does both. Everything lives in TempFileManager scopes
and is removed at exit.

    .venv/bin/python benchmarks/bench_outputs.py [--duration 120] [--expressions 5]
        [--size 1280x720] [--shorts-size 1080x1920] [--preset veryfast] [--passes 2] [--temp-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any, Final

from langflix.config import Settings
from langflix.core.ffmpeg import FFmpegTools
from langflix.core.output_format import OutputFormat, ShortFormat
from langflix.demo import make_sample_episode, write_translation_srt
from langflix.pipeline import LangFlixPipeline, PipelineOptions
from langflix.temp import TempFileManager

OUTPUT_SETS: Final[tuple[str, ...]] = (
    "lessons",
    "lessons,shorts",
    "lessons,shorts,deck",
    "lessons,shorts,deck,compilation",
)


def cpu_seconds() -> float:
    """CPU time (user + system) of this process and its reaped children (ffmpeg & co)."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def encode(video: Path, seconds: float, fmt: OutputFormat, width: int, height: int, out: Path) -> tuple[float, float]:
    """Wall and CPU time of one encode of ``seconds`` of the episode at ``width`` x ``height``."""
    cpu, started = cpu_seconds(), time.monotonic()
    FFmpegTools().run(
        [
            "-i", str(video), "-t", f"{seconds:.3f}", "-map", "0:v:0", "-map", "0:a:0",
            "-vf", f"fps={fmt.fps},scale={width}:{height}:force_original_aspect_ratio=decrease,"
                   f"pad={width}:{height}:(ow-iw)/2:(oh-ih)/2,format=yuv420p",
            "-af", f"aresample={fmt.sample_rate}",
            "-c:v", "libx264", "-preset", fmt.preset, "-crf", str(fmt.crf), "-pix_fmt", "yuv420p",
            "-c:a", "aac", "-b:a", "128k", "-ar", str(fmt.sample_rate), "-ac", "2", "-f", "mp4", str(out),
        ]  # fmt: skip
    )
    return time.monotonic() - started, cpu_seconds() - cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=120.0, help="episode length in seconds")
    parser.add_argument("--expressions", type=int, default=5)
    parser.add_argument("--size", default="1280x720")
    parser.add_argument("--shorts-size", default="1080x1920")
    parser.add_argument("--preset", default="veryfast")
    parser.add_argument("--passes", type=int, choices=(1, 2), default=2, help="runs of each output set")
    parser.add_argument("--temp-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    width, height = (int(x) for x in args.size.split("x"))
    short_width, short_height = (int(x) for x in args.shorts_size.split("x"))
    fmt = OutputFormat(width=width, height=height, preset=args.preset)
    options = PipelineOptions(
        max_expressions=args.expressions, repeat=2, output_format=fmt, tts="espeak",
        short_format=ShortFormat(width=short_width, height=short_height),
    )  # fmt: skip

    with TempFileManager(prefix="langflix_bench_", base_dir=args.temp_dir) as work:
        print(f"generating a {args.duration:.0f} s {width}x{height} sample episode ...", flush=True)
        folder = work.new_dir()
        video, srt = make_sample_episode(folder, duration=args.duration, width=width, height=height, manager=work)
        korean = write_translation_srt(srt, folder / "langflix-sample.ko.srt")
        runs: dict[str, list[tuple[float, float]]] = {outputs: [] for outputs in OUTPUT_SETS}
        manifest: dict[str, Any] = {}
        left = 0
        # Each set measured twice, the second pass in reverse order: the first job of a
        # process pays for cold caches (fonts, binaries), and a shared machine's load
        # drifts; alternating spreads both over every set.
        for outputs in [*OUTPUT_SETS, *reversed(OUTPUT_SETS)][: len(OUTPUT_SETS) * args.passes]:
            with TempFileManager(prefix="langflix_benchjob_", base_dir=args.temp_dir) as jobs:
                cpu, started = cpu_seconds(), time.monotonic()
                result = LangFlixPipeline(
                    video, srt, work.new_dir(), options.replace(outputs=outputs), translation_subtitles=korean,
                    manager=jobs, settings=Settings(llm_base_url=None),
                ).run()  # fmt: skip
                runs[outputs].append((time.monotonic() - started, cpu_seconds() - cpu))
                left += sum(1 for p in jobs.path.rglob("*") if p.name != ".owner")
            if outputs == OUTPUT_SETS[-1]:
                manifest = json.loads(result.manifest.read_text(encoding="utf-8"))
            wall, cpu = runs[outputs][-1]
            print(f"  {outputs:<34} wall {wall:6.2f} s   cpu {cpu:6.2f} s", flush=True)
        timings = {
            outputs: (sum(r[0] for r in done) / len(done), sum(r[1] for r in done) / len(done))
            for outputs, done in runs.items()
        }

        items = manifest["expressions"]
        lesson_footage = sum(i["parts"]["title_card"] + i["parts"]["context_clip"] + i["parts"]["expression_clip"]
                             for i in items)  # fmt: skip
        short_footage = sum(i["short"]["duration"] for i in items)
        floors: list[tuple[float, float]] = []
        for _ in range(2):
            total = [0.0, 0.0]
            for seconds, w, h in ((lesson_footage, width, height), (short_footage, short_width, short_height)):
                out = work.new_file(suffix=".mp4")
                spent = encode(video, seconds, fmt, w, h, out)
                work.release(out)
                total = [total[0] + spent[0], total[1] + spent[1]]
            floors.append((total[0], total[1]))
        load = os.getloadavg()

    floor_wall = sum(f[0] for f in floors) / len(floors)
    floor_cpu = sum(f[1] for f in floors) / len(floors)
    base_wall, base_cpu = timings["lessons"]
    full_wall, full_cpu = timings[OUTPUT_SETS[-1]]
    print()
    print(f"episode            {args.duration:.0f} s at {width}x{height}, {len(items)} expressions, repeat 2, "
          f"preset {args.preset}, shorts {short_width}x{short_height}, Korean SRT, tts espeak")  # fmt: skip
    print(f"footage            lessons {lesson_footage:.1f} s (distinct), shorts {short_footage:.1f} s")
    for outputs in OUTPUT_SETS:
        wall, cpu = timings[outputs]
        print(f"{outputs:<34} wall {wall / base_wall:5.2f}x  cpu {cpu / base_cpu:5.2f}x of lessons only")
    print("share of the full job each output adds (wall / cpu):")
    previous = "lessons"
    print(f"  lessons          {base_wall / full_wall:6.1%} / {base_cpu / full_cpu:6.1%}")
    for outputs, kind in zip(OUTPUT_SETS[1:], ("shorts", "deck", "compilation"), strict=True):
        wall = timings[outputs][0] - timings[previous][0]
        cpu = timings[outputs][1] - timings[previous][1]
        print(f"  {kind:<16} {wall / full_wall:6.1%} / {cpu / full_cpu:6.1%}")
        previous = outputs
    print(f"floor (distinct)   wall {floor_wall:6.2f} s   cpu {floor_cpu:6.2f} s   "
          f"(runs: {', '.join(f'{w:.2f}/{c:.2f}' for w, c in floors)})")  # fmt: skip
    print(f"full job / floor   wall {full_wall / floor_wall:5.2f}     cpu {full_cpu / floor_cpu:5.2f}")
    print(f"shorts+deck job / lessons only: wall {timings['lessons,shorts,deck'][0] / base_wall:.2f}, "
          f"cpu {timings['lessons,shorts,deck'][1] / base_cpu:.2f}")  # fmt: skip
    print(f"load average       {' '.join(f'{x:.2f}' for x in load)} (1, 5, 15 min; {os.cpu_count()} cores)")
    print(f"temp files left    {left}")
    return 0 if left == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
