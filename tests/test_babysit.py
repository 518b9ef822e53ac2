"""Babysitting recipe: initial-loss check, overfitting verdicts, coarse/refine specs, reading a stored run."""

import math
from types import SimpleNamespace

import pytest

from lab.config import ConfigError, RunConfig
from lab.diagnosis import Hint
from lab.engine.trainer import Trainer
from lab.serving.persist import StoreWriter
from lab.serving.store import RunStore
from lab.workflows import babysit

LN10 = math.log(10)


# ---- step 1 -----------------------------------------------------------------------------------------------------


def test_judge_initial_loss_against_ln_c():
    assert babysit.judge_initial_loss(LN10, 10).passed is True
    high = babysit.judge_initial_loss(8.0, 10)
    assert high.passed is False and "ln(10) = 2.30" in high.text and "init" in high.advice
    low = babysit.judge_initial_loss(0.5, 10)
    assert low.passed is False and "below" in low.text
    assert babysit.judge_initial_loss(math.inf, 10).passed is False
    assert babysit.judge_initial_loss(0.1, 10, "mse").passed is None


def test_initial_loss_passes_for_the_default_config():
    r = babysit.initial_loss_check(RunConfig())
    assert r["passed"] is True and r["n_classes"] == 10
    assert r["expected"] == pytest.approx(LN10)
    assert r["loss"] == pytest.approx(LN10, rel=0.1)


def test_initial_loss_fails_for_large_normal_init():
    r = babysit.initial_loss_check(RunConfig(init="large_normal"))
    assert r["passed"] is False and r["loss"] > 1.25 * LN10
    assert "confidently wrong" in r["text"]


def test_initial_loss_check_turns_regularization_off():
    plain = babysit.initial_loss_check(RunConfig(seed=4))
    regularized = babysit.initial_loss_check(RunConfig(seed=4, dropout=0.5, label_smoothing=0.3, l2=0.1))
    # Dropout, smoothing or a penalty would each change the number; with them off it is the same forward pass.
    assert regularized["loss"] == pytest.approx(plain["loss"], rel=1e-6)


def test_class_count_comes_from_the_data():
    r = babysit.initial_loss_check(RunConfig(dataset="shapes", model="cnn"))
    assert r["n_classes"] == 8 and r["expected"] == pytest.approx(math.log(8))


# ---- step 2 -----------------------------------------------------------------------------------------------------


def _overfit(cfg: RunConfig, batches: int = 5, steps: int = 300):
    tr = Trainer(babysit.overfit_run_config(cfg, batches, steps)).fit()
    row = {"status": tr.status, "reason": tr.reason, "config": tr.cfg.to_dict()}
    return tr, babysit.judge_overfit(row, tr.history.train, tr.history.val)


def test_overfit_five_batches_of_digits_reaches_100_percent():
    tr, verdict = _overfit(RunConfig())
    assert tr.n_train == 5 * 64
    assert verdict.passed is True and "100%" in verdict.text
    assert tr.history.val[-1]["train_acc"] == 1.0


def test_overfit_reports_a_model_that_is_too_small():
    _, verdict = _overfit(RunConfig(depth=0), steps=200)
    assert verdict.passed is False and "too small" in verdict.advice


def test_overfit_reports_a_learning_rate_that_is_too_low():
    _, verdict = _overfit(RunConfig(optimizer="sgd", lr=1e-5), steps=60)
    assert verdict.passed is False and "learning rate" in verdict.advice


def test_overfit_verdicts_from_rows():
    diverged = babysit.judge_overfit({"status": "diverged", "reason": "loss became nan"}, [], [])
    assert diverged.passed is False and "lower it" in diverged.advice
    falling = [{"step": i, "train_loss": 2.0 * 0.98**i} for i in range(1, 100)]
    val = [{"step": 99, "train_acc": 0.9}]
    slow = babysit.judge_overfit({"status": "completed", "config": {"model": "mlp", "depth": 2}}, falling, val)
    assert slow.passed is False and "more steps" in slow.advice
    assert babysit.first_perfect_step([{"step": 5, "train_acc": 0.9}, {"step": 10, "train_acc": 1.0}]) == 10


@pytest.mark.parametrize("batches, steps, field", [(0, 100, "overfit_batches"), (5, 1, "overfit_steps")])
def test_overfit_budget_is_checked(batches, steps, field):
    with pytest.raises(ConfigError) as e:
        babysit.overfit_run_config(RunConfig(), batches, steps)
    assert e.value.field == field


# ---- steps 4 and 5 ------------------------------------------------------------------------------------------------


def test_coarse_grid_brackets_the_suggested_rate():
    spec = babysit.coarse_spec(0.003, epochs=2)
    lr, wd = spec.params
    assert lr.values == pytest.approx((0.001, 0.003, 0.009))
    assert wd.values == babysit.COARSE_WEIGHT_DECAYS and spec.mode == "grid" and spec.budget == 6
    spec.check()


