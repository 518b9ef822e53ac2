"""Live-lab latency in a real browser: a watched run's chart updates, and the page's cost at full speed.

Watch mode (the Train page's default Speed): the default digits MLP and the spiral 3x32 demo,
each started from a fresh page; measures Start -> first loss points, how often the loss chart
gains points for the whole run (target: at least twice a second), the run's length and the
histogram columns (snapshots) it recorded.

Max mode: starts the app with `python -m lab.ui.serve` on a free port, drives Debian's chromium with
Playwright, and compares the run's training speed (steps x batch / training seconds, as the
worker measured it) with the same config trained headless in a fresh process, side by side:
each repeat pairs one page run with one headless run right before or after it (alternating),
so the slow drifts of a shared machine hit both sides of a pair alike, and the median of the
pairs' ratios is the figure.

    python bench/latency.py [--repeats 5] [--skip-watch] [--skip-max]
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from procs import cpu_seconds, process_tree  # noqa: E402  (bench/procs.py)
from server import free_port, start_server, wait_health  # noqa: E402  (bench/server.py)

from lab.config import RunConfig  # noqa: E402
from lab.serving.store import RunStore  # noqa: E402

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-dev-shm-usage",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
# The observer lives in the page: a 25 ms timer there reads the loss chart's traces and notes when
# they change and when the status line reads completed. Python only reads the notes, twice a
# second. An observer that asks the page from Python every few milliseconds (one Playwright round
# trip each) is a load no student puts on the page: it cost Chromium about a third of a core here,
# which the training run then lost on this 2-core machine.
OBSERVE_JS = """(sel) => { const notes = { changes: [], done: null }; let last = '';
  // A chart's signature: each trace's length and last x. Not the length alone: once the history is
  // thinned to its bound, a new poll can bring as many points as it drops.
  const signature = () => { const el = document.querySelector(sel); if (!el || !el.data) return '';
    return el.data.map((t) => { const x = t.x; if (!x) return '';
      if (x.length !== undefined) return x.length ? x.length + ':' + x[x.length - 1] : '';
      return x.bdata ? x.bdata.length + ':' + x.bdata.slice(-12) : ''; }).join('|'); };
  const completed = () => [...document.querySelectorAll('.tl-status-line')].some(
    (line) => line.textContent.startsWith('Run \u00b7 completed'));
  const timer = setInterval(() => { const sig = signature();
    if (sig !== last && sig.replace(/[|]/g, '') !== '') notes.changes.push(Date.now());
    last = sig;
    if (completed()) { notes.done = Date.now(); clearInterval(timer); }
  }, 25);
  window.__benchNotes = notes; }"""
READ_JS = "() => window.__benchNotes"


def headless_ips(cfg: RunConfig, threads: int) -> float:
    """Images/s of the same run trained headless in a fresh process with `threads` torch threads."""
    code = (
        f"import torch; torch.set_num_threads({threads}); from lab.config import RunConfig; "
        f"from lab.engine.trainer import Trainer; t = Trainer(RunConfig.from_json({cfg.to_json()!r})).fit(); "
        "print(t.step * t.batch_size / t.train_seconds)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


SEL = ".st-key-loss .js-plotly-plot"
WATCH = {  # the two default-size runs, at the page's default Speed (no `speed` in the URL)
    "default digits MLP": RunConfig(),
    "spiral 3x32 MLP demo": RunConfig(dataset="spiral", depth=3, width=32, epochs=60),
}


def cpu_by_side(server: int) -> dict[str, float]:
    """CPU seconds so far of the web process, its workers and the browser side (Chromium and Playwright)."""
    served = process_tree(server)
    browser = [p for p in process_tree(os.getpid()) if p not in served and p != os.getpid()]
    return {
        "web": cpu_seconds(server),
        "workers": sum(cpu_seconds(p) for p in served if p != server),
        "browser": sum(cpu_seconds(p) for p in browser),
    }


def p95(values: list[float]) -> float:
    """Nearest-rank 95th percentile (NaN for no values)."""
    return sorted(values)[max(0, int(len(values) * 0.95) - 1)] if values else float("nan")


def open_and_start(browser, url: str, query: dict) -> tuple:
    """A fresh Train page with `query`, Start pressed once it has loaded; (page, time.time() of the click)."""
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(f"{url}/train?" + "&".join(f"{k}={v}" for k, v in query.items()))
    page.wait_for_selector("[data-testid=stAppViewContainer]")
    # A person presses Start on a page that has finished loading: the (still empty) loss
    # chart is drawn, so Plotly's bundle is in and the first script run is over. The
    # warming-up notice comes before the chart in that run, so only now is its absence
    # meaningful; it goes by itself once the server's workers are ready.
    page.locator(SEL).wait_for(timeout=120_000)
    page.get_by_text("warming up").wait_for(state="detached", timeout=120_000)
    page.wait_for_timeout(1000)
    page.evaluate(OBSERVE_JS, SEL)
    t0 = time.time()
    page.get_by_role("button", name="Start").click()
    return page, t0


def follow(page, t0: float) -> tuple[float, list[float], float]:
    """(Start -> first points, seconds between loss-chart updates, Start -> completed) of the page's run.

    `t0` is the wall-clock time (time.time()) of the click; the in-page observer (OBSERVE_JS) must
    have been installed before it.
    """
    page.wait_for_function("() => window.__benchNotes && window.__benchNotes.done", timeout=300_000, polling=500)
    notes = page.evaluate(READ_JS)
    stamps = [ms / 1000 for ms in notes["changes"]]
    intervals = [b - a for a, b in zip(stamps, stamps[1:], strict=False)]
    return stamps[0] - t0, intervals, notes["done"] / 1000 - t0


def watch_phase(browser, url: str, store: Path) -> None:
    """Each watch-mode run from a fresh page: first points, update rate over the whole run, columns."""
    print("watch mode (the Train page's default Speed), one run each:")
    for name, cfg in WATCH.items():
        page, t0 = open_and_start(browser, url, cfg.to_query())
        first, intervals, length = follow(page, t0)
        page.close()
        runs = RunStore(store)
        row = runs.list_runs(limit=1)[0]
        columns = len(runs.snapshots(row["id"]))
        runs.close()
        moving = length - first  # from the first points to the end
        rate = len(intervals) / moving if moving > 0 else float("nan")
        ok = first < 1.0 and rate >= 2.0 and p95(intervals) <= 0.5
        print(
            f"  {name:<22}: {row['config']['speed']}, {row['summary']['steps']} steps in {length:.1f} s; "
            f"first points {first:.2f} s (target < 1 s); {len(intervals)} chart updates, {rate:.1f}/s "
            f"(target >= 2/s), interval median {statistics.median(intervals):.2f} s, p95 {p95(intervals):.2f} s, "
            f"max {max(intervals):.2f} s; {columns} histogram columns   {'PASS' if ok else 'FAIL'}"
        )


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def main() -> None:
    """Measure and print the watch-mode and max-mode figures of the live lab."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--skip-watch", action="store_true", help="only the max-mode page/headless pairs")
    p.add_argument("--skip-max", action="store_true", help="only the watch-mode runs")
    args = p.parse_args()
    signal.signal(signal.SIGTERM, _interrupt)  # `timeout` or `kill` shut the server down too, like Ctrl-C
    from playwright.sync_api import sync_playwright

    cfg = RunConfig(epochs=1000)  # ~22,000 steps of the default MLP on digits: seconds of training, not a blink
    tmp = Path(tempfile.mkdtemp())
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = start_server(port, tmp)
    first_points, intervals, web_ips, head, ratios = [], [], [], [], []
    shares: list[dict[str, float]] = []  # each page run's CPU, as a share of one core, by side
    threads = 1  # what each of the server's workers uses on this 2-core machine (cores // workers)
    try:
        wait_health(url, server)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            if not args.skip_watch:
                watch_phase(browser, url, tmp / "runs.db")
            for r in range(0 if args.skip_max else args.repeats):
                if r % 2 == 1:  # odd repeats: the headless run first
                    head.append(headless_ips(cfg.replace(seed=r), threads))
                # speed=max in the URL: the page would otherwise pace the run (its default is watch)
                page, t0 = open_and_start(browser, url, {**cfg.to_query(), "seed": r, "speed": "max"})
                cpu0, w0 = cpu_by_side(server.pid), time.time()
                first, gaps, _ = follow(page, t0)
                cpu1, w1 = cpu_by_side(server.pid), time.time()
                shares.append({k: (cpu1[k] - cpu0[k]) / (w1 - w0) for k in cpu0})
                first_points.append(first)
                intervals.extend(gaps)
                summary = RunStore(tmp / "runs.db").list_runs(limit=1)[0]["summary"]  # this repeat's run
                web_ips.append(summary["steps"] * summary["batch_size"] / summary["train_seconds"])
                page.close()
                if r % 2 == 0:
                    head.append(headless_ips(cfg.replace(seed=r), threads))
                ratios.append(web_ips[-1] / head[-1])
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    if args.skip_max:
        return
    head_all = [headless_ips(cfg.replace(seed=r), os.cpu_count() or 1) for r in range(args.repeats)]
    print(f"max mode: default MLP on digits, {cfg.epochs} epochs; {args.repeats} runs")
    print(
        f"Start -> first loss points : median {statistics.median(first_points):.2f} s, "
        f"max {max(first_points):.2f} s   (target < 2 s)"
    )
    print(f"  each repeat, in order    : {', '.join(f'{t:.2f}' for t in first_points)} s")
    print(
        f"chart refresh interval     : median {statistics.median(intervals):.2f} s, p95 {p95(intervals):.2f} s, "
        f"{len(intervals)} updates   (target <= 1 s)"
    )
    mw, mh, ma = statistics.median(web_ips), statistics.median(head), statistics.median(head_all)
    print(f"training speed, page open  : {mw:,.0f} images/s (worker, {threads} thread)")
    print(
        f"training speed, headless   : {mh:,.0f} images/s ({threads} thread), {ma:,.0f} images/s "
        f"({os.cpu_count()} threads)"
    )
    print(f"  pairs page/headless      : {', '.join(f'{x:.2f}' for x in ratios)}")
    side = {k: statistics.median(sh[k] for sh in shares) for k in shares[0]}
    print(
        "CPU during a page run      : "
        + ", ".join(f"{k} {v:.0%}" for k, v in side.items())
        + " of one core (median; from Start until the bench sees completed)"
    )
    print(
        f"ratio page/headless        : median of pairs {statistics.median(ratios):.2f}x (same threads); "
        f"{mw / ma:.2f}x vs headless on all cores   (target >= 0.9x)"
    )


if __name__ == "__main__":
    main()
