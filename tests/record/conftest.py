"""A headless Chromium for looking at the HTML report as a person would (bash scripts/browser.sh installs it)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
WINDOW = (1280, 900)


def _unavailable(reason: str) -> None:
    message = f"needs headless Chromium, chromedriver and selenium (bash scripts/browser.sh; pip install -e '.[test]'): {reason}"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def browser(tmp_path_factory):
    """One headless Chromium for the session, 1280 px wide, with a fresh profile. In CI its absence fails the test, never skips it."""
    try:
        from selenium import webdriver
        from selenium.common.exceptions import WebDriverException
        from selenium.webdriver.chrome.options import Options
        from selenium.webdriver.chrome.service import Service
    except ImportError as exc:
        _unavailable(str(exc))
    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.access(path, os.X_OK):
            _unavailable(f"{path} is missing")

    options = Options()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--window-size={WINDOW[0]},{WINDOW[1]}",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    ):
        options.add_argument(flag)
    try:
        # An explicit driver path: Selenium Manager is never asked to download anything.
        driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    except WebDriverException as exc:
        _unavailable(exc.msg or str(exc))
    try:
        # --window-size sets the outer window; make the page itself (the layout viewport) 1280 px wide.
        inner = driver.execute_script("return [window.innerWidth, window.innerHeight]")
        if inner[0] != WINDOW[0]:
            size = driver.get_window_size()
            driver.set_window_size(size["width"] + WINDOW[0] - inner[0], size["height"] + WINDOW[1] - inner[1])
        yield driver
    finally:
        driver.quit()
