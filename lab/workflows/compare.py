"""Compare runs: a session's stored runs as a table, config diffs, exports (CSV, JSON, TensorBoard), deletion.

A session sees only its own runs: those whose owner is its token, or its token
followed by ":<workflow>" (the sub-owners that workflow pages submit under, so a
search does not use up the Train page's run slots). Everything here works on store
rows; the TensorBoard export needs torch and runs in the offload worker.
"""

from __future__ import annotations

import io
import json
import re
import tempfile
import zipfile
from pathlib import Path

import pandas as pd

from lab.config import RunConfig
from lab.lifecycle import ACTIVE
from lab.serving.store import RunStore

TABLE_CONFIG = ("dataset", "model", "optimizer", "lr", "weight_decay", "batch_size", "epochs")
SCALARS = {  # TensorBoard tag -> (metric kind, key in the stored row)
    "loss/train": ("train", "train_loss"),
    "accuracy/train": ("train", "train_acc"),
    "learning_rate": ("train", "lr"),
    "throughput/images_per_s": ("train", "images_per_s"),
    "loss/val": ("val", "val_loss"),
    "accuracy/val": ("val", "val_acc"),
    "loss/train_eval": ("val", "train_loss"),
    "accuracy/train_eval": ("val", "train_acc"),
}


def is_visible(owner: str, token: str) -> bool:
    """True when a run belongs to this session: owned by its token or one of its workflow sub-owners."""
    return bool(token) and (owner == token or owner.startswith(f"{token}:"))


def source_of(owner: str, token: str) -> str:
    """Which page started a run: 'train' for the token itself, else the workflow suffix ('search', ...)."""
    return "train" if owner == token else owner[len(token) + 1 :]


def visible_runs(store: RunStore, token: str, limit: int = 5000) -> list[dict]:
    """This session's runs, newest first."""
    return [r for r in store.list_runs(limit=limit) if is_visible(r["owner"], token)]


def runs_frame(rows: list[dict], token: str) -> pd.DataFrame:
    """One row per run: id, label, source page, status, start time, main settings and final figures."""
    records = []
    for r in rows:
        cfg, summary = r.get("config", {}), r.get("summary", {})
        records.append(
            {
                "run_id": r["id"],
                "label": r.get("label") or "",
                "source": source_of(r["owner"], token),
                "status": r["status"],
                "started": pd.Timestamp(r["created"], unit="s", tz="UTC"),
                **{k: cfg.get(k) for k in TABLE_CONFIG},
                "steps": summary.get("steps"),
                "val_acc": summary.get("val_acc"),
                "best_val_acc": summary.get("best_val_acc"),
                "val_loss": summary.get("val_loss"),
                "reason": r.get("reason", ""),
            }
        )
    columns = [
        "run_id",
        "label",
        "source",
        "status",
        "started",
        *TABLE_CONFIG,
        "steps",
        "val_acc",
        "best_val_acc",
        "val_loss",
        "reason",
    ]
    return pd.DataFrame(records, columns=columns)


def filter_frame(
    df: pd.DataFrame, text: str = "", statuses: tuple[str, ...] = (), sources: tuple[str, ...] = ()
) -> pd.DataFrame:
    """Rows whose label, id or settings contain `text` (case-insensitive), with a status and source in the lists."""
    out = df
    if statuses:
        out = out[out["status"].isin(statuses)]
    if sources:
        out = out[out["source"].isin(sources)]
    text = text.strip().lower()
    if text:
        haystack = out[["run_id", "label", "dataset", "model", "optimizer"]].astype(str).agg(" ".join, axis=1)
        out = out[haystack.str.lower().str.contains(text, regex=False)]
    return out


