"""Helpers for the dashboard tests: a live server on an ephemeral port, headless Chromium."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

from gankit.dashboard import DashboardServer, make_server

CHROMIUM_PATHS = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
# Flags for a root user on a machine without network: no sandbox (root), no GPU, nothing that
# phones home, a fresh profile each time.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)


@contextlib.contextmanager
def live_server(runs_dir: Path, host: str = "127.0.0.1") -> Iterator[DashboardServer]:
    """A dashboard serving ``runs_dir`` in a background thread; always shut down afterwards."""
    server = make_server(runs_dir, host=host, port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def chromium_paths() -> tuple[str | None, str | None]:
    browser = next((p for p in CHROMIUM_PATHS if Path(p).exists()), None)
    return browser, shutil.which("chromedriver")


def browser_missing_reason() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[dev]')"
    browser, driver = chromium_paths()
    if browser is None or driver is None:
        return (
            "chromium / chromedriver not installed (run scripts/install-test-deps.sh as root, "
            "or `make test`, which does)"
        )
    return None


@contextlib.contextmanager
def headless_chromium(width: int = 1280, height: int = 1000) -> Iterator[object]:
    """A Selenium driver for headless Chromium; the browser and its profile are always removed."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    browser, driver_path = chromium_paths()
    profile = tempfile.mkdtemp(prefix="gankit-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}"):
        options.add_argument(flag)
    # The explicit driver path keeps Selenium Manager from trying to download one.
    driver = webdriver.Chrome(options=options, service=Service(driver_path))
    try:
        yield driver
    finally:
        try:
            driver.quit()
        finally:
            shutil.rmtree(profile, ignore_errors=True)
