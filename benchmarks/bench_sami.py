"""Benchmark: our SAMI parser against pysubs2 on a feature film's bilingual SAMI.

Generates a realistic bilingual (KRCC + ENCC) SAMI file in CP949 with CRLF,
``<font>``/``<br>`` markup and ``&nbsp;`` clears, in both layouts real files use
(interleaved, and one language's whole film after the other's), then prints the
parse time of :func:`langflix.core.subtitles.load_subtitles` (read + encoding
detection + parse + normalise), pysubs2's time on the same file (encoding given
explicitly, as it cannot detect it), and the ratio ours/pysubs2. It also prints
what each parser recovered, because being fast is worthless if the result is
wrong: pysubs2 merges both languages into one track and guesses end times.

The generated files live in a :class:`TempFileManager` scope and are removed at
exit. Exit status 1 when our parse of a layout takes a second or more.

    .venv/bin/python benchmarks/bench_sami.py [--cues 1500] [--repeat 5] [--temp-dir DIR]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Final

import pysubs2

from langflix.core.subtitles import Subtitles, load_subtitles
from langflix.temp import TempFileManager

BUDGET_SECONDS: Final[float] = 1.0

_HEAD: Final[str] = (
    "<SAMI>\n<HEAD>\n<TITLE>Benchmark feature film</TITLE>\n<STYLE TYPE=\"text/css\">\n<!--\n"
    "P { margin-left:8pt; margin-right:8pt; margin-bottom:2pt; margin-top:2pt; text-align:center; }\n"
    ".KRCC { Name:Korean; lang:ko-KR; SAMIType:CC; }\n"
    ".ENCC { Name:English; lang:en-US; SAMIType:CC; }\n"
    "-->\n</STYLE>\n</HEAD>\n<BODY>\n"
)
_TAIL: Final[str] = "</BODY>\n</SAMI>\n"
_KOREAN: Final[tuple[str, ...]] = (
    "행운을 빌어!", "식은 죽 먹기야.", "그만 좀 해.", "정말 고마워요, 잊지 않을게요.", "어디 가는 거야?",
    "오늘은 일찍 자야겠어.", "그건 말도 안 돼!", "잠깐만 기다려 줘.",
)  # fmt: skip
_ENGLISH: Final[tuple[str, ...]] = (
    "Break a leg!", "It's a piece of cake.", "Knock it off.", "Thank you so much, I won't forget it.",
    "Where are you going?", "I should call it a night.", "That doesn't make any sense!", "Hang on a second.",
)  # fmt: skip


def _sync(ms: int, label: str, text: str) -> str:
    return f"<SYNC Start={ms}><P Class={label}>{text}\n"


def _cue_markup(i: int, korean: bool) -> str:
    lines = _KOREAN if korean else _ENGLISH
    first, second = lines[i % len(lines)], lines[(i * 3 + 1) % len(lines)]
    if i % 4 == 0:
        return f'<font color="#ffff00">{first}</font><br>{second}'
    if i % 4 == 1:
        return f"<i>{first}</i>"
    return f"{first}<br>{second} &amp; more"


def make_sami(cues: int, layout: str) -> str:
    """A bilingual SAMI film: ``cues`` cues per language, 3 s apart, each cleared after 2.5 s."""
    korean: list[str] = []
    english: list[str] = []
    for i in range(cues):
        start = 1000 + i * 3000
        korean.append(_sync(start, "KRCC", _cue_markup(i, True)) + _sync(start + 2500, "KRCC", "&nbsp;"))
        english.append(_sync(start, "ENCC", _cue_markup(i, False)) + _sync(start + 2500, "ENCC", "&nbsp;"))
    if layout == "interleaved":
        body = "".join(k + e for k, e in zip(korean, english))
    else:
        body = "".join(korean) + "".join(english)
    return (_HEAD + body + _TAIL).replace("\n", "\r\n")


def _ends_right(start_ms: float, end_ms: float) -> bool:
    """Every generated cue is cleared 2.5 s after it starts."""
    return abs(end_ms - start_ms - 2500) < 1


def _best_of(repeat: int, work: Callable[[], object]) -> tuple[float, object]:
    best = float("inf")
    result: object = None
    for _ in range(repeat):
        started = time.perf_counter()
        result = work()
        best = min(best, time.perf_counter() - started)
    return best, result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cues", type=int, default=1500, help="cues per language (default 1500)")
    parser.add_argument("--repeat", type=int, default=5, help="runs per parser; the best is kept")
    parser.add_argument("--temp-dir", type=Path, default=None, help="base dir for the generated files")
    args = parser.parse_args(argv)

    over_budget = False
    with TempFileManager(prefix="bench_sami_", base_dir=args.temp_dir) as manager:
        print(f"bilingual SAMI, {args.cues} cues per language, CP949 + CRLF, best of {args.repeat}")
        print(f"{'layout':<12} {'size':>8} {'ours':>9} {'pysubs2':>9} {'ours/pysubs2':>13}  recovered")
        for layout in ("interleaved", "blocks"):
            path = manager.new_file(suffix=".smi", prefix=f"{layout}_")
            path.write_bytes(make_sami(args.cues, layout).encode("cp949"))

            ours_s, ours = _best_of(args.repeat, lambda: load_subtitles(path))
            theirs_s, theirs = _best_of(
                args.repeat, lambda: pysubs2.load(str(path), encoding="cp949", format_="sami")
            )
            assert isinstance(ours, Subtitles) and isinstance(theirs, pysubs2.SSAFile)
            tracks = ", ".join(f"{t.language}:{len(t.cues)}" for t in ours.tracks)
            our_right = sum(_ends_right(c.start * 1000, c.end * 1000) for t in ours.tracks for c in t.cues)
            texts = [e for e in theirs if e.plaintext.strip()]
            their_right = sum(_ends_right(e.start, e.end) for e in texts)
            print(
                f"{layout:<12} {path.stat().st_size / 1024:>6.0f}KB {ours_s * 1000:>7.1f}ms "
                f"{theirs_s * 1000:>7.1f}ms {ours_s / theirs_s:>13.2f}  "
                f"ours: {tracks}, right end {our_right}/{2 * args.cues} | "
                f"pysubs2: one track of {len(texts)}, right end {their_right}/{2 * args.cues}"
            )
            over_budget = over_budget or ours_s >= BUDGET_SECONDS
    if over_budget:
        print(f"FAIL: a layout took {BUDGET_SECONDS:.0f} s or more to parse", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
