"""The babysitting recipe: the sanity checks and searches a careful practitioner runs, in order.

1. initial loss: an untrained classifier that guesses uniformly scores ln(C);
2. overfit a few batches with regularization off: a healthy setup memorizes them;
3. LR range test (`lab.workflows.lr_finder`);
4. a short coarse grid around the suggested rate; 5. a random refinement around the
best of it (both `lab.workflows.search`); 6. read the best run's curves with the
diagnosis hints. Every function here is plain Python on configs and stored rows; the
torch work (1, 3) runs in a worker and the training (2, 4, 5) in the job manager.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from lab.config import ConfigError, Limits, RunConfig
from lab.diagnosis import INIT_LOSS_TOLERANCE, Hint, diagnose_run
from lab.lifecycle import RunStatus
from lab.workflows.lr_finder import lr_range_test
from lab.workflows.search_space import Param, SearchSpec, describe, zoom_params

OVERFIT_BATCHES = 5  # the syllabus: 5-10 mini-batches are enough to see memorization
OVERFIT_STEPS = 300  # enough for the default MLP on digits (100% after about 85 steps) with room to spare
STILL_IMPROVING = 0.7  # final loss below 70% of the loss three quarters in: more steps would help
BARELY_MOVED = 0.9  # final loss above 90% of the first one: the rate is off
COARSE_LR_FACTORS = (1 / 3, 1.0, 3.0)  # the grid brackets the suggested rate by 3x either way
COARSE_WEIGHT_DECAYS = (1e-5, 1e-3)  # "almost none" and "some"; log-spaced so the refinement can zoom
COARSE_EPOCHS = 3
REFINE_TRIALS = 4
REFINE_ZOOM = 0.5  # the refinement searches half the coarse range (log scale), centred on the best
RANGE_BETA = 0.9  # the range test's loss smoothing (an EMA over about ten steps)
RANGE_STOP = 4.0  # the range test stops once the smoothed loss passes 4x its best: past that it only blows up

INTRO = (
    "A careful way to start on a new problem: check that the setup is sane before spending compute, "
    "then search for good settings from coarse to fine, and finally read what the curves say."
)
CAPTIONS = {  # what each step does, under its heading on the page (4: steps 4 and 5 share one box)
    1: "Before any training, a classifier that spreads its bets evenly over C classes scores ln(C). "
    "Regularization is off for this check, so the number is the data loss alone.",
    2: "With regularization off, a working model and optimizer memorize a handful of batches: training "
    "accuracy should reach 100%. If it cannot, more data will not help.",
    3: "A short run whose learning rate grows exponentially every step. The loss first falls faster and "
    "faster, then blows up; the suggestion is a tenth of the rate at the lowest smoothed loss.",
    4: "A few epochs per trial: enough to rank settings, not to finish training. The grid brackets the "
    "suggested rate 3x either way with two weight decays; the refinement samples rates and decays "
    "log-uniformly in half that range, centred on the grid's best.",
}


@dataclass(frozen=True)
class Verdict:
    """A step's outcome: passed (None = not applicable), a headline and what to do about it."""

    passed: bool | None
    text: str
    advice: str = ""
    value: float | None = None  # the number the verdict is about (loss, accuracy, step)

    def to_dict(self) -> dict:
        """JSON-ready dict."""
        return asdict(self)


def verdict_text(n: int, v: dict) -> str:
    """'Step n passed: ...' (failed, done) with the advice on a new line, from a Verdict's dict."""
    word = {True: "passed", False: "failed", None: "done"}[v["passed"]]
    return f"Step {n} {word}: {v['text']}" + (f"  \n{v['advice']}" if v.get("advice") else "")


def ready(results: dict, step: int) -> bool:
    """True when step n (1 to 4) may start: the step before it has left its result ('step<n-1>') in `results`."""
    return step <= 1 or f"step{step - 1}" in results


def busy(search) -> bool:
    """True while a search (a `lab.workflows.search.Search`, or None when none was started) has not finished."""
    return search is not None and not search.finished


# ---- step 1: initial loss ---------------------------------------------------------------------------------------


