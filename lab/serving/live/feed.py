"""LiveFeed: the Train page's status line and loss, accuracy and learning-rate charts as one JSON payload.

Why a feed: the curves change every fraction of a second while a run trains. Drawing
them through Streamlit meant a fragment rerun per poll per student: a script run on the
server, a protobuf delta, and a React re-render of the fragment in the browser, all to
move a few points. The page now mounts its live charts once (lab/ui/live_chart.py) and
their script fetches this payload from a plain HTTP route (lab/ui/live_routes.py):

- an unchanged run costs one indexed SQLite read and a few bytes ("unchanged");
- a changed run costs an incremental read of the new rows and about a millisecond to
  build the three chart specs (`lab.charts.live.*_spec`), and the result is shared by
  every viewer of the same run(s);
- the browser only hands the new figures to `Plotly.react`.

The same payload is what the page draws on a full script run, so the first paint needs
no request and tests can read the figures from the page.
"""

from __future__ import annotations

import json
import re
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Sequence

from lab.charts import live as charts
from lab.charts.style import figure_json, presenter_spec
from lab.lifecycle import ACTIVE, RunStatus
from lab.serving.live.layers import build_layers, layer_version
from lab.serving.run_history import RunHistory
from lab.serving.store import RunStore

MAX_RUNS = 2  # run A and its comparison run B
MAX_TRACKED = 128  # runs whose history is held in memory (least recently polled are dropped first)
RUN_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")  # what lab.serving.store.new_run_id can mint (and tests' own ids)
CHARTS = ("loss", "accuracy", "lr")
RATE_WINDOW = 15  # train rows whose images/s the status line takes the median of


class FeedError(ValueError):
    """A malformed feed request (one line naming the parameter, the value and what is allowed)."""


def parse_run_ids(text: str) -> list[str]:
    """`a` or `a,b` from a URL parameter, validated; raises FeedError."""
    ids = [p for p in text.split(",") if p]
    if not 1 <= len(ids) <= MAX_RUNS or not all(RUN_ID.fullmatch(i) for i in ids):
        raise FeedError(
            f"runs={text[:80]!r} is invalid: expected 1 to {MAX_RUNS} run ids separated by a comma, "
            "each 1-64 letters, digits, '-' or '_'"
        )
    return ids


