"""Classroom load: N sessions at once each start a small run on the Train page and watch it to the end.

By default each session starts the default run (the digits MLP, 220 steps) at the page's default
Speed, `watch`, as a class would; `--speed max` measures full-speed runs instead.

Starts the app with `python -m lab.ui.serve` on a free port (its own store in a temp dir), then plays
the browser's side of Streamlit's websocket protocol directly: BackMsg.rerun_script to load /train
(then with the page hash that ForwardMsg.navigation names) and to press Start, the fragment
auto-reruns the server asks for (ForwardMsg.auto_rerun) on their interval, and ForwardMsg deltas read
back (the "loss" chart, the status line, errors). A press on a widget drawn in a fragment (Start, on
the Train page) reruns that fragment, as the browser asks: the rerun names the fragment id of its
delta. Like the page's live components, each tab also polls the live-feed route
(lab/ui/live_routes.py) at the interval the page gives it, and reads the loss chart and status line
from there; when the feed says the run ended, the tab reruns the status line's fragment (or the
page) once, as the status component's `ended` trigger does. That measures the server, not N
Chromium renderers sharing the same 2 cores. First one session alone (the baseline), then N sessions that
press Start together; the report compares both with the issue's targets.

    python bench/load.py [--sessions 30] [--epochs 10] [--speed watch|fast|max] [--port 0] [--keep]

The loss chart and the status line are found by their keys ("loss", "run_status") on the live-chart
components (lab/ui/live_chart.py, components.v2 elements carrying the figure JSON or the status).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlencode

from streamlit.proto.Alert_pb2 import Alert
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ClientState_pb2 import ContextInfo
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from procs import cpu_seconds, process_tree, rss  # noqa: E402  (bench/procs.py)
from server import free_port, start_server, wait_health  # noqa: E402  (bench/server.py)

from lab.config import RunConfig  # noqa: E402
from lab.serving.store import RunStore  # noqa: E402

PAGE = "train"  # URL path of the Train page (st.navigation derives it from pages/train.py)
LOSS_SUFFIX = "-loss"  # Streamlit element ids end with the user key; the loss chart's key is "loss"
FIRST_POLL_MS = 250  # lab/ui/live_chart.js: the first poll of a new feed
STATUS_SUFFIX = "-run_status"  # the status line's component (lab.ui.dashboard.curves)
ENDED = ("completed", "stopped", "diverged", "failed", "interrupted")
# Issue 14's targets for a class in watch mode (web process + workers under half of the cores);
# `ratio` (throughput against one run alone) applies to full-speed runs only.
TARGETS = {"first": 1.5, "interval": 1.2, "cpu": 0.5, "ratio": 0.8, "memory": 4 * 2**30}


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


# ---- server memory --------------------------------------------------------------------------------


class MemorySampler(threading.Thread):
    """Samples the RSS of the server plus all its child processes every `period` seconds."""

    def __init__(self, root: int, period: float = 0.2):
        super().__init__(name="memory-sampler", daemon=True)
        self.root, self.period = root, period
        self.peak = self.peak_web = 0
        self.pids: list[int] = [root]
        self._stop = threading.Event()

    def run(self) -> None:
        """Sample until stopped."""
        while not self._stop.wait(self.period):
            self.pids = process_tree(self.root)
            sizes = [rss(p) for p in self.pids]
            self.peak = max(self.peak, sum(sizes))
            self.peak_web = max(self.peak_web, sizes[0])

    def reset(self) -> None:
        """Start a new peak (one per phase)."""
        self.peak = self.peak_web = 0

    def stop(self) -> None:
        """Stop sampling."""
        self._stop.set()

    def cpu(self) -> tuple[float, float]:
        """CPU seconds so far of the web process and of its children (workers, offload pool)."""
        web = cpu_seconds(self.root)
        return web, sum(cpu_seconds(p) for p in self.pids if p != self.root)


# ---- one simulated browser tab --------------------------------------------------------------------


def loss_points(spec: str | dict) -> tuple[int, float]:
    """(number of points, last step) of a loss figure (Plotly JSON or dict); (0, -1) for the empty state."""
    n, last = 0, -1.0
    for trace in (json.loads(spec) if isinstance(spec, str) else spec).get("data", []):
        xs = trace.get("x")
        if isinstance(xs, dict) and "bdata" in xs:  # Plotly's typed-array encoding of numpy data
            import numpy as np

            xs = np.frombuffer(base64.b64decode(xs["bdata"]), dtype=xs.get("dtype", "f8")).tolist()
        if xs:
            n += len(xs)
            last = max(last, float(xs[-1]))
    return n, last


@dataclass
class Session:
    """One browser tab on the Train page, speaking Streamlit's websocket protocol like the frontend does."""

    name: str
    ws_url: str
    http_url: str  # the server's base URL, for the live-feed route
    query: str  # the URL's query string; the server rewrites it (run, tok) and the tab follows
    page_hash: str = ""  # page_script_hash once the server named the page; until then the page name is sent
    start_id: str = ""  # widget id of the Start button
    start_fragment: str = ""  # the fragment the Start button is drawn in ("" when in the script body)
    status_fragment: str = ""  # ... and the status line, whose `ended` trigger reruns that fragment
    warming: bool = False  # the last full run still showed "workers are warming up"
    status: str = ""
    run_id: str = ""
    t_start: float = 0.0  # wall clock (time.time) when Start was sent
    t_first: float = 0.0  # ... when the first loss chart with points arrived
    t_end: float = 0.0  # ... when the status line said the run ended
    last_step: float = -1.0
    t_last_update: float = 0.0
    intervals: list = field(default_factory=list)  # seconds between loss-chart updates with new steps
    errors: list = field(default_factory=list)
    messages: int = 0
    ws: ClientConnection | None = None
    timers: dict = field(default_factory=dict)  # fragment id -> (interval, asyncio task)
    feed: dict | None = None  # the live feed the status component polls: url, interval_ms, version
    feed_task: asyncio.Task | None = None
    polls: int = 0
    round_trips: list = field(default_factory=list)  # seconds per feed request, sent to answered
    idle: asyncio.Event = field(default_factory=asyncio.Event)  # a full script run has finished
    done: asyncio.Event = field(default_factory=asyncio.Event)  # the run ended or the connection broke
    _reader: asyncio.Task | None = None

    async def open(self) -> None:
        """Connect and load the page (the browser's first rerun_script)."""
        # No Origin header and no XSRF token: the server allows both for non-browser clients.
        self.ws = await connect(self.ws_url, subprotocols=["streamlit"], max_size=None, ping_interval=None)
        self._reader = asyncio.create_task(self._read(), name=f"{self.name}-read")
        await self.rerun()

    async def rerun(self, fragment_id: str = "", trigger: str = "", auto: bool = False) -> None:
        """Send BackMsg.rerun_script: a full rerun, a Start press (trigger) or a fragment auto-rerun."""
        msg = BackMsg()
        state = msg.rerun_script
        state.query_string = self.query
        if self.page_hash:
            state.page_script_hash = self.page_hash
        else:
            state.page_name = PAGE
        state.fragment_id = fragment_id
        state.is_auto_rerun = auto
        # Only widgets that changed are sent: the server keeps every other widget's last value.
        state.widget_states.SetInParent()
        if trigger:
            state.widget_states.widgets.append(WidgetState(id=trigger, trigger_value=True))
        state.context_info.CopyFrom(ContextInfo(timezone="UTC", timezone_offset=0, locale="en-US"))
        if not auto:  # a page load or a press: wait for its script (or fragment) run to finish
            self.idle.clear()
        try:
            await self.ws.send(msg.SerializeToString())
        except ConnectionClosed as e:
            self._fail(f"connection closed while sending: {e}")

    async def press_start(self) -> None:
        """Click Start (a rerun of the button's fragment with its trigger set, as a browser does), remembering when."""
        self.t_start = time.time()
        await self.rerun(fragment_id=self.start_fragment, trigger=self.start_id)

    async def close(self) -> None:
        """Stop the timers and disconnect."""
        for _, task in self.timers.values():
            task.cancel()
        self.timers.clear()
        if self.feed_task is not None:
            self.feed_task.cancel()
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            self._reader.cancel()

    def _fail(self, why: str) -> None:
        self.errors.append(why)
        self.done.set()

    async def _tick(self, fragment_id: str, interval: float) -> None:
        """setInterval of the frontend: rerun the fragment every `interval` seconds, whatever the server does."""
        loop = asyncio.get_running_loop()
        t_next = loop.time() + interval
        while True:
            await asyncio.sleep(max(0.0, t_next - loop.time()))
            t_next += interval
            await self.rerun(fragment_id=fragment_id, auto=True)

    async def _poll_feed(self) -> None:
        """The live components' poller: GET the feed every interval_ms, read loss and status, rerun at the end."""
        first = True
        while self.feed is not None and not self.done.is_set():
            # As lab/ui/live_chart.js: a new feed asks after FIRST_POLL_MS, then every interval_ms.
            await asyncio.sleep(
                min(FIRST_POLL_MS, self.feed["interval_ms"]) / 1000 if first else self.feed["interval_ms"] / 1000
            )
            first = False
            feed = self.feed
            url = f"{self.http_url}/{feed['url']}&{urlencode({'since': feed['version']})}"
            try:
                t0 = time.time()
                payload = await asyncio.to_thread(_get_json, url)
                self.round_trips.append(time.time() - t0)
            except Exception as e:  # noqa: BLE001 (any failure is a measured error, not a crash of the bench)
                self.errors.append(f"feed request failed: {e!r}")
                continue
            self.polls += 1
            if not payload.get("unchanged"):
                feed["version"] = payload["version"]
                self._loss(payload["figures"]["loss"])
                self._status(payload["runs"])
            if not payload["active"]:
                self.feed = None
                await self.rerun(fragment_id=self.status_fragment)  # the status component's `ended` trigger
                return

    def _cancel_timers(self, ids=None) -> None:
        for fid in list(self.timers) if ids is None else ids:
            entry = self.timers.pop(fid, None)
            if entry:
                entry[1].cancel()

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                self.messages += 1
                self._handle(ForwardMsg.FromString(raw))
        except ConnectionClosed as e:
            if not self.done.is_set():
                self._fail(f"connection closed: {e}")
        except asyncio.CancelledError:
            raise
        except Exception as e:  # a bench bug must not look like a silent hang
            self._fail(f"client error: {e!r}")
        else:
            if not self.done.is_set():
                self._fail("connection closed by the server")

    def _handle(self, msg: ForwardMsg) -> None:
        kind = msg.WhichOneof("type")
        if kind == "new_session":
            self.page_hash = msg.new_session.page_script_hash or self.page_hash
            if not msg.metadata.run.fragment_ids:  # a full run: the frontend drops every auto-rerun timer
                self._cancel_timers()
                self.warming = False
        elif kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
            self._element(msg.delta.new_element, msg.delta.fragment_id)
        elif kind == "auto_rerun":
            fid, interval = msg.auto_rerun.fragment_id, msg.auto_rerun.interval
            if fid and self.timers.get(fid, (None,))[0] != interval:  # same interval again: keep the countdown
                self._cancel_timers([fid])
                self.timers[fid] = (interval, asyncio.create_task(self._tick(fid, interval)))
        elif kind == "stop_auto_rerun":
            self._cancel_timers(list(msg.stop_auto_rerun.fragment_ids))
        elif kind == "navigation":  # st.navigation names the page actually shown (new_session's is app.py's)
            self.page_hash = msg.navigation.page_script_hash or self.page_hash
        elif kind == "page_info_changed":
            self.query = msg.page_info_changed.query_string
            self.run_id = parse_qs(self.query).get("run", [self.run_id])[0]
        elif kind == "script_finished":
            if msg.script_finished in (ForwardMsg.FINISHED_SUCCESSFULLY, ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY):
                self.idle.set()
            elif msg.script_finished == ForwardMsg.FINISHED_WITH_COMPILE_ERROR:
                self._fail("script compile error")
        elif kind == "session_event" and msg.session_event.HasField("script_compilation_exception"):
            self._fail(f"script compilation exception: {msg.session_event.script_compilation_exception.message}")

    def _loss(self, spec) -> None:
        if not self.t_start:
            return
        n, last = loss_points(spec)
        now = time.time()
        if n and not self.t_first:
            self.t_first = self.t_last_update = now
            self.last_step = last
        elif n and last > self.last_step:
            self.intervals.append(now - self.t_last_update)
            self.t_last_update, self.last_step = now, last

    def _status(self, runs: list[dict]) -> None:
        if not runs or not self.t_start:
            return
        text = runs[0]["text"]
        self.status = text.split(" ", 1)[0]
        if self.status in ENDED and not self.t_end:
            self.t_end = time.time()
            if self.status != "completed":
                self.errors.append(f"run ended {self.status}: {text}")
            self.done.set()

    def _element(self, el, fragment_id: str = "") -> None:
        kind = el.WhichOneof("type")
        if kind == "plotly_chart" and el.plotly_chart.id.endswith(LOSS_SUFFIX):
            self._loss(el.plotly_chart.spec)
        elif kind == "bidi_component" and el.bidi_component.id.endswith(LOSS_SUFFIX):
            self._loss(json.loads(el.bidi_component.json)["figure"])  # lab.ui.live_chart: {"figure": json, ...}
        elif kind == "bidi_component" and el.bidi_component.id.endswith(STATUS_SUFFIX):
            data = json.loads(el.bidi_component.json)
            self.status_fragment = fragment_id
            self._status(data.get("runs", []))
            feed = data.get("feed")
            if feed and self.t_start and not self.done.is_set():
                self.feed = {**feed, "version": data["version"]}
                if self.feed_task is None or self.feed_task.done():
                    self.feed_task = asyncio.create_task(self._poll_feed(), name=f"{self.name}-feed")
        elif kind == "markdown" and "warming up" in el.markdown.body:
            self.warming = True
        elif kind == "button" and el.button.label == "Start":
            self.start_id, self.start_fragment = el.button.id, fragment_id
        elif kind == "exception":  # an uncaught error in the page: this tab is broken, stop watching it
            self._fail(f"exception {el.exception.type}: {el.exception.message or '(details hidden by the server)'}")
        elif kind == "alert" and el.alert.format == Alert.ERROR:
            self.errors.append(f"st.error: {el.alert.body}")


