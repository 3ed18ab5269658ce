"""Single frames of a video as PNG files or RGB pixels, through plain ffmpeg."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Frame", "frame_png", "frame_rgb"]


def frame_png(video: Path, at: float, out: Path) -> Path:
    """The frame of ``video`` shown at ``at`` seconds, written to ``out`` (PNG)."""
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-i", str(video),
         "-ss", f"{at:.3f}", "-frames:v", "1", "-update", "1", str(out)],
        check=True, timeout=60,
    )  # fmt: skip
    return out


@dataclass(frozen=True)
class Frame:
    """RGB pixels of one frame, row by row."""

    width: int
    height: int
    data: bytes

    def pixel(self, x: int, y: int) -> tuple[int, int, int]:
        offset = (y * self.width + x) * 3
        r, g, b = self.data[offset : offset + 3]
        return r, g, b

    def where(self, test, *, box: tuple[int, int, int, int] | None = None) -> list[tuple[int, int]]:
        """``(x, y)`` of every pixel in ``box`` (x0, y0, x1, y1; default the frame) whose
        ``(r, g, b)`` passes ``test``."""
        x0, y0, x1, y1 = box or (0, 0, self.width, self.height)
        found = []
        for y in range(max(y0, 0), min(y1, self.height)):
            row = self.data[y * self.width * 3 : (y + 1) * self.width * 3]
            for x in range(max(x0, 0), min(x1, self.width)):
                if test(row[3 * x], row[3 * x + 1], row[3 * x + 2]):
                    found.append((x, y))
        return found


def frame_rgb(video: Path, at: float) -> Frame:
    """The frame of ``video`` (or an image) shown at ``at`` seconds, as RGB pixels."""
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height",
         "-of", "csv=p=0", str(video)],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout  # fmt: skip
    width, height = (int(v) for v in probe.strip().split(",")[:2])
    data = subprocess.run(
        ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-i", str(video), "-ss", f"{at:.3f}",
         "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        capture_output=True, check=True, timeout=60,
    ).stdout  # fmt: skip
    if len(data) != width * height * 3:
        raise ValueError(f"{video} at {at}s gave {len(data)} bytes, expected {width}x{height} RGB")
    return Frame(width, height, data)
