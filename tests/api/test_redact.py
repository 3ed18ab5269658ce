"""What a client may read of a message: its own names, setting names for the server's dirs."""

from __future__ import annotations

from pathlib import Path

from langflix.api.redact import Redactor, server_dirs


def test_longest_path_first_so_a_file_becomes_the_clients_name(tmp_path: Path) -> None:
    temp = tmp_path / "temp"
    session = temp / "langflix_session-4242-abcd"
    upload = session / "job-1" / "video-x1y2.mp4"
    redact = Redactor(server_dirs((session, temp), tmp_path / "data", tmp_path / "out")).extended(
        {str(upload): "My Episode.mp4", upload.name: "My Episode.mp4"}
    )
    message = f"ffmpeg -i file:{upload} -f mp4 file:{session}/job-1/clip_9.mp4 failed; see {tmp_path / 'out'}/x"
    assert redact(message) == (
        "ffmpeg -i file:My Episode.mp4 -f mp4 file:<LANGFLIX_TEMP_DIR>/job-1/clip_9.mp4 failed; "
        "see <LANGFLIX_OUTPUT_DIR>/x"
    )
    assert redact("probing video-x1y2.mp4") == "probing My Episode.mp4"


def test_a_path_is_also_known_resolved(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "link").symlink_to(real)
    redact = Redactor({str(tmp_path / "link"): "<LANGFLIX_TEMP_DIR>"})
    assert redact(f"{real}/a and {tmp_path / 'link'}/b") == "<LANGFLIX_TEMP_DIR>/a and <LANGFLIX_TEMP_DIR>/b"
    assert Redactor()("untouched /srv/x") == "untouched /srv/x"
