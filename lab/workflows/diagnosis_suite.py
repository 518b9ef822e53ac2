"""Train the diagnosis scenarios (lab.diagnosis.scenarios) as a user would and read their hints.

Each run goes through the StoreWriter into a throwaway store and is diagnosed from the stored
rows, exactly as the Train page, the feed and the CLI read it. `check_fix` trains the same config
with the first warning's fix and says whether it helped.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from lab.config import RunConfig
from lab.diagnosis import Hint, diagnose_run
from lab.diagnosis.arbiter import PROBLEM
from lab.diagnosis.scenarios import Scenario
from lab.diagnosis.verdict import fix_helped
from lab.engine.trainer import Trainer
from lab.serving.persist import StoreWriter
from lab.serving.store import RunStore


@dataclass
class Outcome:
    """A trained scenario: its summary (as stored) and its hints."""

    config: RunConfig
    summary: dict
    hints: list[Hint]
    row: dict = field(default_factory=dict)  # the store row (config, meta, status, summary)
    train: list = field(default_factory=list)  # the stored rows the hints were read from
    val: list = field(default_factory=list)
    snapshots: list = field(default_factory=list)

    @property
    def problems(self) -> list[Hint]:
        """The bad and warn hints, most serious first."""
        return [h for h in self.hints if h.level in PROBLEM]

    @property
    def first_fix(self) -> dict | None:
        """The fix of the first warning that carries one."""
        return next((h.fix for h in self.problems if h.fix), None)


def train(cfg: RunConfig, store: RunStore | None = None) -> Outcome:
    """Train one config to its end through a store and diagnose it from the stored rows."""
    with tempfile.TemporaryDirectory() as tmp:
        store = store or RunStore(Path(tmp) / "runs.db")
        run_id = store.create_run(cfg.to_dict(), owner="suite")
        Trainer(cfg, callbacks=[StoreWriter(store, run_id)]).fit()
        row = store.get_run(run_id)
        train, val, snaps = store.metrics(run_id, "train"), store.metrics(run_id, "val"), store.snapshots(run_id)
        return Outcome(cfg, row["summary"], diagnose_run(row, train, val, snaps), row, train, val, snaps)


def run(s: Scenario) -> Outcome:
    """Train one scenario."""
    return train(RunConfig.from_dict(s.config))


def check_fix(outcome: Outcome) -> tuple[dict | None, Outcome | None, bool]:
    """Train once more with the first warning's fix: (fix, the fixed run, whether it helped)."""
    fix = outcome.first_fix
    if not fix:
        return None, None, False
    after = train(outcome.config.replace(**fix))
    return fix, after, fix_helped(outcome.summary, after.summary)