def _get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=30) as resp:
        return json.loads(resp.read())


# ---- phases ---------------------------------------------------------------------------------------


@dataclass
class Phase:
    """What a phase measured: its sessions, and the runs' rows from the store."""

    sessions: list
    rows: list
    peak: int
    peak_web: int
    cpu_web: float
    cpu_children: float
    cpu_client: float  # this bench's own CPU: it shares the cores with the server
    wall: float

    @property
    def completed(self) -> int:
        """Runs that ended `completed` in the store and were seen so by their session."""
        return sum(
            1 for s, r in zip(self.sessions, self.rows, strict=True) if r and r["status"] == "completed" and s.t_end
        )

    @property
    def images(self) -> int:
        """Images trained by all runs (steps x batch size, as the workers recorded them)."""
        return sum(r["summary"].get("steps", 0) * r["summary"].get("batch_size", 0) for r in self.rows if r)

    @property
    def throughput(self) -> float:
        """Images per second, from the first Start to the last run's end (store time)."""
        starts = [s.t_start for s in self.sessions if s.t_start]
        ends = [r["updated"] for r in self.rows if r and r["status"] not in ("queued", "running", "paused")]
        return self.images / (max(ends) - min(starts)) if starts and ends else 0.0

    @property
    def errors(self) -> list[str]:
        """One line per error, prefixed with its session."""
        out = [f"{s.name}: {e}" for s in self.sessions for e in s.errors]
        out += [f"{s.name}: no progress seen" for s in self.sessions if not s.t_first and not s.errors]
        return out


