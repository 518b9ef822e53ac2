"""Command line: `python -m lab train | init-stats | list | export | delete`.

Bad input exits with code 2 and one line on stderr that names the field, the
value and what is allowed; nothing prints a traceback for a user mistake.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from lab import registry
from lab.config import FIELDS, ConfigError, RunConfig, parse_text
from lab.engine.callbacks import Callback

EXIT_BAD_INPUT = 2


class UsageError(Exception):
    """A user mistake the CLI reports in one line with exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse's own errors: one line, exit 2
        raise UsageError(message)


def _build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m lab", description="Training Lab engine, headless.")
    sub = p.add_subparsers(dest="cmd", required=True, parser_class=_Parser)

    t = sub.add_parser("train", help="train one run and store it")
    t.add_argument("--config", help="JSON file with settings (others keep their defaults)")
    t.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override one setting (repeatable)")
    t.add_argument("--json", action="store_true", help="print one JSON object with the results on stdout")
    t.add_argument("--store", help="SQLite run store (default: settings / TRAINING_LAB_STORE)")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.add_argument(
        "--fix", action="store_true", help="then train once more with the first warning's suggested fix and compare"
    )

    s = sub.add_parser("init-stats", help="activation statistics of a deep untrained network")
    s.add_argument("--depth", type=int, default=10)
    s.add_argument("--width", type=int, default=500)
    s.add_argument("--activation", default="tanh")
    s.add_argument("--init", default="xavier_normal")
    s.add_argument("--batch", type=int, default=1000)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--json", action="store_true")

    ls = sub.add_parser("list", help="list stored runs")
    ls.add_argument("--store")
    ls.add_argument("--json", action="store_true")

    e = sub.add_parser("export", help="print one run as JSON (default) or CSV metrics")
    e.add_argument("run_id")
    e.add_argument("--format", choices=("json", "csv"), default="json")
    e.add_argument("--store")

    d = sub.add_parser("delete", help="delete a stored run")
    d.add_argument("run_id")
    d.add_argument("--store")
    return p


def config_from_args(config_file: str | None, sets: Sequence[str]) -> RunConfig:
    """Defaults, then the JSON file, then each --set key=value, validated once."""
    data: dict = {}
    if config_file:
        try:
            text = Path(config_file).read_text()
        except OSError as e:
            raise UsageError(f"--config {config_file!r}: cannot read the file ({e.strerror})") from None
        data = RunConfig.from_json(text).to_dict()
    for item in sets:
        if "=" not in item:
            raise UsageError(f"--set {item!r}: expected KEY=VALUE, e.g. --set lr=0.01")
        key, value = item.split("=", 1)
        key = key.strip()
        if key not in FIELDS:
            raise ConfigError(key, value, f"unknown setting; known settings: {', '.join(sorted(FIELDS))}")
        data[key] = parse_text(key, value)
    return RunConfig.from_dict(data)


class ProgressBar(Callback):
    """A one-line progress bar on stderr, redrawn at most ten times a second."""

    def __init__(self, stream=sys.stderr):
        self.stream = stream
        self._last = 0.0

    def on_batch_end(self, trainer) -> None:
        """Redraw the bar."""
        now = time.monotonic()
        if now - self._last < 0.1 and trainer.step < trainer.total_steps:
            return
        self._last = now
        frac = trainer.step / max(trainer.total_steps, 1)
        bar = "#" * int(frac * 30)
        ev = trainer.last_eval
        val = f" val_acc {ev['val_acc']:.3f}" if ev else ""
        self.stream.write(f"\r[{bar:<30}] {trainer.step}/{trainer.total_steps} loss {trainer.loss:.4f}{val}   ")
        self.stream.flush()

    def on_fit_end(self, trainer) -> None:
        """Finish the line."""
        self.stream.write(f"\n{trainer.status}: {trainer.reason}\n")


def _store(path: str | None):
    from lab.serving.settings import load_settings
    from lab.serving.store import RunStore

    return RunStore(path or load_settings().store_path)


def cmd_train(args) -> int:
    """Train in this process, storing the run; print a summary (JSON with --json)."""
    cfg = config_from_args(args.config, args.set)
    from lab.engine.trainer import Trainer
    from lab.lifecycle import RunStatus
    from lab.serving.owners import Owner
    from lab.serving.persist import StoreWriter
    from lab.serving.runtime import prepare_training_process
    from lab.serving.settings import load_settings

    prepare_training_process()
    settings = load_settings()
    store = _store(args.store)
    # Owned by this process, so a server starting on the same store meanwhile leaves the run alone.
    run_id = store.create_run(cfg.to_dict(), owner="cli", status=RunStatus.QUEUED, process=Owner.current())
    callbacks = [StoreWriter(store, run_id)]
    if not args.quiet:
        callbacks.append(ProgressBar())
    try:
        trainer = Trainer(cfg, callbacks=callbacks, limits=settings.limits, data_dir=settings.data_dir)
    except Exception as e:
        store.set_status(run_id, RunStatus.FAILED, str(e))
        raise
    try:
        trainer.fit()
    except KeyboardInterrupt:
        trainer.stop_now(RunStatus.STOPPED, "interrupted with Ctrl-C")
    # The stored summary: its hints are the diagnosis of the stored rows, the series every page reads.
    summary = {"run_id": run_id, **((store.get_run(run_id) or {}).get("summary") or trainer.summary())}
    if getattr(args, "fix", False):
        return _train_fix(args, summary)
    if getattr(args, "collect", None) is not None:
        args.collect.append(summary)
        return 0
    _print_summary(summary, args.json)
    return 0


