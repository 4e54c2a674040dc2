"""A real headless Chromium (Debian's ``chromium`` + ``chromium-driver``) through Selenium.

``make browser`` (run by ``make test``) installs the two Debian packages where
it can (root with ``apt-get``, as in CI); where no browser is found the browser
tests are skipped, saying so. Chromium runs with the flags this machine needs
(no sandbox as root, no GPU, no background networking), a fresh profile, and
every wait has a deadline.
"""

from __future__ import annotations

import base64
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
DRIVER_CANDIDATES = ("/usr/bin/chromedriver",)
#: Every wait in a browser test ends by then.
WAIT_SECONDS = 20
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--disable-extensions",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
)


def _first(env: str, candidates: tuple[str, ...]) -> str | None:
    chosen = os.environ.get(env)
    if chosen:
        return chosen if Path(chosen).is_file() else None
    return next((c for c in candidates if Path(c).is_file()), None)


def browser_paths() -> tuple[str, str]:
    """(chromium, chromedriver), or skip the test with the reason."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        pytest.skip("selenium is not installed (make install adds it with the dev extra)")
    chromium = _first("RELEASE_GATE_TEST_CHROMIUM", CHROMIUM_CANDIDATES)
    driver = _first("RELEASE_GATE_TEST_CHROMEDRIVER", DRIVER_CANDIDATES)
    if chromium is None or driver is None:
        pytest.skip(
            "no headless browser: needs Debian's chromium and chromium-driver "
            "(`make browser` installs them as root with apt-get)"
        )
    return chromium, driver


@contextmanager
def chromium(
    profile: Path, *, javascript: bool, size: tuple[int, int] = (1280, 900)
) -> Iterator[Any]:
    """A headless Chromium session on a fresh profile; JavaScript off unless asked for."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary, driver_path = browser_paths()
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument(f"--window-size={size[0]},{size[1]}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    if not javascript:
        options.add_experimental_option(
            "prefs", {"profile.managed_default_content_settings.javascript": 2}
        )
    service = Service(executable_path=driver_path, log_output=os.devnull)
    driver = webdriver.Chrome(service=service, options=options)
    try:
        driver.set_page_load_timeout(WAIT_SECONDS)
        driver.set_script_timeout(WAIT_SECONDS)
        driver.implicitly_wait(0)
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def full_page_png(driver: Any, path: Path) -> Path:
    """The whole page (not just the window) as a PNG, through the DevTools protocol."""
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(base64.b64decode(shot["data"]))
    return path