async def run_phase(
    base_ws: str, cfg: RunConfig, n: int, store: Path, sampler: MemorySampler, timeout: float, speed: str = ""
) -> Phase:
    """Open n tabs, wait until each has drawn the page, press Start in all at once, watch until every run ends.

    `speed` goes into each tab's URL when given; without it the page's default Speed applies.
    """
    http = "http://" + base_ws.split("://", 1)[1].split("/", 1)[0]
    extra = {"speed": speed} if speed else {}
    sessions = [
        Session(f"s{i:02d}", base_ws, http, urlencode({**cfg.replace(seed=i).to_query(), **extra})) for i in range(n)
    ]
    await asyncio.gather(*(s.open() for s in sessions))

    async def settle(s: Session) -> None:
        # Like a person waiting for the page: until the Start button is there and the workers are warm.
        while True:
            await asyncio.wait_for(s.idle.wait(), timeout)
            if s.start_id and not s.warming:
                return
            await asyncio.sleep(0.5)
            await s.rerun()

    await asyncio.gather(*(settle(s) for s in sessions))
    sampler.reset()
    cpu0, t0, client0 = sampler.cpu(), time.time(), time.process_time()
    await asyncio.gather(*(s.press_start() for s in sessions))

    async def started(s: Session) -> None:
        # The script run that handles the click must put the new run's id in the URL; if it did
        # not (a refused or crashed Start), the tab would otherwise wait for nothing until the timeout.
        await s.idle.wait()
        if not s.run_id:
            s._fail("Start did not start a run (no run id in the URL)")

    checks = [asyncio.create_task(started(s)) for s in sessions]
    _, pending = await asyncio.wait([asyncio.create_task(s.done.wait()) for s in sessions], timeout=timeout)
    for task in [*pending, *checks]:
        task.cancel()
    for s in sessions:
        if not s.done.is_set():
            s.errors.append(f"timed out after {timeout:.0f} s (status {s.status or 'none'})")
    wall = time.time() - t0
    cpu1, client = sampler.cpu(), time.process_time() - client0
    peak, peak_web = sampler.peak, sampler.peak_web
    await asyncio.gather(*(s.close() for s in sessions), return_exceptions=True)
    runs = RunStore(store)
    rows = [runs.get_run(s.run_id) if s.run_id else None for s in sessions]
    runs.close()
    for s, row in zip(sessions, rows, strict=True):
        if row is None and not s.errors:
            s.errors.append("no run in the store for the id in the URL")
    return Phase(sessions, rows, peak, peak_web, cpu1[0] - cpu0[0], cpu1[1] - cpu0[1], client, wall)


