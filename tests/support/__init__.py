"""Shared support code of the test suite (not tests themselves).

Import it as ``support`` (``from support.fake_http import FakeServer``): pytest puts
``tests/`` on ``sys.path`` because ``tests/conftest.py`` has no package above it,
both for ``pytest`` and for ``python -m pytest`` run from the repository root.

- ``anki``: an ``.apkg`` opened as Anki's importer reads it;
- ``fake_http``: a scripted HTTP server on 127.0.0.1 that records every request;
- ``frames``: one frame of a video as a PNG or as RGB pixels;
- ``hostile``: files an attacker uploads (playlists naming a private file);
- ``media``: tiny generated media, made with plain ffmpeg;
- ``ocr``: tesseract on a PNG, and a fuzzy word match of what it read;
- ``procs``: the live processes of ``/proc`` (children of a test, a process group);
- ``temp``: a temp manager under ``tmp_path`` and what it leaves behind;
- ``threads``: one function raced from several threads released at once.
"""
