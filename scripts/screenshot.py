"""Screenshot of the Train page during a run, for the README: assets/train-live.png.

Starts the app on a free port with a throwaway store (as tests/e2e/conftest.py does), opens the
Train page in Debian's chromium 1440 px wide, starts the spiral demo at the watch pace and takes
the picture once the run is under way (the boundary forming, the overview coloured, about a
third of the steps done). Usage: `.venv/bin/python scripts/screenshot.py [--out PATH] [--progress 0.35]`.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("TRAINING_LAB_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
DEMO = "dataset=spiral&depth=3&width=32&speed=watch"  # the Home page's demo (lab/ui/first_contact.py)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
            return r.read().strip() == b"ok"
    except OSError:
        return False


def serve(tmp: Path) -> tuple[subprocess.Popen, str]:
    """`python -m lab.ui.serve` on a free port with its own store; returns the process and its base URL."""
    port = _free_port()
    env = {**os.environ, "TRAINING_LAB_STORE": str(tmp / "runs.sqlite"), "TRAINING_LAB_DATA_DIR": str(tmp)}
    cmd = [sys.executable, "-m", "lab.ui.serve", "--server.headless", "true", "--server.port", str(port),
           "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"]  # fmt: skip
    log = open(tmp / "server.log", "wb")  # noqa: SIM115 - the server writes to it until it stops
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while not _healthy(url):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the app did not start; see {tmp / 'server.log'}")
        time.sleep(0.25)
    return proc, url


def shoot(url: str, out: Path, progress: float) -> None:
    """Start the demo on the Train page and save a full-page screenshot once `progress` of it is done."""
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        # Tall enough for the curves, the hints beside the decision boundary and the network overview.
        page = browser.new_page(viewport={"width": 1440, "height": 1500})
        page.set_default_timeout(120_000)
        page.goto(f"{url}/train?{DEMO}")
        page.get_by_text("Training workers are warming up").wait_for(state="detached", timeout=120_000)
        page.get_by_role("button", name=re.compile("Start")).first.click()
        page.get_by_text(re.compile(r"Run · running")).wait_for()
        # The status line's progress bar: wait until the run is far enough along to show something.
        page.wait_for_function(
            "(p) => { const bar = document.querySelector('.tl-progress > div');"
            " return bar && parseFloat(bar.style.width) >= 100 * p; }",
            arg=progress,
            polling=200,
        )
        page.locator(".st-key-overview").scroll_into_view_if_needed()
        page.evaluate("window.scrollTo(0, 0)")
        page.wait_for_timeout(500)  # the last figures handed to Plotly are drawn
        out.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(out), full_page=False)
        browser.close()


def main() -> None:
    """Serve, shoot, stop."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "assets" / "train-live.png")
    ap.add_argument("--progress", type=float, default=0.35, help="share of the run done when the picture is taken")
    opts = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="tl-shot-") as tmp:
        proc, url = serve(Path(tmp))
        try:
            shoot(url, opts.out, opts.progress)
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=20)
    print(opts.out)


if __name__ == "__main__":
    main()