# ---- report ---------------------------------------------------------------------------------------


def report(args: argparse.Namespace, cfg: RunConfig, base: Phase, load: Phase, steps: int) -> None:
    """Print the baseline, the load phase and the targets table."""
    b = base.sessions[0]
    b_row = base.rows[0] or {"summary": {}}
    worker_ips = b_row["summary"].get("steps", 0) * b_row["summary"].get("batch_size", 0)
    worker_ips /= b_row["summary"].get("train_seconds") or float("inf")
    speed = args.speed or "watch (the page's default)"
    print(
        f"config    : default MLP on digits, {cfg.epochs} epochs = {steps:,} steps x {cfg.batch_size} per run; "
        f"speed {speed}"
    )
    print(
        f"baseline  : 1 session alone: Start -> first progress {b.t_first - b.t_start:.2f} s, "
        f"Start -> completed {b.t_end - b.t_start:.1f} s, {base.throughput:,.0f} images/s "
        f"({worker_ips:,.0f} images/s of training time as the worker measured it)"
    )
    firsts = [s.t_first - s.t_start for s in load.sessions if s.t_first]
    intervals = [x for s in load.sessions for x in s.intervals]
    trips = [x for s in load.sessions for x in s.round_trips]
    ratio = load.throughput / base.throughput if base.throughput else float("nan")
    n = len(load.sessions)
    print(
        f"load      : {n} sessions, Start pressed together; last run ended after {load.wall:.1f} s; "
        f"{sum(s.messages for s in load.sessions):,} ForwardMsgs and {sum(s.polls for s in load.sessions):,} feed "
        f"answers received, {len(intervals)} chart updates"
    )
    print(
        f"CPU       : web process {load.cpu_web:.0f} s, workers {load.cpu_children:.0f} s, this bench "
        f"{load.cpu_client:.0f} s, over {load.wall:.0f} s wall x {os.cpu_count()} cores; "
        f"peak RSS of the web process alone {load.peak_web / 2**30:.2f} GiB"
    )
    errors = load.errors
    cores = os.cpu_count() or 1
    cpu_share = (load.cpu_web + load.cpu_children) / (load.wall * cores) if load.wall else float("nan")
    full_speed = args.speed == "max"
    rows = [
        ("runs completed", f"{load.completed}/{n}", f"{n}/{n}", load.completed == n),
        ("errors", f"{len(errors)}", "0", not errors),
        ("Start -> first progress p50", f"{percentile(firsts, 50):.2f} s", "", None),
        (
            "Start -> first progress p95",
            f"{percentile(firsts, 95):.2f} s",
            f"< {TARGETS['first']:g} s",
            len(firsts) == n and percentile(firsts, 95) < TARGETS["first"],
        ),
        ("chart-update interval p50", f"{percentile(intervals, 50):.2f} s", "", None),
        (
            "chart-update interval p95",
            f"{percentile(intervals, 95):.2f} s",
            f"< {TARGETS['interval']:g} s",
            bool(intervals) and percentile(intervals, 95) < TARGETS["interval"],
        ),
        ("feed round trip p50 / p95", f"{percentile(trips, 50):.3f} / {percentile(trips, 95):.3f} s", "", None),
        (
            "web + workers CPU",
            f"{cpu_share:.0%} of {cores} cores",
            f"< {TARGETS['cpu']:.0%}",
            cpu_share < TARGETS["cpu"],
        ),
        ("total throughput", f"{load.throughput:,.0f} images/s", "", None),
        (
            "  vs one run alone",
            f"{ratio:.2f}x",
            f">= {TARGETS['ratio']:g}x" if full_speed else "(paced)",
            ratio >= TARGETS["ratio"] if full_speed else None,
        ),
        (
            "peak server memory",
            f"{load.peak / 2**30:.2f} GiB",
            f"< {TARGETS['memory'] / 2**30:g} GiB",
            0 < load.peak < TARGETS["memory"],
        ),
    ]
    print()
    print(f"{'metric':<30}{'value':>20}   {'target':<10}result")
    for name, value, target, ok in rows:
        print(f"{name:<30}{value:>20}   {target:<10}{'' if ok is None else 'PASS' if ok else 'FAIL'}")
    for line in errors[:20]:
        print(f"  error: {line}")
    if len(errors) > 20:
        print(f"  ... and {len(errors) - 20} more errors")


