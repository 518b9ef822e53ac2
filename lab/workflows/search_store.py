"""Where searches are kept: one Optuna study per search in an SQLite file next to the run store.

Each trial carries its run id, round and outcome as user attributes, so any later
session can reload a search's table. A trial's outcome is told to Optuna when its run
ends (`record_run`); `sync_study` catches up on runs that ended while no page watched.
"""

from __future__ import annotations

import math
import threading
from pathlib import Path

import optuna
from optuna.trial import TrialState

from lab.lifecycle import FINAL, RunStatus

optuna.logging.set_verbosity(optuna.logging.WARNING)  # one INFO line per trial would flood the server log

_storages: dict[str, optuna.storages.RDBStorage] = {}
_storage_lock = threading.Lock()


def storage_path(store_path: str | Path) -> Path:
    """The Optuna database next to the run store: runs.db -> runs.optuna.db."""
    p = Path(store_path)
    return p.with_name(f"{p.stem}.optuna.db")


def open_storage(path: str | Path) -> optuna.storages.RDBStorage:
    """The process's one RDBStorage for an SQLite file (creating the schema costs a second; do it once)."""
    key = str(Path(path).resolve())
    with _storage_lock:
        if key not in _storages:
            Path(key).parent.mkdir(parents=True, exist_ok=True)
            # A generous busy timeout: several sessions may write trials at the same moment.
            _storages[key] = optuna.storages.RDBStorage(
                f"sqlite:///{key}", engine_kwargs={"connect_args": {"timeout": 30}}
            )
        return _storages[key]


def list_studies(storage, token: str, exclude: str = "") -> list[dict]:
    """The studies of one session (owner = token or '<token>:<workflow>'), newest first, without `exclude`."""
    out = []
    for s in optuna.get_all_study_summaries(storage, include_best_trial=False):
        attrs = s.user_attrs
        owner = str(attrs.get("owner", ""))
        if not token or not (owner == token or owner.startswith(f"{token}:")) or s.study_name == exclude:
            continue
        out.append(
            {
                "name": s.study_name,
                "label": attrs.get("label", ""),
                "created": attrs.get("created", 0.0),
                "trials": s.n_trials,
                "owner": attrs.get("owner", ""),
            }
        )
    return sorted(out, key=lambda d: -d["created"])


def study_choices(studies: list[dict]) -> dict[str, str]:
    """Study name -> 'name (n trials)', the label a picker shows, in the order given."""
    return {s["name"]: f"{s['name']} ({s['trials']} trials)" for s in studies}


def load_study(storage, name: str) -> optuna.Study:
    """A stored study by name (to show a past search)."""
    return optuna.load_study(study_name=name, storage=storage)


def _tell(study: optuna.Study, number: int, value: float | None, state: TrialState) -> None:
    try:
        study.tell(number, value if state == TrialState.COMPLETE else None, state=state, skip_if_finished=True)
    except RuntimeError:
        # GridSampler.after_trial calls study.stop() once the grid is used up, which Optuna allows only inside
        # optimize(); with ask-and-tell it raises after the result has been stored, so nothing is lost.
        pass


def record_run(study: optuna.Study, trial: optuna.trial.Trial | int, row: dict | None) -> None:
    """Tell Optuna how a trial's run ended: its final val accuracy, or a failed trial.

    With the live `Trial` object the run's status and figures are kept as user attributes
    too; a bare trial number (a reloaded study) records only the outcome, and the table
    reads the rest from the run store.
    """
    row = row or {"status": RunStatus.FAILED, "reason": "the run disappeared from the store", "summary": {}}
    summary = row.get("summary", {})
    if not isinstance(trial, int):
        attrs = {
            "status": row.get("status", ""),
            "reason": row.get("reason", ""),
            **{k: summary[k] for k in ("val_acc", "val_loss", "train_acc", "steps") if summary.get(k) is not None},
        }
        try:
            for key, value in attrs.items():
                trial.set_user_attr(key, value)
        except optuna.exceptions.UpdateFinishedTrialError:
            return  # another page (a reloaded view of the same study) recorded it first; the outcome is the same
    value = summary.get("val_acc")
    ok = row.get("status") == RunStatus.COMPLETED and value is not None and math.isfinite(value)
    _tell(
        study,
        trial if isinstance(trial, int) else trial.number,
        value if ok else None,
        TrialState.COMPLETE if ok else TrialState.FAIL,
    )


def sync_study(study: optuna.Study, store) -> int:
    """Record trials whose runs ended while nobody was pumping (e.g. the tab was closed); returns how many."""
    n = 0
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        run_id = t.user_attrs.get("run_id")
        row = store.get_run(run_id) if run_id else None
        if row is not None and row["status"] in FINAL:
            record_run(study, t.number, row)
            n += 1
    return n