def test_refinement_is_narrower_and_centred_on_the_best():
    coarse = babysit.coarse_spec(0.003)
    refine = babysit.refine_spec(coarse, {"lr": 0.009, "weight_decay": 1e-5})
    lr, wd = refine.params
    assert refine.mode == "random" and refine.budget == babysit.REFINE_TRIALS
    assert math.sqrt(lr.low * lr.high) == pytest.approx(0.009, rel=0.01)
    coarse_width = math.log10(0.009 / 0.001)
    assert math.log10(lr.high / lr.low) == pytest.approx(babysit.REFINE_ZOOM * coarse_width, rel=0.01)
    assert wd.low < 1e-5 < wd.high and lr.log and wd.log
    refine.check()


# ---- step 6 -------------------------------------------------------------------------------------------------------


def test_read_curves_of_a_stored_run(tmp_path):
    store = RunStore(tmp_path / "runs.db")
    cfg = RunConfig(epochs=2, seed=3)
    run_id = store.create_run(cfg.to_dict(), owner="t")
    Trainer(cfg, callbacks=[StoreWriter(store, run_id)]).fit()
    hints = babysit.read_curves(store, run_id)
    topics = {h.topic for h in hints}
    assert "initial loss" in topics and "update/weight ratio" in topics


# ---- what the page shows ----------------------------------------------------------------------------------------


def test_verdict_text_words_the_outcome_and_puts_the_advice_on_its_own_line():
    v = babysit.Verdict(False, "Stalled at 40%.", "Make it wider.").to_dict()
    assert babysit.verdict_text(2, v) == "Step 2 failed: Stalled at 40%.  \nMake it wider."
    assert babysit.verdict_text(1, babysit.Verdict(True, "Fine.").to_dict()) == "Step 1 passed: Fine."
    assert babysit.verdict_text(1, babysit.Verdict(None, "n/a").to_dict()).startswith("Step 1 done: ")


def test_overfit_caption_reports_the_last_accuracy_on_the_sample():
    val = [{"step": 10, "train_acc": 0.5}, {"step": 20, "train_acc": 0.875}]
    caption = babysit.overfit_caption("running", {"step": 25, "total_steps": 300}, val)
    assert caption == f"running · step 25 of 300 · accuracy on the sample {0.875:.0%}"
    assert babysit.overfit_caption("queued", {}, []) == "queued · step 0 of ? · accuracy on the sample 0%"


def test_range_test_is_the_lr_finder_with_the_recipes_smoothing_and_stop_rule():
    from lab.workflows.lr_finder import lr_range_test

    cfg = RunConfig(subset=200)
    r = babysit.range_test(cfg, 30, 1e-4, 10.0)
    ref = lr_range_test(cfg, 30, 1e-4, 10.0, babysit.RANGE_BETA, babysit.RANGE_STOP).to_dict()
    assert isinstance(r, dict) and r["lrs"] == ref["lrs"] and r["losses"] == pytest.approx(ref["losses"])
    assert r["suggested_lr"] == pytest.approx(ref["suggested_lr"])
    text = babysit.range_text(r)
    assert f"suggested learning rate {r['suggested_lr']:.2g}" in text and f"{len(r['lrs'])} steps" in text


def test_each_step_waits_for_the_result_of_the_one_before():
    results = {"cfg": "{}", "step1": {}, "step2": {}}
    for n, expected in [(1, True), (2, True), (3, True), (4, False)]:
        assert babysit.ready(results, n) is expected
    assert babysit.ready({}, 1) and not babysit.ready({}, 2)


def test_busy_is_true_only_for_a_started_unfinished_search():
    assert babysit.busy(None) is False
    assert babysit.busy(SimpleNamespace(finished=False)) is True
    assert babysit.busy(SimpleNamespace(finished=True)) is False


def test_an_overfitting_run_stops_early_once_it_has_memorized_its_sample():
    learning = [{"step": 10, "train_acc": 0.6}, {"step": 20, "train_acc": 0.95}]
    done = [*learning, {"step": 30, "train_acc": 1.0}]
    assert babysit.stop_early(True, done) and not babysit.stop_early(False, done)
    assert not babysit.stop_early(True, learning) and not babysit.stop_early(True, [])
    assert babysit.overfit_label(7) == "babysit: overfit 7"


def test_step6_texts():
    assert (
        babysit.best_text({"lr": 0.003, "weight_decay": 1e-5}, 0.97)
        == "Best run so far: lr=0.003, weight_decay=1e-05, validation accuracy 97.0%."
    )
    hints = [Hint("bad", "initial loss", "Far too high."), Hint("odd", "x", "y")]
    assert babysit.hint_lines(hints, {"bad": "🛑"}) == ["🛑 **initial loss**: Far too high.", " **x**: y"]


def test_the_step_captions_match_the_recipes_numbers():
    assert sorted(babysit.CAPTIONS) == [1, 2, 3, 4]
    grid = babysit.CAPTIONS[4]
    assert f"{max(babysit.COARSE_LR_FACTORS):g}x either way" in grid
    assert f"{1 / min(babysit.COARSE_LR_FACTORS):.0f}" == f"{max(babysit.COARSE_LR_FACTORS):g}"
    assert len(babysit.COARSE_WEIGHT_DECAYS) == 2 and "two weight decays" in grid
    assert babysit.REFINE_ZOOM == 0.5 and "half that range" in grid