# ---- main -----------------------------------------------------------------------------------------


def stop_server(server: subprocess.Popen, pids: list[int]) -> None:
    """SIGTERM the server (Streamlit exits cleanly and its daemon workers with it), then kill what is left."""
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)
    for pid in pids:  # the tree as last sampled: workers that outlived the server
        if pid != server.pid and Path(f"/proc/{pid}").exists():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


async def bench(args: argparse.Namespace, ws_url: str, store: Path, sampler: MemorySampler) -> tuple[Phase, Phase]:
    """The baseline phase, then the load phase."""
    cfg = RunConfig(epochs=args.epochs)
    base = await run_phase(ws_url, cfg, 1, store, sampler, args.timeout, args.speed)
    if base.errors or not base.completed:
        raise RuntimeError(f"the baseline run failed: {base.errors}")
    load = await run_phase(ws_url, cfg, args.sessions, store, sampler, args.timeout, args.speed)
    return base, load


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def main() -> int:
    """Start the server, run both phases, print the report, shut everything down."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sessions", type=int, default=30, help="concurrent sessions in the load phase")
    # The default run: 10 epochs of the MLP on digits, 220 steps, about 20 s at the page's watch pace.
    p.add_argument("--epochs", type=int, default=RunConfig().epochs, help="epochs of each run (default MLP on digits)")
    p.add_argument("--speed", default="", choices=["", "watch", "fast", "max"], help="'' = the page's default")
    p.add_argument("--port", type=int, default=0, help="server port (0 = a free one)")
    p.add_argument("--timeout", type=float, default=900, help="seconds a phase may take before it counts as failed")
    p.add_argument("--keep", action="store_true", help="keep the temp dir (store, server.log)")
    args = p.parse_args()
    signal.signal(signal.SIGTERM, _interrupt)  # `kill` or `timeout` shut the server down too, like Ctrl-C
    tmp = Path(tempfile.mkdtemp(prefix="lab-load-"))
    port = args.port or free_port()
    server = start_server(port, tmp)
    sampler = MemorySampler(server.pid)
    sampler.start()
    try:
        wait_health(f"http://127.0.0.1:{port}", server)
        base, load = asyncio.run(bench(args, f"ws://127.0.0.1:{port}/_stcore/stream", tmp / "runs.db", sampler))
        steps = (base.rows[0] or {}).get("summary", {}).get("steps", 0)
        report(args, RunConfig(epochs=args.epochs), base, load, steps)
    except KeyboardInterrupt:
        print("interrupted; shutting the server down", file=sys.stderr)
        return 130
    except BaseException:
        log = (tmp / "server.log").read_text(errors="replace").splitlines()[-30:]
        print("server.log (last lines):\n" + "\n".join(log), file=sys.stderr)
        raise
    finally:
        sampler.stop()
        stop_server(server, sampler.pids)
        if args.keep:
            print(f"kept {tmp}")
        else:
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # Not sys.exit: after an interrupt, feed requests still waiting in asyncio.to_thread's worker
    # threads would hold the interpreter's exit until they time out.
    os._exit(code)
