"""Benchmark: the whole pipeline against the cost of encoding its output once.

Generates a sample episode (default 10 minutes, 1280x720, test pattern + espeak-ng
speech of idiomatic lines at known times, and the Korean translation of each line
as a second SRT), runs :class:`LangFlixPipeline` on it with 5 expressions at the
default output format, both languages burned into every scene, and prints, in one
run:

* the pipeline's wall and CPU time (subtitles to published outputs, thumbnails
  included; CPU counts this process and every ffmpeg/espeak-ng it ran);
* floor 1, the one-encode floor: one ffmpeg encoding the pipeline's total lesson
  duration once, from the same episode, at the same size, codecs and settings
  (what one encode of the output costs);
* floor 2, the distinct-footage floor: the same for only the distinct footage of
  each lesson (its card, its context and its expression clip once; a repeat is a
  stream copy): the true limit of a tool that encodes each piece once;
* the ratios of the pipeline to both floors (target: wall and CPU <= 1.0 of floor 1),
  and the load average, which says how busy the shared machine was.

The floors encode the episode's own picture (a moving test pattern) for the
card's seconds too, where the pipeline encodes a still card: the floors do not
burn subtitles, the pipeline does. The compilation is a stream copy of the
lessons, so it counts in neither floor. Each floor is measured twice, alternating
with the other, and averaged. Everything lives in TempFileManager scopes and is
removed at exit.

    .venv/bin/python benchmarks/bench_pipeline.py [--duration 600] [--expressions 5]
        [--size 1280x720] [--preset veryfast] [--subtitles-style bilingual]
        [--no-translation] [--tts espeak] [--outputs lessons,compilation] [--temp-dir DIR]
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
from typing import Any, Final

from langflix.config import Settings
from langflix.core.ffmpeg import FFmpegTools
from langflix.core.output_format import OutputFormat
from langflix.demo import make_sample_episode
from langflix.pipeline import LangFlixPipeline, PipelineOptions, ProgressEvent
from langflix.temp import TempFileManager

TARGET_RATIO: Final[float] = 1.0


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


def _encode(video: Path, seconds: float, fmt: OutputFormat, out: Path) -> tuple[float, float]:
    """Wall and CPU time of one encode of ``seconds`` of the episode, at ``fmt``, like the editor's."""
    w, h = fmt.width, fmt.height
    cpu, started = _cpu_seconds(), time.monotonic()
    FFmpegTools().run(
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
    return time.monotonic() - started, _cpu_seconds() - cpu


def _korean_srt(english: Path, out: Path) -> Path | None:
    """The sample's Korean SRT (same cues, translated lines), when this LangFlix has one."""
    try:
        from langflix.demo import write_translation_srt  # absent before issue 10
    except ImportError:
        return None
    return write_translation_srt(english, out)


def _options(args: argparse.Namespace, fmt: OutputFormat) -> PipelineOptions:
    wanted: dict[str, Any] = {
        "max_expressions": args.expressions, "repeat": args.repeat, "output_format": fmt,
        "subtitles_style": args.subtitles_style, "tts": args.tts, "outputs": args.outputs,
    }  # fmt: skip
    # The same script measures a LangFlix without subtitles (the "before" figure).
    known = {k: v for k, v in wanted.items() if k in PipelineOptions.model_fields and v is not None}
    dropped = sorted(set(wanted) - set(known) - {k for k, v in wanted.items() if v is None})
    if dropped:
        print(f"  (this LangFlix has no option {', '.join(dropped)}: measured without)")
    return PipelineOptions(**known)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=600.0, help="episode length in seconds")
    parser.add_argument("--expressions", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--size", default="1280x720")
    parser.add_argument("--preset", default="veryfast", help="x264 preset of the outputs")
    parser.add_argument("--subtitles-style", default="bilingual", help="bilingual, english or none")
    parser.add_argument("--no-translation", action="store_true", help="no Korean SRT beside the English one")
    parser.add_argument("--tts", default=None, help="speech of the card (default: the settings', espeak)")
    parser.add_argument(
        "--outputs", default="lessons,compilation",
        help="what the job makes (default: what the floors measure; bench_outputs.py measures the others)",
    )  # fmt: skip
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
        episode_dir = work.new_dir()
        video, srt = make_sample_episode(episode_dir, duration=args.duration, width=width, height=height, manager=work)
        korean = None if args.no_translation else _korean_srt(srt, episode_dir / "langflix-sample.ko.srt")
        print(f"  made in {time.monotonic() - t0:.1f} s: {video.name} + {srt.name}"
              + (f" + {korean.name}" if korean else ""))  # fmt: skip

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
        options = _options(args, fmt)
        extra: dict[str, Any] = {"translation_subtitles": korean} if korean else {}
        started, cpu_started = time.monotonic(), _cpu_seconds()
        result = LangFlixPipeline(
            video, srt, work.new_dir(), options,
            manager=jobs, settings=Settings(llm_base_url=None), progress=progress, **extra,
        ).run()  # fmt: skip
        wall = time.monotonic() - started
        cpu = _cpu_seconds() - cpu_started
        stop.set()
        watcher.join()
        steps[str(last[1])] = steps.get(str(last[1]), 0.0) + time.monotonic() - float(last[0])
        peak = max(peak, result.peak_temp_bytes)
        left = [p for p in jobs.path.rglob("*") if p.name != ".owner"]

        manifest = json.loads(result.manifest.read_text(encoding="utf-8"))
        lessons = manifest["expressions"]
        lesson_seconds = sum(item["duration"] for item in lessons)
        parts = [item["parts"] for item in lessons]
        card_seconds = sum(p["title_card"] for p in parts)
        distinct_seconds = sum(p["title_card"] + p["context_clip"] + p["expression_clip"] for p in parts)
        # Each floor twice, alternating: on a shared machine one lucky or unlucky run
        # would decide a ratio on its own.
        runs: dict[str, list[tuple[float, float]]] = {"one": [], "distinct": []}
        for _ in range(2):
            for name, seconds in (("one", lesson_seconds), ("distinct", distinct_seconds)):
                out = work.new_file(suffix=".mp4")
                runs[name].append(_encode(video, seconds, fmt, out))
                work.release(out)
        load = os.getloadavg()

    def mean(name: str, field: int) -> float:
        return sum(run[field] for run in runs[name]) / len(runs[name])

    print()
    print(f"episode            {args.duration:.0f} s at {width}x{height}, {len(result.videos)} expressions, "
          f"repeat {args.repeat}, preset {args.preset}, subtitles {args.subtitles_style}"
          f"{' + Korean SRT' if korean else ''}, tts {options.tts}")
    print(f"lessons            {lesson_seconds:.1f} s of video ({card_seconds:.1f} s of it cards; "
          f"+ {manifest['compilation']['duration']:.1f} s compilation, stream copy)")
    print(f"distinct footage   {distinct_seconds:.1f} s (card + context + expression clip once, per lesson)")
    print(f"pipeline           wall {wall:6.2f} s   cpu {cpu:6.2f} s")
    for name, label, seconds in (("one", "floor 1 (one enc.)", lesson_seconds),
                                 ("distinct", "floor 2 (distinct)", distinct_seconds)):  # fmt: skip
        floor_wall, floor_cpu = mean(name, 0), mean(name, 1)
        print(f"{label} wall {floor_wall:6.2f} s   cpu {floor_cpu:6.2f} s   for {seconds:.1f} s "
              f"(runs: {', '.join(f'{w:.2f}/{c:.2f}' for w, c in runs[name])})")
        print(f"  ratio            wall {wall / floor_wall:6.2f}     cpu {cpu / floor_cpu:6.2f}")
    print(f"load average       {' '.join(f'{x:.2f}' for x in load)} (1, 5, 15 min; {os.cpu_count()} cores)")
    print(f"peak scope bytes   {peak} ({_human(peak)})")
    print(f"temp files left    {len(left)}")
    print("time per step      " + ", ".join(f"{k} {v:.1f} s" for k, v in steps.items() if k != "start"))
    print("  (steps overlap when lessons are made concurrently: each is the time until the next report)")
    ratio = max(wall / mean("one", 0), cpu / mean("one", 1))
    verdict = "met" if ratio <= TARGET_RATIO else "MISSED"
    print(f"target             wall and cpu <= {TARGET_RATIO} of floor 1: {verdict}")
    return 0 if ratio <= TARGET_RATIO and not left else 1


if __name__ == "__main__":
    sys.exit(main())
