"""A real headless Chromium driven by Selenium, with Debian's chromedriver (no download, no network).

``open_browser(profile_dir)`` starts one with a new empty profile under the
test's tmp dir and every background service off (this machine's network is
closed: no component updates, no sync, no QUIC). Tests share one browser per
module; each test starts from a clean cookie jar with :func:`forget_cookies`.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final, TypeVar

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webdriver import WebDriver

CHROMIUM: Final[str] = "/usr/bin/chromium"
CHROMEDRIVER: Final[str] = "/usr/bin/chromedriver"
CHROMIUM_FLAGS: Final[tuple[str, ...]] = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
    "--window-size=1280,900",
)

T = TypeVar("T")


def browser_missing() -> str | None:
    """Why no browser can run here, or None (the set-up installs both: ./run.sh test)."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if shutil.which(path) is None:
            return f"{path} is missing: install Debian's chromium and chromium-driver (./run.sh test does)"
    return None


def open_browser(profile_dir: Path) -> WebDriver:
    """A headless Chromium with a new empty profile in ``profile_dir``."""
    problem = browser_missing()
    if problem is not None:
        raise RuntimeError(problem)
    profile_dir.mkdir(parents=True, exist_ok=True)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile_dir}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=CHROMEDRIVER, log_output=str(profile_dir.parent / "chromedriver.log"))
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(60)
    driver.set_script_timeout(60)
    return driver


def wait_until(condition: Callable[[], T | None], timeout: float = 60.0, what: str = "condition") -> T:
    """Poll ``condition`` until it returns something truthy (bounded; tolerant of a loaded machine)."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = condition()
        except Exception as exc:  # an element being swapped out by htmx mid-read: look again
            last_error = exc
            value = None
        if value:
            return value
        time.sleep(0.1)
    detail = f": {last_error}" if last_error else ""
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}{detail}")


def console_errors(driver: WebDriver) -> list[str]:
    """The page's console errors since the last call (a CSP violation is one)."""
    entries: list[dict[str, Any]] = driver.get_log("browser")
    return [e["message"] for e in entries if e.get("level") == "SEVERE"]


def screenshot(driver: WebDriver, path: Path) -> Path:
    """Save a PNG of the page; fails unless it is a real, non-empty PNG."""
    assert driver.save_screenshot(str(path)), f"no screenshot written to {path}"
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 1000, f"{path} is not a real PNG"
    return path
