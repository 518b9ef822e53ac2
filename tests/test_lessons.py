"""Each lesson plays out as the student runs it: every "look for" claim of its card, checked at full length.

A lesson and its comparison are trained the way the Train page trains them: the lesson's config
as "Load lesson" sets it (seed 0 unless the link says otherwise), the comparison with the card's
change typed into "Compare with..." (same seed), each run stepped in time slices by the worker
loop's own calls and written to a run store, then read back and diagnosed as the page reads it.
No `max_steps` shortcut: the figures are the ones the student sees. Each pair is trained once
per test session and shared by the assertions of its lesson.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from statistics import median

import pytest
import torch

from lab.config import Limits, RunConfig, parse_text
from lab.diagnosis import Hint, diagnose_run, hints_as_dicts
from lab.diagnosis.verdict import fix_verdict, matching_hint, measured
from lab.engine.trainer import Trainer
from lab.serving.persist import StoreWriter
from lab.serving.run_history import RunHistory
from lab.serving.settings import Settings
from lab.serving.store import RunStore
from lab.ui.controls import lesson_config, lessons

SLICE_SECONDS = 0.05  # the worker's default time slice (lab.serving.settings.Settings.slice_seconds)
REFERENCE_RATIO = 1e-3  # the update/weight reference line of the charts


@dataclass
class Played:
    """A lesson run (a) and its comparison run (b), as the page reads them back from the store."""

    a: RunHistory
    b: RunHistory

    def warnings(self, run: str = "a") -> list[Hint]:
        """The warnings of the hints panel for run a or b, from the stored history as the page reads it."""
        h = getattr(self, run)
        return [x for x in diagnose_run(h.row, h.train, h.val, h.snapshots) if x.level in ("warn", "bad")]

    def causes(self, run: str = "a") -> set[str]:
        """The causes the hints panel names (warnings only) for run a or b."""
        return {x.cause for x in self.warnings(run)}

    def hint(self, cause: str, run: str = "a") -> Hint:
        """The warning with this cause (fails the test if the panel does not show it)."""
        found = [x for x in self.warnings(run) if x.cause == cause]
        assert found, f"no {cause!r} hint; the panel shows {sorted(self.causes(run))}"
        return found[0]


def compare_config(cfg: RunConfig, lesson: dict) -> RunConfig:
    """What "Compare with..." starts: the lesson's change typed as text (the page's default value), same seed."""
    name, value = next(iter(lesson["compare"].items()))
    text = json.dumps(value) if isinstance(value, bool) else str(value)
    return cfg.replace(**{name: parse_text(name, text)})


def train_like_the_worker(store: RunStore, cfg: RunConfig, limits: Limits) -> RunHistory:
    """One run as lab.serving.worker steps it: Trainer + StoreWriter, advanced a slice at a time."""
    run_id = store.create_run(cfg.to_dict(), status="queued")
    cfg = RunConfig.from_dict(cfg.to_dict(), limits)  # the worker rebuilds the config from the submitted dict
    writer = StoreWriter(store, run_id)
    tr = Trainer(cfg, callbacks=[writer], limits=limits)
    while not tr.done:
        tr.advance(10**9, max_seconds=SLICE_SECONDS)
        if not tr.done:
            writer.flush_if_due(tr)
    return RunHistory(run_id).fetch_new(store)


@pytest.fixture(scope="module")
def play(tmp_path_factory):
    """`play(lesson_id)` -> Played, trained once per module (several tests read the same pair)."""
    store = RunStore(tmp_path_factory.mktemp("lessons") / "runs.db")
    limits = Limits()  # the server's default limits
    threads = torch.get_num_threads()
    torch.set_num_threads(Settings().n_threads)  # a worker's torch threads (cores // workers); sums can differ
    done: dict[str, Played] = {}

    def _play(lesson_id: str) -> Played:
        if lesson_id not in done:
            cfg = lesson_config(lesson_id)
            assert cfg.seed == 0 and cfg.max_steps == 0  # the page's default seed, the lesson's full length
            a = train_like_the_worker(store, cfg, limits)
            b = train_like_the_worker(store, compare_config(cfg, lessons()[lesson_id]), limits)
            done[lesson_id] = Played(a, b)
        return done[lesson_id]

    _play.train = lambda cfg: train_like_the_worker(store, cfg, limits)  # one more run in the same store
    yield _play
    store.close()
    torch.set_num_threads(threads)


def completed(h: RunHistory) -> bool:
    """The run trained all its steps (no divergence, no early end)."""
    s = h.row["summary"]
    return h.status == "completed" and s["steps"] == s["total_steps"]


def first(h: RunHistory, layer: str, key: str) -> float:
    """A layer figure at the first snapshot (step 1)."""
    return h.snapshots[0]["layers"][layer][key]


def dead_share(snap: dict) -> float:
    """Share of dead units over every ReLU layer of a snapshot (layers that record `dead`)."""
    values = [v["dead"] for v in snap["layers"].values() if "dead" in v]
    return sum(values) / len(values)


def weight_ratios(snap: dict) -> list[float]:
    """Update/weight ratios of the weight matrices of a snapshot."""
    return [p["ratio"] for name, p in snap["params"].items() if name.endswith("weight") and "ratio" in p]


def first_step_below(h: RunHistory, key: str, level: float) -> float:
    """The first evaluation step at which `key` fell below `level` (inf if never)."""
    return next((r["step"] for r in h.val if r[key] < level), float("inf"))


def first_step_above(h: RunHistory, key: str, level: float) -> float:
    """The first evaluation step at which `key` rose above `level` (inf if never)."""
    return next((r["step"] for r in h.val if r[key] > level), float("inf"))


def summary(h: RunHistory, key: str) -> float:
    """A final figure of the run (what its status line shows)."""
    return h.row["summary"][key]


def class_changes(row: list[int]) -> int:
    """How often the predicted class changes along one row of the decision-boundary grid."""
    return sum(1 for x, y in zip(row, row[1:], strict=False) if x != y)


def test_there_are_eight_lessons_each_with_a_story_and_a_comparison():
    assert len(lessons()) == 8
    for lesson in lessons().values():
        assert lesson["title"] and lesson["summary"] and lesson["look_for"] and len(lesson["compare"]) == 1


def test_the_comparison_changes_exactly_one_setting_and_keeps_the_seed():
    for lesson_id, lesson in lessons().items():
        cfg = lesson_config(lesson_id)
        other = compare_config(cfg, lesson)
        diff = {k for k, v in cfg.to_dict().items() if other.to_dict()[k] != v}
        assert diff == set(lesson["compare"]) and other.seed == cfg.seed


def test_vanishing_gradients_in_a_deep_sigmoid_network(play):
    p = play("vanishing_sigmoid")
    sig, relu = p.a, p.b
    # "the gradient std at fc1 is more than a thousand times smaller than at fc8"
    assert first(sig, "fc1", "grad_std") < 1e-3 * first(sig, "fc8", "grad_std")
    # "the loss stays flat near ln(10) = 2.30 for the whole run, and accuracy stays at chance"
    assert all(abs(r["val_loss"] - 2.303) < 0.05 for r in sig.val)
    assert max(r["val_acc"] for r in sig.val) < 0.15 and completed(sig)
    # ReLU: "only about ten times smaller", "the first layers learn", "validation accuracy passes 90%"
    assert first(relu, "fc1", "grad_std") > 0.03 * first(relu, "fc8", "grad_std")
    fc1_ratio = lambda h: median(s["params"]["fc1.weight"]["ratio"] for s in h.snapshots[1:])  # noqa: E731
    assert fc1_ratio(relu) > 1000 * fc1_ratio(sig)
    assert summary(relu, "val_acc") > 0.9
    assert p.causes("b") == set()  # a healthy run: its spikes on the way down are not an oscillating loss


def test_vanishing_gradients_hint(play):
    # "names vanishing gradients through the sigmoid layers and suggests ReLU with Kaiming init"
    hint = play("vanishing_sigmoid").hint("vanishing_gradients")
    assert hint.fix == {"activation": "relu", "init": "kaiming_normal"}


def test_dead_relus_from_a_learning_rate_that_is_too_high(play):
    p = play("dead_relu")
    high, low = p.a, p.b
    # "the run does not diverge": all of its steps
    assert completed(high) and completed(low)
    # "jumps from a few percent to most of the units within the first dozen steps and stays there"
    assert dead_share(high.snapshots[0]) < 0.1
    early = [s for s in high.snapshots if s["step"] <= 12]
    assert len(early) >= 2 and dead_share(early[-1]) > 0.6
    assert min(dead_share(s) for s in high.snapshots if s["step"] > 12) > 0.6
    # "the update/weight ratio starts far above the 1e-3 reference line"
    assert median(weight_ratios(high.snapshots[0])) > 30 * REFERENCE_RATIO
    # ten times smaller: "far fewer units die and validation accuracy ends clearly higher"
    assert dead_share(low.snapshots[-1]) < 0.5 * dead_share(high.snapshots[-1])
    assert summary(low, "val_acc") > summary(high, "val_acc") + 0.1


def test_dead_relu_hint_blames_the_learning_rate(play):
    # "names the dead units, traces them to the large first steps and suggests a smaller learning rate"
    p = play("dead_relu")
    hint = p.hint("dead_relu")
    assert hint.step is not None and hint.step <= 12 and "large steps" in hint.text
    assert hint.fix and hint.fix["lr"] < lesson_config("dead_relu").lr
    assert "lr_too_low" not in p.causes() and "train_longer" not in p.causes()  # dead units are the cause


def test_dead_relu_fix_tried_as_the_try_it_button_does(play):
    p = play("dead_relu")
    hint = hints_as_dicts([p.hint("dead_relu")])[0]
    fixed = play.train(RunConfig.from_dict({**p.a.row["config"], **hint["fix"]}))
    before, after = (measured(dict(h.row["summary"], status=h.status), h.snapshots) for h in (p.a, fixed))
    line = fix_verdict(before, after, hint)
    assert after["dead_fraction"] < 0.5 * before["dead_fraction"] and after["val_acc"] > before["val_acc"] + 0.1
    assert line.startswith("The fix worked: dead fraction ") and "validation accuracy" in line


def test_xavier_shrinks_the_signal_under_relu_and_kaiming_keeps_it(play):
    p = play("xavier_vs_kaiming")
    xav, kai = p.a, p.b
    layers = xav.meta["layers"]
    xstd = [first(xav, n, "std") for n in layers]
    kstd = [first(kai, n, "std") for n in layers]
    # "the deep layers start squeezed near zero with Xavier", "activation std falls with depth"
    assert all(b < a for a, b in zip(xstd, xstd[1:], strict=False)) and xstd[-1] < 0.1 * xstd[0]
    # "... and holds under Kaiming": within a factor of two at every depth
    assert min(kstd) > 0.5 * max(kstd)
    # "under Kaiming the validation loss falls below 1.5 within a few dozen steps; under Xavier about a hundred"
    k, x = first_step_below(kai, "val_loss", 1.5), first_step_below(xav, "val_loss", 1.5)
    assert k <= 40 and 80 <= x <= 140


def test_batch_norm_rescues_a_tiny_init(play):
    p = play("batchnorm_rescue")
    bad, bn = p.a, p.b
    # "the loss never leaves ln(10) = 2.30", "the gradient reaching fc1 is over 10,000 times smaller than at fc6"
    assert all(abs(r["val_loss"] - 2.303) < 0.01 for r in bad.val)
    assert first(bad, "fc1", "grad_std") < 1e-4 * first(bad, "fc6", "grad_std")
    # batch norm: "its loss drops below 1 within about fifty steps and validation accuracy passes 95%"
    assert first_step_below(bn, "val_loss", 1.0) <= 70 and summary(bn, "val_acc") > 0.95
    # "with batch norm they stay wide at every depth; without it they shrink to almost nothing by fc4"
    assert min(first(bn, n, "std") for n in bn.meta["layers"]) > 0.3
    assert first(bad, "fc4", "std") < 1e-3 * first(bad, "fc1", "std")


def test_tiny_init_hint(play):
    # "blames the tiny initialization, not dead units: the activations shrink layer by layer from the first step"
    p = play("batchnorm_rescue")
    assert p.hint("init_too_small").step == 1 and "dead_relu" not in p.causes()


def test_a_small_training_set_overfits(play):
    p = play("overfit_small")
    plain = p.a
    # "training reaches 100% within about 30 steps while validation stalls near 90%"
    assert first_step_above(plain, "train_acc", 0.999) <= 35
    assert summary(plain, "train_acc") == 1.0 and 0.85 <= summary(plain, "val_acc") <= 0.93
    # "validation loss is lowest after about 20 steps and then climbs while training loss keeps falling"
    best = min(plain.val, key=lambda r: r["val_loss"])
    assert 10 <= best["step"] <= 40 and completed(plain)
    last = plain.val[-1]
    assert last["val_loss"] > 1.3 * best["val_loss"] and last["train_loss"] < 0.1 * best["train_loss"]


def test_overfitting_hint(play):
    # "The hints panel names the gap as overfitting."
    assert "overfitting" in play("overfit_small").causes()


def test_early_stopping_stops_after_the_validation_minimum(play):
    p = play("overfit_small")
    plain, stopped = p.a, p.b
    # "the run ends ten evaluations after the validation-loss minimum instead of training on to step 450"
    best = min(stopped.val, key=lambda r: r["val_loss"])
    after = [r for r in stopped.val if r["step"] > best["step"]]
    assert len(after) == 10 and summary(stopped, "steps") == after[-1]["step"]
    assert summary(stopped, "steps") < 0.2 * summary(plain, "steps")


def test_random_crops_help_the_small_image_set(play):
    p = play("dropout_augmentation")
    plain, aug = p.a, p.b
    gap = lambda h: summary(h, "train_acc") - summary(h, "val_acc")  # noqa: E731
    # "training accuracy hits 100% while validation stays near 75%"
    assert summary(plain, "train_acc") == 1.0 and 0.65 <= summary(plain, "val_acc") <= 0.82
    # crops: "validation accuracy ends above 90% and the gap shrinks"
    assert summary(aug, "val_acc") > 0.9 and gap(aug) < 0.5 * gap(plain)
    # "without crops the validation loss turns upward while the training loss heads to zero"
    best = min(plain.val, key=lambda r: r["val_loss"])
    assert plain.val[-1]["val_loss"] > 1.1 * best["val_loss"] and summary(plain, "train_loss") < 0.01
    # "with crops the training loss stays higher and the validation loss ends several times lower"
    assert summary(aug, "train_loss") > 3 * summary(plain, "train_loss")
    assert summary(aug, "val_loss") < 0.33 * summary(plain, "val_loss")


def test_overfitting_hint_on_the_small_image_set(play):
    # "names overfitting in the plain run and finds nothing wrong with the run with crops"
    p = play("dropout_augmentation")
    assert p.hint("overfitting").level == "warn" and p.causes("b") == set()


def test_xor_needs_a_hidden_layer(play):
    p = play("xor_needs_hidden")
    linear, hidden = p.a, p.b
    # "one straight cut": along every row and column of the grid the class changes at most once
    grid = linear.snapshots[-1]["boundary"]["cls"]
    columns = [list(c) for c in zip(*grid, strict=True)]
    assert max(class_changes(r) for r in grid + columns) <= 1
    # "validation accuracy swings around 50%, chance for two classes, and never gets past 75%"
    assert 0.4 <= median(r["val_acc"] for r in linear.val) <= 0.6 and max(r["val_acc"] for r in linear.val) < 0.75
    # one hidden layer: "the boundary folds around the clusters and accuracy reaches about 100%"
    grid = hidden.snapshots[-1]["boundary"]["cls"]
    columns = [list(c) for c in zip(*grid, strict=True)]
    assert max(class_changes(r) for r in grid + columns) >= 2
    assert summary(hidden, "val_acc") > 0.95


def test_xor_hint_asks_for_a_hidden_layer(play):
    # "says the linear model needs a hidden layer"
    assert play("xor_needs_hidden").hint("needs_hidden_layer").fix["depth"] >= 1


def test_cross_entropy_learns_faster_than_squared_error(play):
    p = play("mse_vs_cross_entropy")
    mse, ce = p.a, p.b
    # "passes 80% after about 50 steps; with squared error it needs about 190"
    c, m = first_step_above(ce, "val_acc", 0.8), first_step_above(mse, "val_acc", 0.8)
    assert c <= 70 and 150 <= m <= 220
    # "at the end cross-entropy is well ahead (about 95% against 80%)"
    assert summary(ce, "val_acc") > 0.93 and summary(ce, "val_acc") > summary(mse, "val_acc") + 0.1
    # "the squared-error run shows the smaller loss number while being less accurate"
    assert summary(mse, "val_loss") < summary(ce, "val_loss")


def test_squared_error_hint_and_its_fix_checked(play):
    # "names the squared-error loss and suggests cross-entropy; its Try it button starts the same comparison run"
    p = play("mse_vs_cross_entropy")
    hint = p.hint("mse_loss")
    assert hint.fix == lessons()["mse_vs_cross_entropy"]["compare"]
    hints = hints_as_dicts(p.warnings())
    tried = matching_hint(hints, p.a.row["config"], p.b.row["config"])
    assert tried is not None and tried["cause"] == "mse_loss"
    before, after = (measured(dict(h.row["summary"], status=h.status), h.snapshots) for h in (p.a, p.b))
    acc = lambda h: f"{summary(h, 'val_acc'):.0%}"  # noqa: E731
    assert fix_verdict(before, after, tried) == f"The fix worked: validation accuracy {acc(p.a)} -> {acc(p.b)}."