def judge_initial_loss(loss: float, n_classes: int, loss_name: str = "cross_entropy") -> Verdict:
    """Compare the untrained loss with ln(C), the score of a uniform guess, within the diagnosis tolerance."""
    if loss_name != "cross_entropy":
        return Verdict(
            None,
            f"Initial loss {loss:.3f}; the ln(C) reference holds for cross-entropy only.",
            "Switch the loss to cross-entropy to use this check.",
            loss,
        )
    expected = math.log(n_classes)
    ref = f"ln({n_classes}) = {expected:.2f}"
    if not math.isfinite(loss):
        return Verdict(
            False,
            f"Initial loss is {loss}: the untrained network already overflows.",
            "The weights are far too large; use Kaiming or Xavier init.",
            loss,
        )
    if abs(loss - expected) <= INIT_LOSS_TOLERANCE * expected:
        return Verdict(
            True,
            f"Initial loss {loss:.3f} is within {INIT_LOSS_TOLERANCE:.0%} of {ref}: "
            "the untrained network spreads its guesses evenly, as it should.",
            "",
            loss,
        )
    if loss > expected:
        return Verdict(
            False,
            f"Initial loss {loss:.3f} is {loss / expected:.1f}x {ref}: the untrained network "
            "is already confidently wrong.",
            "Its output scores (logits) come out far too large. Use a scaled init (Kaiming for ReLU, Xavier for "
            "tanh) or smaller weights, then check again.",
            loss,
        )
    return Verdict(
        False,
        f"Initial loss {loss:.3f} is well below {ref} before any training.",
        "An untrained model should not beat chance: look for labels leaking into the inputs.",
        loss,
    )


def initial_loss_check(cfg: RunConfig, limits: Limits | None = None, n: int = 512) -> dict:
    """Forward pass of the untrained model (regularization off) on up to n training examples; a JSON-ready verdict."""
    import torch

    from lab.engine.losses import task_loss
    from lab.engine.trainer import Trainer, overfit_config

    trainer = Trainer(overfit_config(cfg), limits=limits, record=False)  # same data, seed and init as a real run
    x, y = trainer.x_train[:n], trainer.y_train[:n]
    model = trainer.model
    model.train()  # batch norm uses batch statistics at the first step, so measure in the same mode
    with torch.no_grad():
        logits = model(x)
        loss = float(task_loss(cfg.loss, logits, y))
    n_classes = trainer.data.n_classes
    verdict = judge_initial_loss(loss, n_classes, cfg.loss)
    return {
        **verdict.to_dict(),
        "loss": loss,
        "n_classes": n_classes,
        "expected": math.log(n_classes),
        "examples": len(x),
    }


# ---- step 2: overfit a few batches ------------------------------------------------------------------------------


def check_overfit_args(batches: int, steps: int) -> None:
    """Raise ConfigError for an impossible overfitting budget."""
    if not 1 <= batches <= 50:
        raise ConfigError("overfit_batches", batches, "a whole number from 1 to 50")
    if not 10 <= steps <= 5000:
        raise ConfigError("overfit_steps", steps, "a whole number from 10 to 5000")


