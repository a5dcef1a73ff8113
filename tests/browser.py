"""Debian's Chromium, headless, for the tests that check a page as a browser shows it."""

import subprocess
import tempfile

from conftest import run

CHROMIUM = "/usr/bin/chromium"
# No background connections (this machine's network is closed), a profile of its own per run.
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
         # The cluster's certificates come from its own CA, which Chromium's store does not hold.
         "--ignore-certificate-errors")


def dom(url):
    """The page's DOM after its parsing, as Chromium serializes it (Chromium's own messages left out)."""
    with tempfile.TemporaryDirectory() as profile:
        result = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "--dump-dom", url], cwd="/",
                                capture_output=True, text=True, timeout=120, check=True)
    return result.stdout


def screenshot(url, path, width=1200, height=1800):
    """A PNG of the page at PATH."""
    with tempfile.TemporaryDirectory() as profile:
        run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}",
             f"--screenshot={path}", url], cwd="/", timeout=120)
