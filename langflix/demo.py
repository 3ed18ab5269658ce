"""A sample episode made by LangFlix itself: test-pattern video, spoken idioms, an SRT.

``langflix demo``, the tests and the benchmark need an episode whose every line and
time is known, without shipping media or reaching the network. The video is ffmpeg's
``testsrc2`` pattern; the soundtrack is espeak-ng speaking a few lines of dialogue
that contain idioms and phrasal verbs, each laid at a known time; the SRT gives the
exact times of each spoken line. All intermediates (the speech of each line) live in
a scope of the caller's temp manager; the two results are persisted atomically.
:func:`write_translation_srt` writes the Korean SRT beside it (the lines translated,
the same times), so the demo shows both languages offline.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from langflix.cancel import CancelToken
from langflix.config import get_settings
from langflix.core.ffmpeg import FFmpegTools
from langflix.core.subtitles import load_subtitles
from langflix.errors import ConfigError
from langflix.temp import TempArea, get_temp_manager
from langflix.tts.espeak import EspeakTTS

__all__ = [
    "SAMPLE_LINES",
    "SAMPLE_NAME",
    "SAMPLE_TRANSLATIONS",
    "SampleCue",
    "make_sample_episode",
    "sample_cues",
    "write_srt",
    "write_translation_srt",
]

SAMPLE_NAME: Final[str] = "langflix-sample"

SAMPLE_LINES: Final[tuple[str, ...]] = (
    "Hi everyone, let's break the ice before the meeting.",
    "The weather is nice today.",
    "Don't worry, I'll figure it out by myself.",
    "Honestly, this test is a piece of cake.",
    "Can you pick up some milk on the way home?",
    "We should call it a day and go home.",
    "I really look forward to the weekend.",
    "Hang in there, you are almost done.",
    "Let's get together for lunch tomorrow.",
    "Please keep an eye on the kids for a minute.",
    "She finally gave up smoking last year.",
    "It costs an arm and a leg these days.",
)
"""Dialogue with one well-known idiom or phrasal verb in most lines, and some filler."""

SAMPLE_TRANSLATIONS: Final[dict[str, str]] = {
    "Hi everyone, let's break the ice before the meeting.": "여러분, 회의 전에 어색한 분위기를 깨 봅시다.",
    "The weather is nice today.": "오늘 날씨가 좋네요.",
    "Don't worry, I'll figure it out by myself.": "걱정 마, 내가 알아서 해결할게.",
    "Honestly, this test is a piece of cake.": "솔직히 이 시험은 식은 죽 먹기야.",
    "Can you pick up some milk on the way home?": "집에 오는 길에 우유 좀 사 올래?",
    "We should call it a day and go home.": "오늘은 이만하고 집에 가자.",
    "I really look forward to the weekend.": "주말이 정말 기다려져.",
    "Hang in there, you are almost done.": "조금만 버텨, 거의 다 했어.",
    "Let's get together for lunch tomorrow.": "내일 점심 같이 먹자.",
    "Please keep an eye on the kids for a minute.": "잠깐 애들 좀 봐 줘.",
    "She finally gave up smoking last year.": "그녀는 작년에 드디어 담배를 끊었어.",
    "It costs an arm and a leg these days.": "요즘은 그게 엄청 비싸.",
}
"""Each sample line in Korean, as a Korean subtitler would write it."""

_LEAD_IN: Final[float] = 0.5
"""Silence before the first line: a cue at 0.0 s would test nothing about seeking."""
_GAP: Final[float] = 0.6
"""Minimum silence between two lines, so their cues never overlap."""
_SPEECH_SPEED: Final[int] = 190


@dataclass(frozen=True, slots=True)
class SampleCue:
    """One spoken line of the sample: where it is in the soundtrack."""

    start: float
    end: float
    text: str


def make_sample_episode(
    directory: Path,
    *,
    duration: float = 30.0,
    width: int = 640,
    height: int = 360,
    lines: tuple[str, ...] = SAMPLE_LINES,
    name: str = SAMPLE_NAME,
    manager: TempArea | None = None,
    cancel: CancelToken | None = None,
    preset: str = "ultrafast",
    tools: FFmpegTools | None = None,
) -> tuple[Path, Path]:
    """Write ``<name>.mp4`` and ``<name>.srt`` into ``directory``; return their paths.

    As many ``lines`` as fit in ``duration`` are spoken, spread evenly over it (a
    long episode keeps them far apart, so context windows do not overlap). The
    video has H.264 video and AAC audio; the SRT times are those of the speech.
    ``manager`` and ``tools`` default to the process-wide manager and the settings' ffmpeg.
    """
    if duration < 1.0:
        raise ConfigError(f"a sample episode needs at least 1 second (got {duration:g})")
    if width <= 0 or height <= 0 or width % 2 or height % 2:
        raise ConfigError(f"sample size must be positive and even (got {width}x{height})")
    if not lines:
        raise ConfigError("a sample episode needs at least one line of dialogue")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    area = manager or get_temp_manager()
    settings = get_settings()
    ffmpeg = tools or settings.ffmpeg_tools()
    voice = EspeakTTS(settings.espeak_binary, speed=_SPEECH_SPEED, cancel=cancel)

    with area.scope(f"sample-{uuid.uuid4().hex[:8]}") as scope:
        speech: list[tuple[Path, float, str]] = []
        budget = duration - _LEAD_IN
        for text in lines:
            wav = voice.synthesize(text, "en", scope)
            seconds = ffmpeg.probe(wav).duration
            if budget - seconds - _GAP < 0:
                scope.release(wav)
                break
            budget -= seconds + _GAP
            speech.append((wav, seconds, text))
        if not speech:
            raise ConfigError(
                f"{duration:g} s is too short for one spoken line; use a longer duration"
            )
        cues = sample_cues([(s, t) for _, s, t in speech], duration)

        video = scope.new_file(suffix=".mp4")
        ffmpeg.run(_mux_args(video, [w for w, _, _ in speech], cues, duration, width, height, preset), cancel=cancel)
        srt = scope.new_file(suffix=".srt")
        write_srt(srt, cues)
        # The SRT is persisted last: a directory holding the SRT holds its video.
        video_out = scope.persist(video, directory / f"{name}.mp4")
        srt_out = scope.persist(srt, directory / f"{name}.srt")
    return video_out, srt_out


def sample_cues(spoken: list[tuple[float, str]], duration: float) -> list[SampleCue]:
    """Lay lines of the given speech lengths evenly over ``duration``, never overlapping."""
    total = sum(seconds for seconds, _ in spoken)
    spare = max(0.0, duration - _LEAD_IN - total - _GAP * len(spoken))
    step_gap = _GAP + spare / len(spoken)
    cues: list[SampleCue] = []
    at = _LEAD_IN
    for seconds, text in spoken:
        cues.append(SampleCue(round(at, 3), round(at + seconds, 3), text))
        at += seconds + step_gap
    return cues


def write_srt(path: Path, cues: list[SampleCue]) -> None:
    """Write ``cues`` as a UTF-8 SRT file."""

    def stamp(seconds: float) -> str:
        ms = round(seconds * 1000)
        return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"

    blocks = [
        f"{i}\n{stamp(c.start)} --> {stamp(c.end)}\n{c.text}\n" for i, c in enumerate(cues, 1)
    ]
    path.write_text("\n".join(blocks), encoding="utf-8")


def write_translation_srt(english: Path, out: Path, translations: dict[str, str] = SAMPLE_TRANSLATIONS) -> Path:
    """The Korean SRT of the sample whose English SRT is ``english``: same times, lines translated.

    A line without a translation is left out (a translator's file is silent there too).
    """
    cues = [
        SampleCue(cue.start, cue.end, translations[cue.text])
        for cue in load_subtitles(english).track("en").cues
        if cue.text in translations
    ]
    write_srt(out, cues)
    return out


def _mux_args(
    out: Path,
    wavs: list[Path],
    cues: list[SampleCue],
    duration: float,
    width: int,
    height: int,
    preset: str,
) -> list[str]:
    """ffmpeg arguments: test pattern + each line delayed to its cue, mixed to one track."""
    args = [
        "-f", "lavfi", "-i", f"testsrc2=size={width}x{height}:rate=25:duration={duration:.3f}",
        "-f", "lavfi", "-i", f"anullsrc=r=44100:cl=stereo:d={duration:.3f}",
    ]  # fmt: skip
    for wav in wavs:
        args += ["-i", str(wav)]
    chains = []
    labels = ["[1:a]"]
    for i, cue in enumerate(cues):
        ms = round(cue.start * 1000)
        chains.append(f"[{i + 2}:a]aresample=44100,adelay={ms}:all=1[s{i}]")
        labels.append(f"[s{i}]")
    # duration=first: the silent bed sets the length, so the audio matches the video.
    chains.append(
        f"{''.join(labels)}amix=inputs={len(labels)}:duration=first:normalize=0[aout]"
    )
    args += [
        "-filter_complex", ";".join(chains),
        "-map", "0:v", "-map", "[aout]",
        "-c:v", "libx264", "-preset", preset, "-pix_fmt", "yuv420p", "-g", "50",
        "-c:a", "aac", "-b:a", "96k", "-ac", "2",
        "-t", f"{duration:.3f}", "-movflags", "+faststart",
        str(out),
    ]  # fmt: skip
    return args
