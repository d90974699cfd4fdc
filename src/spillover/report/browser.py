"""Headless Chromium helpers: a screenshot of the report and its DOM after scripts ran.

Uses Debian's ``chromium`` with the flags that keep it off the network; returns None when no
browser is installed (the report itself never needs one).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-quic"]


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _run(args: list[str], timeout: float) -> subprocess.CompletedProcess[str] | None:
    exe = chromium()
    if exe is None:
        return None
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run([exe, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True, text=True,
                              timeout=timeout)


def dump_dom(url: str, timeout: float = 60) -> str | None:
    """The page's DOM after its scripts ran."""
    r = _run(["--virtual-time-budget=3000", "--dump-dom", url], timeout)
    return r.stdout if r is not None else None


def screenshot(html: Path, out: Path, size: tuple[int, int] = (1280, 2400), timeout: float = 60) -> Path | None:
    r = _run([f"--screenshot={out}", f"--window-size={size[0]},{size[1]}", "--virtual-time-budget=3000",
              Path(html).resolve().as_uri()], timeout)
    return out if r is not None and out.exists() else None