def steady_rate(train: Sequence[dict], window: int = RATE_WINDOW) -> float:
    """Images/s of a run as a steady figure: the median over its last `window` train rows.

    The trainer measures each half-second of wall time, so a window in which the worker turned
    to another run, evaluated or paused reads as a slump (126 against 10,411 images/s for one
    config); the median of recent windows ignores those without lagging behind a real change.
    """
    rates = sorted(r for row in train[-window:] if (r := row.get("images_per_s")))
    return rates[len(rates) // 2] if rates else 0.0


def status_text(row: dict, train: list, val: list, queue_position: int = 0) -> tuple[str, float]:
    """The status line of one run ('running · step 120/600 · val acc 81.0% · ...') and its progress 0..1."""
    meta = row.get("meta", {})
    total = meta.get("total_steps") or row.get("summary", {}).get("total_steps") or 0
    step = meta.get("step", 0)
    status = row.get("status", "missing")
    parts = [status, f"step {step}/{total}"]
    if row.get("config", {}).get("until_paused"):
        # The total is the server's step limit, not a length the student chose: "step 120/200000" misreads.
        parts[1] = f"step {step:,} (until paused; the server stops it at {total:,})" if total else f"step {step:,}"
    if val:
        parts.append(f"val acc {val[-1]['val_acc']:.1%}")
    ips = steady_rate(train)
    if ips:
        parts.append(f"{ips:,.0f} images/s")
    if queue_position:
        parts.append(f"waiting, position {queue_position} in the queue")
    if row.get("reason") and (status not in ACTIVE or status == RunStatus.PAUSED):  # paused: "stepping to step 44"
        parts.append(row["reason"])
    return " · ".join(parts), (min(1.0, step / total) if total else 0.0)


class LiveFeed:
    """Builds and caches live payloads (curves, and per-layer charts) for sets of runs; thread-safe, one per server."""

    def __init__(self, store: RunStore, queue_position: Callable[[str], int] | None = None):
        self.store = store
        self.queue_position = queue_position or (lambda run_id: 0)
        # One short global lock for the dicts, one lock per run and per payload for the slow parts: a slow
        # build (a busy server) holds up only the viewers of the same runs, never everyone's poll.
        self._lock = threading.Lock()
        self._history: OrderedDict[str, tuple[RunHistory, threading.Lock]] = OrderedDict()
        self._built: dict[tuple, tuple[str, dict]] = {}  # (kind, run ids, presenter) -> (version, payload)
        self._building: dict[tuple, threading.Lock] = {}
        self._layer_versions: dict[tuple, tuple[str, str]] = {}  # run ids -> (store version, layer version)

    def version(self, run_ids: Sequence[str]) -> str:
        """A token that changes whenever anything the payload shows may have changed."""
        rows = self.store.versions(run_ids)
        parts = []
        for rid in run_ids:
            status, updated = rows.get(rid, ("missing", 0.0))
            pos = self.queue_position(rid) if status == RunStatus.QUEUED else 0
            parts.append(f"{status}:{updated:.6f}:{pos}")
        return "|".join(parts)

    def payload(self, run_ids: Sequence[str], presenter: bool = False, version: str | None = None) -> dict:
        """The current payload: version, active, per-run status lines and the three figures (JSON texts)."""
        version = self.version(run_ids) if version is None else version  # poll() has just read it
        return self._cached(
            ("curves", tuple(run_ids), presenter), version, lambda: self._build(run_ids, presenter, version)
        )

    def poll(self, run_ids: Sequence[str], presenter: bool = False, since: str = "") -> str:
        """The payload as JSON text, or a few bytes saying 'unchanged' when `since` is still current."""
        version = self.version(run_ids)
        if since and since == version:
            return _unchanged(version, _active(version))
        p = self.payload(run_ids, presenter, version)
        return _splice(p, ("version", "active", "runs"), CHARTS)

    def layers_version(self, run_ids: Sequence[str]) -> str:
        """The per-layer payload's version, read from the store only when it moved."""
        return self._layer_state(run_ids)[0]

    def layers_payload(self, run_ids: Sequence[str], presenter: bool = False, focus: str | None = None) -> dict:
        """Run A's hints and every per-layer chart (lab.serving.live.layers.build_layers), cached per version.

        `focus`: the layer picked in the network overview (the charts then show it alone or highlighted).
        """
        return self._layers_payload(run_ids, presenter, *self._layer_state(run_ids), focus)

    def _layers_payload(
        self,
        run_ids: Sequence[str],
        presenter: bool,
        version: str,
        histories: list[RunHistory] | None,
        focus: str | None = None,
    ) -> dict:
        def build() -> dict:  # the histories just read, when the version moved; else (rarely) read them now
            held = histories or self._histories(run_ids, snapshots=True)
            return build_layers(held, presenter, layer_version(held), focus)

        return self._cached(("layers", tuple(run_ids), presenter, focus), version, build)

    def _layer_state(self, run_ids: Sequence[str]) -> tuple[str, list[RunHistory] | None]:
        """(layer version, the histories read to compute it), or (version, None) when nothing was written since."""
        key = tuple(run_ids)
        base = self.version(run_ids)
        held = self._layer_versions.get(key)
        if held is not None and held[0] == base:
            return held[1], None
        histories = self._histories(run_ids, snapshots=True)
        version = layer_version(histories)
        with self._lock:
            if len(self._layer_versions) > MAX_TRACKED:
                self._layer_versions.clear()
            self._layer_versions[key] = (base, version)
        return version, histories

    def poll_layers(
        self, run_ids: Sequence[str], presenter: bool = False, since: str = "", focus: str | None = None
    ) -> str:
        """The per-layer payload as JSON text, or 'unchanged' when `since` is still current."""
        version, histories = self._layer_state(run_ids)
        if since and since == version:
            return _unchanged(version, _active(version))
        p = self._layers_payload(run_ids, presenter, version, histories, focus)
        return _splice(p, ("version", "active", "total_steps", "hints"), p["figures"])

    def _cached(self, key: tuple, version: str, build: Callable[[], dict]) -> dict:
        with self._lock:
            building = self._building.setdefault(key, threading.Lock())
        with building:
            held = self._built.get(key)
            if held is not None and held[0] == version:
                return held[1]  # built meanwhile by another viewer of the same runs
            built = build()
            with self._lock:
                if len(self._built) > MAX_TRACKED:
                    # Rare (a server watching over a hundred run sets); rebuilding is cheap.
                    self._built.clear()
                    self._building = {key: building}
                self._built[key] = (built["version"], built)
            return built

    def _histories(self, run_ids: Sequence[str], snapshots: bool = False) -> list[RunHistory]:
        """Each run's history brought up to date, as copies that later fetches do not change."""
        out = []
        for rid in run_ids:
            with self._lock:
                held = self._history.pop(rid, None) or (RunHistory(rid), threading.Lock())
                self._history[rid] = held  # most recently used last
                while len(self._history) > MAX_TRACKED:
                    self._history.popitem(last=False)
            history, lock = held
            with lock:
                # Snapshots are read only for the per-layer payload: the curves' polls skip them (a later
                # fetch continues after the last snapshot held, so skipping leaves no gap).
                out.append(history.fetch_new(self.store, snapshots=snapshots).copy())
        return out

    def _build(self, run_ids: Sequence[str], presenter: bool, version: str) -> dict:
        histories = self._histories(run_ids)
        pair = len(histories) > 1
        series = [
            charts.RunSeries(h.row.get("label") or f"run {'AB'[i]}", h.train, h.val) for i, h in enumerate(histories)
        ]
        first = histories[0].row if histories else {}
        loss_name = "mean squared error" if first.get("config", {}).get("loss") == "mse" else "cross-entropy"
        specs = {
            "loss": charts.loss_spec(series, loss_name=loss_name),
            "accuracy": charts.accuracy_spec(series, n_classes=first.get("meta", {}).get("n_classes")),
            "lr": charts.lr_spec(series),
        }
        if presenter:
            specs = {name: presenter_spec(spec) for name, spec in specs.items()}
        runs = []
        for i, (rid, h) in enumerate(zip(run_ids, histories, strict=True)):
            pos = self.queue_position(rid) if h.row.get("status") == RunStatus.QUEUED else 0
            text, progress = status_text(h.row, h.train, h.val, pos)
            runs.append({"id": rid, "label": f"Run {'AB'[i]}" if pair else "Run", "text": text, "progress": progress})
        return {
            "version": version,
            "active": any(h.row.get("status") in ACTIVE for h in histories),
            "runs": runs,
            "figures": {name: figure_json(spec) for name, spec in specs.items()},
        }


def _active(version: str) -> bool:
    return any(part.split(":", 1)[0] in ACTIVE for part in version.split("|"))


def _unchanged(version: str, active: bool) -> str:
    return json.dumps({"version": version, "active": active, "unchanged": True})


def _splice(payload: dict, head_keys: Sequence[str], figure_names) -> str:
    """The payload as JSON text with its figure JSON texts spliced in, not re-encoded."""
    figures = ",".join(f'"{name}":{payload["figures"][name]}' for name in figure_names)
    head = json.dumps({k: payload[k] for k in head_keys})
    return head[:-1] + ',"figures":{' + figures + "}}"


_feeds: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_feeds_lock = threading.Lock()


def feed_for(jobs) -> LiveFeed:
    """The LiveFeed of a JobManager (one per manager, so the page and the HTTP route share its cache)."""
    with _feeds_lock:
        feed = _feeds.get(jobs)
        if feed is None:
            feed = _feeds[jobs] = LiveFeed(jobs.store, jobs.queue_position)
        return feed