def config_diff(rows: list[dict]) -> pd.DataFrame:
    """Settings that differ between runs: one row per setting, one column per run (its label or id)."""
    if not rows:
        return pd.DataFrame()
    names = [r.get("label") or r["id"] for r in rows]
    names = [n if names.count(n) == 1 else f"{n} ({r['id'][:6]})" for n, r in zip(names, rows, strict=True)]
    defaults = RunConfig().to_dict()
    # Old runs may lack settings added later: fill the gaps with defaults so only real differences show.
    configs = [{**defaults, **r.get("config", {})} for r in rows]
    keys = list(defaults) + sorted({k for c in configs for k in c} - set(defaults))
    diff = {
        k: [c.get(k) for c in configs] for k in keys if len({json.dumps(c.get(k), sort_keys=True) for c in configs}) > 1
    }
    df = pd.DataFrame(diff, index=names).T
    df.index.name = "setting"
    return df.astype(str) if not df.empty else df


def delete_runs(store: RunStore, run_ids: list[str], token: str) -> tuple[list[str], list[str]]:
    """Delete this session's finished runs; returns (deleted ids, one message per refused run)."""
    deleted, refused = [], []
    for run_id in run_ids:
        row = store.get_run(run_id)
        if row is None:
            refused.append(f"{run_id}: no such run (already deleted?)")
        elif not is_visible(row["owner"], token):
            refused.append(f"{run_id}: not a run of this session")
        elif row["status"] in ACTIVE:
            refused.append(f"{run_id}: still {row['status']}; stop it first")
        elif store.delete_run(run_id):
            deleted.append(run_id)
    return deleted, refused


def export_json(store: RunStore, run_ids: list[str]) -> str:
    """Several runs (config, status, summary, metrics, snapshots) as one JSON array."""
    return json.dumps([store.export_json(r) for r in run_ids], indent=1)


def export_csv(store: RunStore, run_ids: list[str]) -> str:
    """Several runs' merged metrics as one CSV with a leading run_id column."""
    frames = []
    for run_id in run_ids:
        df = pd.read_csv(io.StringIO(store.export_csv(run_id)))
        df.insert(0, "run_id", run_id)
        frames.append(df)
    return pd.concat(frames, ignore_index=True).to_csv(index=False) if frames else ""


def _dir_name(row: dict) -> str:
    label = re.sub(r"[^A-Za-z0-9_.=-]+", "_", row.get("label") or "run").strip("_")[:60]
    return f"{label}-{row['id']}"


def export_tensorboard(store_path: str, run_ids: list[str], out_dir: str | Path) -> list[Path]:
    """Write each run's curves and config as TensorBoard event files, one sub-directory per run."""
    from torch.utils.tensorboard import SummaryWriter  # torch: this runs in the offload worker

    store = RunStore(store_path)
    dirs = []
    try:
        for run_id in run_ids:
            row = store.get_run(run_id)
            if row is None:
                continue
            log_dir = Path(out_dir) / _dir_name(row)
            writer = SummaryWriter(log_dir=str(log_dir))
            rows = {kind: store.metrics(run_id, kind) for kind in ("train", "val")}
            for tag, (kind, key) in SCALARS.items():
                for r in rows[kind]:
                    if r.get(key) is not None:
                        writer.add_scalar(tag, float(r[key]), r["step"], walltime=row["created"])
            table = "\n".join(f"| {k} | {v} |" for k, v in sorted(row["config"].items()))
            writer.add_text("config", f"| setting | value |\n|---|---|\n{table}", 0, walltime=row["created"])
            writer.add_text("status", f"{row['status']}: {row.get('reason', '')}", 0, walltime=row["created"])
            writer.close()
            dirs.append(log_dir)
    finally:
        store.close()
    return dirs


def tensorboard_zip(store_path: str, run_ids: list[str]) -> bytes:
    """The TensorBoard export of some runs as zip bytes (unzip, then `tensorboard --logdir <folder>`)."""
    with tempfile.TemporaryDirectory(prefix="lab-tb-") as tmp:
        export_tensorboard(store_path, run_ids, tmp)
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for path in sorted(Path(tmp).rglob("*")):
                if path.is_file():
                    zf.write(path, Path("training_lab_runs") / path.relative_to(tmp))
        return buf.getvalue()