def overfit_run_config(cfg: RunConfig, batches: int = OVERFIT_BATCHES, steps: int = OVERFIT_STEPS) -> RunConfig:
    """The user's config on `batches` batches for `steps` steps (the trainer turns regularization off)."""
    check_overfit_args(batches, steps)
    epochs = min(10_000, max(1, math.ceil(steps / batches)))
    # Evaluate about 40 times: the verdict reports the first step at which every example is right.
    return cfg.replace(
        overfit_batches=batches, epochs=epochs, max_steps=steps, eval_every=max(1, steps // 40), early_stopping=0
    )


def first_perfect_step(val_rows: list[dict]) -> int | None:
    """The first evaluation step at which accuracy on the memorized batches was 100%."""
    return next((r["step"] for r in val_rows if r.get("train_acc", 0.0) >= 1.0), None)


def overfit_label(batches: int) -> str:
    """The overfitting run's label in the run list, e.g. 'babysit: overfit 5'."""
    return f"babysit: overfit {batches}"


def stop_early(active: bool, val_rows: list[dict]) -> bool:
    """True when a still active overfitting run has already reached 100% on its sample: the point is made."""
    return active and first_perfect_step(val_rows) is not None


def overfit_caption(status: str, meta: dict, val_rows: list[dict]) -> str:
    """'running · step 40 of 300 · accuracy on the sample 85%' for the overfitting run's progress line."""
    last = val_rows[-1]["train_acc"] if val_rows else 0.0
    step, total = meta.get("step", 0), meta.get("total_steps", "?")
    return f"{status} · step {step} of {total} · accuracy on the sample {last:.0%}"


def judge_overfit(row: dict, train_rows: list[dict], val_rows: list[dict]) -> Verdict:
    """Did the run memorize its batches? If not, name the likely blocker from the stored curves."""
    status, reason = row.get("status", ""), row.get("reason", "")
    step = first_perfect_step(val_rows)
    if step is not None:
        return Verdict(
            True,
            f"Reached 100% training accuracy on the small sample at step {step}: the model and "
            "the optimizer can learn.",
            "",
            float(step),
        )
    if status == RunStatus.DIVERGED:
        return Verdict(
            False,
            f"Training diverged ({reason}).",
            "The learning rate is too high for this setup: lower it 3-10x, or add warmup or clipping.",
        )
    if status == RunStatus.FAILED:
        return Verdict(False, f"The run failed: {reason}", "Fix the setting it names and try again.")
    acc = val_rows[-1]["train_acc"] if val_rows else 0.0
    losses = [r["train_loss"] for r in train_rows if math.isfinite(r.get("train_loss", math.nan))]
    cfg = row.get("config", {})
    if status == RunStatus.STOPPED:
        return Verdict(
            False, f"Stopped at {acc:.0%} training accuracy before reaching 100%.", "Run it to the end.", acc
        )
    if len(losses) >= 4:
        first, last, late = losses[0], losses[-1], losses[(3 * len(losses)) // 4]
        if last > BARELY_MOVED * first:
            return Verdict(
                False,
                f"The loss barely moved ({first:.3f} to {last:.3f}); accuracy {acc:.0%}.",
                "The learning rate is probably far too low (or so high the loss just bounces): "
                "step 3 finds a better one.",
                acc,
            )
        if last < STILL_IMPROVING * late:
            return Verdict(
                False,
                f"Still improving at the end: {acc:.0%} training accuracy, loss falling ({late:.3f} to {last:.3f}).",
                "Too few steps: give it more steps.",
                acc,
            )
    if cfg.get("model") == "mlp" and cfg.get("depth", 1) == 0:
        return Verdict(
            False,
            f"Stalled at {acc:.0%}: a linear classifier cannot memorize every example.",
            "The model is too small: add hidden layers.",
            acc,
        )
    return Verdict(
        False,
        f"Stalled at {acc:.0%} training accuracy.",
        "The model may be too small for the sample (make it wider or deeper), or the learning rate too "
        "high to settle (lower it).",
        acc,
    )


# ---- step 3: learning-rate range test ---------------------------------------------------------------------------


def range_test(cfg: RunConfig, steps: int, lr_min: float, lr_max: float, limits: Limits | None = None) -> dict:
    """The LR range test with the recipe's smoothing and stop rule, as a JSON-ready dict (runs in a worker)."""
    return lr_range_test(cfg, steps, lr_min, lr_max, RANGE_BETA, RANGE_STOP, limits).to_dict()


def range_text(r: dict) -> str:
    """Step 3's verdict line from a range test's dict: the suggested rate and where the loss bottomed out."""
    return (
        f"Step 3 done: suggested learning rate {r['suggested_lr']:.2g} (lowest smoothed loss at "
        f"{r['min_loss_lr']:.2g}; {r['reason']}; {len(r['lrs'])} steps in {r['seconds']:.1f} s)."
    )


# ---- steps 4 and 5: coarse grid, then refinement ----------------------------------------------------------------


def coarse_spec(suggested_lr: float, epochs: int = COARSE_EPOCHS, seed: int = 0) -> SearchSpec:
    """3 rates around the suggestion x 2 weight decays, a few epochs each."""
    lo, hi = 1e-7, 10.0  # the config's bounds on lr
    lrs = tuple(sorted({min(hi, max(lo, float(f"{suggested_lr * f:.3g}"))) for f in COARSE_LR_FACTORS}))
    params = (
        Param("lr", lrs[0], lrs[-1], log=True, values=lrs),
        Param("weight_decay", COARSE_WEIGHT_DECAYS[0], COARSE_WEIGHT_DECAYS[-1], log=True, values=COARSE_WEIGHT_DECAYS),
    )
    return SearchSpec(params=params, mode="grid", budget=len(lrs) * len(COARSE_WEIGHT_DECAYS), epochs=epochs, seed=seed)


def refine_spec(coarse: SearchSpec, best: dict, trials: int = REFINE_TRIALS, seed: int = 0) -> SearchSpec:
    """Random log-uniform samples in half the coarse range, centred on the coarse grid's best values."""
    params = zoom_params(coarse.params, best, REFINE_ZOOM)
    return SearchSpec(params=params, mode="random", budget=trials, epochs=coarse.epochs, seed=seed)


# ---- step 6: read the curves ------------------------------------------------------------------------------------


def read_curves(store, run_id: str) -> list[Hint]:
    """The diagnosis hints of a stored run (most serious first)."""
    row = store.get_run(run_id) or {}
    return diagnose_run(row, store.metrics(run_id, "train"), store.metrics(run_id, "val"), store.snapshots(run_id))


def best_text(params: dict, value: float) -> str:
    """'Best run so far: lr=0.003, weight_decay=1e-05, validation accuracy 97.0%.' for step 6's heading line."""
    return f"Best run so far: {describe(params)}, validation accuracy {value:.1%}."


def hint_lines(hints: list[Hint], icons: dict[str, str]) -> list[str]:
    """One markdown line per hint: its level's icon (from `icons`), the topic in bold, then the sentence."""
    return [f"{icons.get(h.level, '')} **{h.topic}**: {h.text}" for h in hints]
