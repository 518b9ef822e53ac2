"""One run's history as a reader sees it: the store row plus metric rows and snapshots fetched incrementally.

Shared by the pages (`lab.ui.runs.RunView`) and the live feed (`lab.serving.live.feed`): each
fetch reads only rows newer than the last one held, so following a long run costs an
indexed read per poll, however long the run is.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lab.engine.recording.thinning import thin
from lab.lifecycle import ACTIVE
from lab.serving.store import RunStore

MAX_CACHED_SNAPSHOTS = 400  # per run and reader; thinned like the recorder's own history


@dataclass
class RunHistory:
    """A run's row plus its train rows, validation rows and (optionally) snapshots, oldest first."""

    run_id: str
    row: dict = field(default_factory=dict)
    train: list = field(default_factory=list)
    val: list = field(default_factory=list)
    snapshots: list = field(default_factory=list)

    @property
    def status(self) -> str:
        """queued, running, paused, completed, stopped, diverged, failed, interrupted or missing."""
        return self.row.get("status", "missing")

    @property
    def active(self) -> bool:
        """True while the run can still change."""
        return self.status in ACTIVE

    @property
    def meta(self) -> dict:
        """Layer names, histogram edges, totals (from the store)."""
        return self.row.get("meta", {})

    def fetch_new(self, store: RunStore, snapshots: bool = True) -> RunHistory:
        """Read the row and append only the rows (and snapshots) newer than those held; returns self."""
        self.row = store.get_run(self.run_id) or {"status": "missing"}
        self.train += store.metrics(self.run_id, "train", self.train[-1]["step"] if self.train else -1)
        self.val += store.metrics(self.run_id, "val", self.val[-1]["step"] if self.val else -1)
        if snapshots:
            self.snapshots += store.snapshots(self.run_id, self.snapshots[-1]["step"] if self.snapshots else -1)
            if len(self.snapshots) > MAX_CACHED_SNAPSHOTS:
                self.snapshots = thin(self.snapshots)
        return self

    def copy(self) -> RunHistory:
        """A shallow copy whose lists can be read while this one keeps growing."""
        return RunHistory(self.run_id, self.row, list(self.train), list(self.val), list(self.snapshots))
