"""Benchmark: what burning bilingual subtitles adds to the encode that cuts a clip.

Generates a sample episode (test pattern + tone, 1280x720 by default), a dense
subtitle track over the cut (a cue every 2.5 s, English with the expression lit
and a Korean translation), and encodes the same cut twice per round, in the same
run: once with the editor's filter graph (exact trim, scale, pad) and once with
the same graph plus the ``ass`` filter burning the generated ASS file. Prints the
median wall and CPU time of each and their ratios (burned / plain), plus the
one-off cost of building the ASS document (font metrics load + layout) in Python.

Burning happens inside the cut's encode (one filter graph), so the ratio is the
whole cost of subtitles: there is no second encode to add.

    .venv/bin/python benchmarks/bench_burn.py [--seconds 20] [--size 1280x720]
        [--preset veryfast] [--rounds 3] [--temp-dir DIR]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from pathlib import Path

from langflix.core.ass import ass_filter, write_ass
from langflix.core.expressions import expression_spans
from langflix.core.fonts import text_measure
from langflix.core.process import run_process
from langflix.core.subtitle_render import SceneCue, scene_ass
from langflix.errors import FFmpegError
from langflix.temp import TempFileManager

_LINES = (
    ("So you finally figured it out, didn't you?", "그래서 결국 알아냈구나, 그렇지?", "figure out"),
    ("I think it's time to call it a day.", "오늘은 여기까지 하는 게 좋겠어.", "call it a day"),
    ("Don't spill the beans, okay? Not a word to anyone.", "비밀 누설하지 마, 알았지? 아무한테도 말하지 마.",
     "spill the beans"),
    ("We'll cross that bridge when we come to it.", "그 문제는 그때 가서 생각하자.", "cross that bridge"),
)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _ffmpeg(args: list[str]) -> tuple[float, float]:
    """Run ffmpeg; its wall and CPU seconds."""
    cpu = _children_cpu()
    started = time.monotonic()
    run_process(["ffmpeg", "-hide_banner", "-nostdin", "-y", "-loglevel", "error", *args], error_cls=FFmpegError)
    return time.monotonic() - started, _children_cpu() - cpu


def _cut_graph(start: float, seconds: float, width: int, height: int, fps: int) -> str:
    """The editor's cut: exact frames, the output size, yuv420p (see VideoEditor.frames_filter and fit_filter)."""
    return ",".join(
        [
            f"fps={fps}:start_time=0",
            f"trim=start={start:.6f}:end={start + seconds:.6f}",
            "setpts=PTS-STARTPTS",
            f"scale={width}:{height}:force_original_aspect_ratio=decrease:force_divisible_by=2",
            f"pad={width}:{height}:(ow-iw)/2:(oh-ih)/2:color=black",
            "setsar=1",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the cut")
    parser.add_argument("--size", default="1280x720")
    parser.add_argument("--preset", default="veryfast")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--temp-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.split("x"))
    fps, start = 25, 5.0

    with TempFileManager(base_dir=args.temp_dir) as manager:
        episode = manager.new_file(suffix=".mp4", prefix="episode_")
        total = start + args.seconds + 5
        _ffmpeg(
            ["-f", "lavfi", "-i", f"testsrc2=size={width}x{height}:rate={fps}:duration={total}",
             "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=44100:duration={total}",
             "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-f", "mp4", str(episode)]
        )  # fmt: skip

        built = time.monotonic()
        # Fonts and the expression list are read once per process, not per clip.
        text_measure()
        expression_spans("figure out", "")
        loaded = time.monotonic()
        cues = []
        at = start
        index = 0
        while at < start + args.seconds:
            english, korean, phrase = _LINES[index % len(_LINES)]
            cues.append(SceneCue(at, at + 2.3, english, korean, tuple(expression_spans(phrase, english))))
            at += 2.5
            index += 1
        document = scene_ass(cues, clip_start=start, clip_end=start + args.seconds, width=width, height=height)
        ass = write_ass(manager, document)
        layout_done = time.monotonic()

        graph = _cut_graph(start, args.seconds, width, height, fps)
        common = ["-i", str(episode), "-map", "0:v:0", "-map", "0:a:0"]
        codec = ["-c:v", "libx264", "-preset", args.preset, "-crf", "23", "-pix_fmt", "yuv420p",
                 "-c:a", "aac", "-b:a", "128k", "-ar", "44100", "-ac", "2",
                 "-af", f"atrim=start={start}:end={start + args.seconds},asetpts=PTS-STARTPTS"]  # fmt: skip
        plain: list[tuple[float, float]] = []
        burned: list[tuple[float, float]] = []
        for _ in range(args.rounds):
            # Alternate so a change in machine load hits both alike.
            for runs, vf in ((plain, f"{graph},format=yuv420p"), (burned, f"{graph},{ass_filter(ass)},format=yuv420p")):
                out = manager.new_file(suffix=".mp4", prefix="cut_")
                runs.append(_ffmpeg([*common, "-vf", vf, *codec, "-f", "mp4", str(out)]))
                manager.release(out)

    def median(runs: list[tuple[float, float]], field: int) -> float:
        return statistics.median(run[field] for run in runs)

    plain_wall, plain_cpu = median(plain, 0), median(plain, 1)
    burn_wall, burn_cpu = median(burned, 0), median(burned, 1)
    print(f"cut: {args.seconds:g} s at {width}x{height}, x264 {args.preset}, {len(cues)} bilingual cues, "
          f"{args.rounds} rounds (medians)")  # fmt: skip
    print(f"  plain encode : wall {plain_wall:6.2f} s   cpu {plain_cpu:6.2f} s")
    print(f"  with ass     : wall {burn_wall:6.2f} s   cpu {burn_cpu:6.2f} s")
    print(f"  ratio        : wall {burn_wall / plain_wall:6.3f}     cpu {burn_cpu / plain_cpu:6.3f}   (burned / plain)")
    print(f"  python side  : fonts + expression list {loaded - built:.2f} s once per process, "
          f"cues + ASS layout {1000 * (layout_done - loaded):.1f} ms for this clip")
    return 0


if __name__ == "__main__":
    sys.exit(main())
