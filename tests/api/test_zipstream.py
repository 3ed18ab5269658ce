"""The streamed zip: readable by zipfile and unzip, videos STORED, text DEFLATED, a chunk at a time."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

from langflix.api.zipstream import compression_for, zip_stream


def test_the_stream_is_a_valid_zip_written_a_chunk_at_a_time(tmp_path: Path) -> None:
    video = tmp_path / "lesson.mp4"
    video.write_bytes(os.urandom(3 * 1024 * 1024 + 17))
    manifest = tmp_path / "manifest.json"
    manifest.write_text('{"lessons": []}\n' * 1000, encoding="utf-8")
    chunks = zip_stream([("ep/lesson.mp4", video), ("ep/manifest.json", manifest)], chunk_size=64 * 1024)
    first = next(chunks)
    assert 0 < len(first) < 200 * 1024, "the first bytes go out before the video is read whole"
    rest = list(chunks)
    assert max(len(c) for c in rest) < 200 * 1024, "no chunk holds a file"
    data = first + b"".join(rest)
    out = tmp_path / "episode.zip"
    out.write_bytes(data)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        info = {i.filename: i for i in archive.infolist()}
        assert info["ep/lesson.mp4"].compress_type == zipfile.ZIP_STORED
        assert info["ep/manifest.json"].compress_type == zipfile.ZIP_DEFLATED
        assert archive.read("ep/lesson.mp4") == video.read_bytes()
        assert info["ep/manifest.json"].compress_size < manifest.stat().st_size / 10
    if shutil.which("unzip"):
        tested = subprocess.run(["unzip", "-t", str(out)], capture_output=True, text=True, timeout=60)
        assert tested.returncode == 0 and "No errors detected" in tested.stdout, tested.stdout


def test_media_is_stored_and_text_deflated() -> None:
    assert compression_for("a.MP4") == compression_for("t.jpg") == compression_for("d.apkg") == zipfile.ZIP_STORED
    assert compression_for("manifest.json") == compression_for("x.srt") == zipfile.ZIP_DEFLATED
