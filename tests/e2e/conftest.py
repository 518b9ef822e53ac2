"""Real-browser test harness: a live `streamlit run app.py` server and Playwright pages on Debian's chromium.

Fixtures: `app_server` (base URL of a server started once per session), `browser` (one chromium per
session) and `page` (a fresh browser context and page per test). Helpers for test modules in this
package: `wait_for_chart_points` and `screenshot`, imported with `from .conftest import ...`.

Every test collected under tests/e2e/ is marked `e2e`, so `-m "not e2e"` runs the fast suite alone.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
CHROMIUM = os.environ.get("TRAINING_LAB_CHROMIUM", "/usr/bin/chromium")
# Playwright cannot download its own browser here, so it drives Debian's chromium. We run as root, hence
# --no-sandbox; the background/sync/update flags stop chromium calling home, which this closed network
# refuses (slowly and noisily); /dev/shm is small in containers.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-dev-shm-usage",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
VIEWPORT = {"width": 1400, "height": 900}
SERVER_START_TIMEOUT_S = 60.0


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test in this directory `e2e` (this hook sees the whole session, so filter by path)."""
    here = Path(__file__).resolve().parent
    for item in items:
        if here in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.e2e)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    """Keep each phase's report on the item so the `page` fixture can screenshot failures."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


def _free_port() -> int:
    """Ask the OS for a currently unused TCP port on the loopback interface."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _healthy(base_url: str) -> bool:
    """True once Streamlit's health endpoint answers `ok`."""
    try:
        with urllib.request.urlopen(f"{base_url}/_stcore/health", timeout=2) as resp:
            return resp.status == 200 and resp.read().strip() == b"ok"
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return False


def _stop(proc: subprocess.Popen) -> None:
    """Terminate the server's whole process group (streamlit may start workers), then make sure."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    except ProcessLookupError:
        pass


@pytest.fixture(scope="session")
def app_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Start `streamlit run app.py` on a free port with a throwaway store and data dir; yield its base URL."""
    tmp = tmp_path_factory.mktemp("app_server")
    data_dir = tmp / "data"
    data_dir.mkdir()
    env = {
        **os.environ,
        "TRAINING_LAB_STORE": str(tmp / "runs.sqlite"),
        "TRAINING_LAB_DATA_DIR": str(data_dir),
        "PYTHONUNBUFFERED": "1",
    }
    log_path = tmp / "server.log"
    # A port found free can be taken before streamlit binds it; try a few before giving up.
    for _attempt in range(3):
        port = _free_port()
        base_url = f"http://127.0.0.1:{port}"
        # sys.executable is the venv's python that runs pytest, so the server sees the same packages.
        cmd = [
            sys.executable, "-m", "lab.ui.serve",
            "--server.headless", "true",
            "--server.port", str(port),
            "--server.address", "127.0.0.1",
            "--browser.gatherUsageStats", "false",
            "--server.fileWatcherType", "none",
        ]  # fmt: skip
        # Output goes to a file, not a pipe: nobody reads a pipe while tests run, and a full pipe blocks the server.
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while time.monotonic() < deadline and proc.poll() is None and not _healthy(base_url):
            time.sleep(0.25)
        if proc.poll() is None and _healthy(base_url):
            break
        exited = proc.poll() is not None
        _stop(proc)
        output = log_path.read_text(errors="replace")
        if "already in use" not in output:
            why = (
                f"exited with code {proc.returncode}" if exited else f"not healthy after {SERVER_START_TIMEOUT_S:.0f} s"
            )
            pytest.fail(f"streamlit at {base_url} {why}. Server output:\n{output[-5000:]}", pytrace=False)
    else:
        pytest.fail(f"no free port found for streamlit after 3 attempts:\n{output[-5000:]}", pytrace=False)

    try:
        yield base_url
    finally:
        _stop(proc)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One headless Debian chromium for the whole session (launching costs about a second)."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} not found: run `bash scripts/setup.sh` (it installs Debian's chromium)", pytrace=False)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A fresh context and page per test (so no session state leaks); screenshots itself if the test fails."""
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        yield page
    finally:
        report = getattr(request.node, "report_call", None)
        if report is not None and report.failed:
            try:
                screenshot(page, f"FAILED-{request.node.name}")
            except Exception as exc:  # a dead page must not hide the test's own failure
                print(f"could not take failure screenshot: {exc}", file=sys.stderr)
        context.close()


# Counts the points of every trace in the first Plotly chart inside `.st-key-<key>`. Plotly keeps the
# traces on the chart's DOM node as `data`; an `x` may be a plain or typed array, or, when plotly.py
# sent a numpy array, a {dtype, bdata} base64 object that plotly.js decodes into `_inputArray`.
_COUNT_POINTS_JS = """
(selector) => {
  const el = document.querySelector(selector);
  if (!el || !Array.isArray(el.data)) return -1;
  const size = {i1: 1, u1: 1, i2: 2, u2: 2, i4: 4, u4: 4, f4: 4, f8: 8, i8: 8, u8: 8};
  let total = 0;
  for (const trace of el.data) {
    const x = trace && trace.x;
    if (x == null) continue;
    if (typeof x.length === "number") total += x.length;
    else if (x._inputArray && typeof x._inputArray.length === "number") total += x._inputArray.length;
    else if (typeof x.bdata === "string") {
      const bytes = Math.floor(x.bdata.length * 3 / 4) - (x.bdata.match(/=*$/)[0].length);
      total += Math.floor(bytes / (size[x.dtype] || 8));
    }
  }
  return total;
}
"""


def count_chart_points(page: Page, key: str) -> int:
    """Total x points over all traces of the Plotly chart with Streamlit `key`; -1 if it is not drawn yet."""
    return page.evaluate(_COUNT_POINTS_JS, f".st-key-{key} .js-plotly-plot")


def wait_for_chart_points(page: Page, key: str, min_points: int, timeout: float = 60.0) -> int:
    """Wait until the Plotly chart with Streamlit `key` holds at least `min_points` x points; return the count.

    `timeout` is in seconds. Waits on the chart's content in the DOM, not on a timer.
    """
    selector = f".st-key-{key} .js-plotly-plot"
    predicate = f"(args) => ({_COUNT_POINTS_JS})(args[0]) >= args[1]"
    try:
        page.wait_for_function(predicate, arg=[selector, min_points], timeout=timeout * 1000, polling=250)
    except PlaywrightTimeoutError as exc:
        seen = count_chart_points(page, key)
        raise AssertionError(
            f"chart {key!r} had {seen} points (-1: not drawn) after {timeout:.0f} s; wanted >= {min_points}"
        ) from exc
    return count_chart_points(page, key)


def screenshot(page: Page, name: str) -> Path:
    """Save a full-page PNG as tests/e2e/screenshots/<name>.png (gitignored) and return its path."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', name)}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
