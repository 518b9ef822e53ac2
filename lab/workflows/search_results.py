"""Reading a search: the trials table, the best trial, and warnings when the best value sits on a border."""

from __future__ import annotations

import optuna
import pandas as pd
from optuna.trial import TrialState

from lab.workflows.search_space import Param

EDGE = 0.1  # the best value within 10% of the range (log scale for rates) of a border counts as "on the border"
COLUMNS = ("trial", "round", "state", "status", "val_acc", "val_loss", "run_id")  # every column but the searched ones


def rounds_of(study: optuna.Study) -> list[tuple[Param, ...]]:
    """The parameter ranges each round searched (stored on the study)."""
    return [tuple(Param.from_dict(p) for p in r) for r in study.user_attrs.get("rounds", [])]


def trials_frame(study: optuna.Study, store=None) -> pd.DataFrame:
    """One row per trial: number, round, state, run status, the searched values, val accuracy and loss."""
    rows = []
    for t in study.get_trials(deepcopy=False):
        attrs = t.user_attrs
        run_id = attrs.get("run_id", "")
        status, val_acc, val_loss = attrs.get("status", ""), attrs.get("val_acc"), attrs.get("val_loss")
        if (t.state == TrialState.RUNNING or not status) and store is not None and run_id:
            row = store.get_run(run_id)  # live progress, or a reloaded trial recorded by number only
            summary = row.get("summary", {}) if row else {}
            status = row["status"] if row else "deleted"
            val_acc, val_loss = summary.get("val_acc", val_acc), summary.get("val_loss", val_loss)
        elif t.state == TrialState.RUNNING and not run_id:
            status = "waiting"
        rows.append(
            {
                "trial": t.number + 1,
                "round": attrs.get("round", 0) + 1,
                "state": t.state.name.lower(),
                "status": status,
                **t.params,
                "val_acc": t.value if t.value is not None else val_acc,
                "val_loss": val_loss,
                "run_id": run_id,
            }
        )
    return pd.DataFrame(rows, columns=None if rows else list(COLUMNS))


def param_columns(df: pd.DataFrame) -> list[str]:
    """The searched settings among a trials table's columns, in table order."""
    return [c for c in df.columns if c not in COLUMNS]


def scatter_axes(params: list[str], x: str | None = None, color: str | None = None) -> tuple[str | None, str | None]:
    """The scatter's x and colour settings: the ones asked for when searched and distinct, else the first others."""
    x = x if x in params else (params[0] if params else None)
    color = color if color in params and color != x else next((p for p in params if p != x), None)
    return x, color


def best_trial(study: optuna.Study) -> optuna.trial.FrozenTrial | None:
    """The completed trial with the highest validation accuracy (None before any completes)."""
    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    return max(done, key=lambda t: t.value) if done else None


def best_of(studies) -> optuna.trial.FrozenTrial | None:
    """The best completed trial over several studies (None entries skipped; None when nothing completed)."""
    bests = [b for s in studies if s is not None and (b := best_trial(s)) is not None]
    return max(bests, key=lambda t: t.value) if bests else None


def border_warnings(params: tuple[Param, ...], best: dict) -> list[str]:
    """One sentence per parameter whose best value sits on the border of its searched range."""
    out = []
    for p in params:
        if p.name not in best:
            continue
        v = best[p.name]
        pos = p.position(v)
        scale = "log scale" if p.log else "linear scale"
        if pos <= EDGE:
            out.append(
                f"The best {p.name} = {v:.3g} sits on the lower border of the range {p.low:.3g} to "
                f"{p.high:.3g} ({scale}): better values may lie below it. Extend the range downwards."
            )
        elif pos >= 1 - EDGE:
            out.append(
                f"The best {p.name} = {v:.3g} sits on the upper border of the range {p.low:.3g} to "
                f"{p.high:.3g} ({scale}): better values may lie above it. Extend the range upwards."
            )
    return out


def study_warnings(study: optuna.Study) -> list[str]:
    """Border warnings for the best trial against the range of the round it came from."""
    best = best_trial(study)
    rounds = rounds_of(study)
    if best is None or not rounds:
        return []
    return border_warnings(rounds[min(best.user_attrs.get("round", 0), len(rounds) - 1)], best.params)