def _print_summary(summary: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(summary, default=_json_default))
    else:
        for k in (
            "run_id",
            "status",
            "steps",
            "initial_loss",
            "train_loss",
            "val_loss",
            "train_acc",
            "val_acc",
            "best_val_acc",
        ):
            print(f"{k:>13}: {summary[k]}")
        for h in summary.get("hints", []):
            print(f"  [{h['level']}] {h['text']}")


def _train_fix(args, before: dict) -> int:
    """Train the same config (and seed) with the first warning's fix; report both runs and a verdict."""
    from lab.diagnosis.verdict import fix_verdict

    hint = next((h for h in before.get("hints", []) if h["level"] in ("bad", "warn") and h.get("try")), None)
    out = {"before": before, "try": None, "cause": None, "after": None, "verdict": "No warning carries a fix."}
    if hint is not None:
        fix = hint["try"]
        sets = [f"{k}={json.dumps(v) if isinstance(v, bool) else v}" for k, v in fix.items()]
        again = argparse.Namespace(**{**vars(args), "set": [*args.set, *sets], "fix": False, "collect": []})
        cmd_train(again)
        after = again.collect[0]
        out.update({"try": fix, "cause": hint["cause"], "after": after, "verdict": fix_verdict(before, after, hint)})
    if args.json:
        print(json.dumps(out, default=_json_default))
    else:
        for title in ("before", "after"):
            if out[title] is not None:
                print(f"--- {title}" + (f" ({out['cause']}: {out['try']})" if title == "after" else ""))
                _print_summary(out[title], False)
        print(out["verdict"])
    return 0


def _json_default(o):
    if isinstance(o, float) and not math.isfinite(o):
        return str(o)
    raise TypeError(type(o))


def cmd_init_stats(args) -> int:
    """Print per-layer activation mean/std of the classic deep-network experiment."""
    if args.activation not in registry.ACTIVATIONS:
        raise ConfigError("activation", args.activation, f"choose one of: {', '.join(registry.ACTIVATIONS)}")
    if args.init not in registry.INITS:
        raise ConfigError("init", args.init, f"choose one of: {', '.join(registry.INITS)}")
    for name, value, lo, hi in (
        ("depth", args.depth, 1, 100),
        ("width", args.width, 1, 4096),
        ("batch", args.batch, 2, 100_000),
    ):
        if not lo <= value <= hi:
            raise ConfigError(name, value, f"a whole number from {lo} to {hi}")
    from lab.concepts.init_stats import init_stats

    stats = init_stats(args.depth, args.width, args.activation, args.init, batch=args.batch, seed=args.seed)
    if args.json:
        print(
            json.dumps(
                {
                    "depth": args.depth,
                    "width": args.width,
                    "activation": args.activation,
                    "init": args.init,
                    "input": stats.rows()[0],
                    "layers": stats.rows()[1:],
                }
            )
        )
    else:
        print(stats.format())
    return 0


def cmd_list(args) -> int:
    """List runs, newest first."""
    runs = _store(args.store).list_runs()
    if args.json:
        print(json.dumps([{k: r[k] for k in ("id", "status", "reason", "created", "config", "summary")} for r in runs]))
        return 0
    for r in runs:
        c, s = r["config"], r["summary"]
        acc = s.get("val_acc")
        acc_text = f"{acc:.3f}" if isinstance(acc, float) else "-"
        print(
            f"{r['id']}  {r['status']:<11} {c.get('dataset', '?'):<10} {c.get('model', '?'):<4} "
            f"{c.get('optimizer', '?'):<8} lr={c.get('lr')}  val_acc={acc_text}"
        )
    return 0


def cmd_export(args) -> int:
    """Print one run as JSON or CSV."""
    store = _store(args.store)
    if store.get_run(args.run_id) is None:
        raise UsageError(f"run_id={args.run_id!r} is invalid: no such run in {store.path}")
    if args.format == "csv":
        sys.stdout.write(store.export_csv(args.run_id))
    else:
        print(json.dumps(store.export_json(args.run_id)))
    return 0


def cmd_delete(args) -> int:
    """Delete one run."""
    if not _store(args.store).delete_run(args.run_id):
        raise UsageError(f"run_id={args.run_id!r} is invalid: no such run")
    return 0


COMMANDS = {
    "train": cmd_train,
    "init-stats": cmd_init_stats,
    "list": cmd_list,
    "export": cmd_export,
    "delete": cmd_delete,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    from lab.serving.settings import SettingsError

    try:
        args = _build_parser().parse_args(argv)
        return COMMANDS[args.cmd](args)
    except (UsageError, ConfigError, SettingsError) as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except Exception as e:
        # Data that cannot be fetched offline is a user-facing condition too, not a crash.
        if type(e).__name__ == "DatasetUnavailable":
            print(f"error: {e}", file=sys.stderr)
            return EXIT_BAD_INPUT
        raise
