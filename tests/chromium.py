"""Debian's chromium, headless, driven by its own chromedriver through selenium: nothing is downloaded.

Shared by the explorer's browser tests and scripts/explorer_screenshots.py."""
from __future__ import annotations

import os
from pathlib import Path

CHROMIUM = Path(os.environ.get("MEDKG_CHROMIUM", "/usr/bin/chromium"))
CHROMEDRIVER = Path(os.environ.get("MEDKG_CHROMEDRIVER", "/usr/bin/chromedriver"))
# No sandbox (CI runs as root); no background networking, component updates or sync: the machine is offline
# and Chromium would otherwise keep trying Google's services.
ARGUMENTS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
             "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--disable-extensions")


def available() -> bool:
    return CHROMIUM.exists() and CHROMEDRIVER.exists()


def start_chromium(profile_dir: Path, *, width: int = 1280, height: int = 1000):
    """A selenium WebDriver for headless Debian chromium with a fresh profile in ``profile_dir``."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ARGUMENTS:
        options.add_argument(argument)
    options.add_argument(f"--window-size={width},{height}")
    options.add_argument(f"--user-data-dir={profile_dir}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    return driver
