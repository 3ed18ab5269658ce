"""The vendored scripts are the pinned npm builds the README names, with their licences; pages use only them."""

from __future__ import annotations

import hashlib
import re

from langflix.api.pages import STATIC_DIR, TEMPLATES_DIR

VENDOR = STATIC_DIR / "vendor"


def test_vendored_files_match_their_recorded_hashes_and_have_a_licence() -> None:
    readme = (VENDOR / "README.md").read_text(encoding="utf-8")
    recorded = {name: digest for digest, name in re.findall(r"^([0-9a-f]{64})  (\S+)$", readme, re.M)}
    scripts = sorted(path.name for path in VENDOR.glob("*.js"))
    assert scripts == sorted(recorded) == ["htmx-2.0.11.min.js", "htmx-ext-sse-2.2.4.min.js"]
    for name, digest in recorded.items():
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == digest, name
        licence = (VENDOR / name.replace(".min.js", ".LICENSE")).read_text(encoding="utf-8")
        assert "Zero-Clause BSD" in licence or "BSD Zero Clause" in licence, name


def test_pages_load_scripts_only_from_this_server() -> None:
    for template in TEMPLATES_DIR.glob("*.html"):
        text = template.read_text(encoding="utf-8")
        assert "http://" not in text and "https://" not in text, f"{template.name} links another host"
        for src in re.findall(r'<script src="([^"]+)"', text):
            assert src.startswith("{{ static("), (template.name, src)
    base = (TEMPLATES_DIR / "base.html").read_text(encoding="utf-8")
    for name in ("htmx-2.0.11.min.js", "htmx-ext-sse-2.2.4.min.js"):
        assert f"static('vendor/{name}')" in base
