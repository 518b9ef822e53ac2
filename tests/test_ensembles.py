"""Ensembles: averaged probabilities, snapshots at the cyclic minima, EMA/SWA weights against hand computations."""

import math

import numpy as np
import pytest
import torch

from lab.config import ConfigError, RunConfig
from lab.engine.callbacks import Callback
from lab.engine.data import load_data
from lab.engine.optim import preview_schedule
from lab.engine.trainer import Trainer
from lab.workflows import ensemble_stats as es
from lab.workflows import ensembles as ens

TINY = RunConfig(dataset="digits", subset=200, epochs=2, width=16)


class ParamLog(Callback):
    """Copies of every parameter after each optimizer step (the trajectory)."""

    def __init__(self):
        self.steps: list[list[torch.Tensor]] = []
        self.epoch_end: list[list[torch.Tensor]] = []

    def on_batch_end(self, trainer):
        self.steps.append([p.detach().clone() for p in trainer.model.parameters()])

    def on_epoch_end(self, trainer):
        self.epoch_end.append([p.detach().clone() for p in trainer.model.parameters()])


def test_ensemble_probabilities_are_the_mean_of_members_softmax():
    data = load_data(TINY)
    models = [ens.fit_member(TINY, data, seed).model for seed in (1, 2, 3)]
    with torch.no_grad():
        direct = []
        for m in models:
            m.eval()
            direct.append(torch.softmax(m(data.x_val), dim=1))
    expected = torch.stack(direct).mean(0).numpy()
    got = es.ensemble_proba([ens.predict_proba(m, data.x_val).numpy() for m in models])
    np.testing.assert_allclose(got, expected, atol=1e-6)
    # train_member on the same seed gives the same member (its probabilities match the model computed here)
    member = ens.train_member(TINY.to_dict(), 2)
    np.testing.assert_allclose(member["probs"], direct[1].numpy(), atol=1e-6)
    assert member["val_acc"] == pytest.approx(float((direct[1].argmax(1) == data.y_val).float().mean()))


def test_summary_against_hand_numbers():
    y = np.array([0, 1, 1])
    a = np.array([[0.9, 0.1], [0.6, 0.4], [0.2, 0.8]])  # right, wrong, right
    b = np.array([[0.4, 0.6], [0.3, 0.7], [0.3, 0.7]])  # wrong, right, right
    bad = np.full((3, 2), np.nan)  # a diverged member
    s = es.ensemble_summary(
        [{"seed": 0, "probs": a, "y": y}, {"seed": 1, "probs": b, "y": y}, {"seed": 2, "probs": bad, "y": y}]
    )
    assert s["n_used"] == 2 and [m["used"] for m in s["members"]] == [True, True, False]
    assert s["mean_acc"] == pytest.approx(2 / 3) and s["best_acc"] == pytest.approx(2 / 3)
    # mean probabilities: [0.65, 0.35], [0.45, 0.55], [0.25, 0.75] -> all three right
    assert s["ensemble_acc"] == 1.0 and s["by_size"] == pytest.approx([2 / 3, 1.0])
    assert s["ensemble_loss"] == pytest.approx(-(math.log(0.65) + math.log(0.55) + math.log(0.75)) / 3)
    with pytest.raises(ValueError, match="members"):
        es.ensemble_proba([])


def test_ensemble_beats_the_average_member_on_digits():
    cfg = RunConfig(dataset="digits", subset=300, epochs=5, seed=0)
    s = es.ensemble_summary([ens.train_member(cfg.to_dict(), seed) for seed in range(4)])
    assert s["n_used"] == 4
    assert s["ensemble_acc"] >= s["mean_acc"]
    assert s["ensemble_loss"] <= s["mean_loss"]  # averaging probabilities never raises the mean log-loss (Jensen)


def test_snapshots_are_taken_at_the_cyclic_minima():
    base = RunConfig(dataset="digits", subset=200, optimizer="momentum", lr=0.1, min_lr_ratio=0.01, width=16)
    data = load_data(base)
    cfg = ens.snapshot_config(base, len(data.x_train), cycles=3, epochs_per_cycle=2)
    saver, log = ens.SnapshotSaver(), ParamLog()
    tr = Trainer(cfg, data=data, record=False, callbacks=[saver, log]).fit()
    lrs = preview_schedule(cfg, tr.total_steps)  # the schedule, computed independently of the callback
    minima = [i + 1 for i in range(1, len(lrs) - 1) if lrs[i] <= lrs[i - 1] and lrs[i] < lrs[i + 1]]
    minima += [len(lrs)] if lrs[-1] < lrs[-2] else []
    assert [s[0] for s in saver.snapshots] == minima == [2 * cfg.step_size * k + 1 for k in (1, 2, 3)]
    assert all(s[1] == pytest.approx(base.lr * base.min_lr_ratio) for s in saver.snapshots)
    for step, _, state in saver.snapshots:  # each copy holds the weights right after that step, not later ones
        weights = [state[name] for name, _ in tr.model.named_parameters()]
        assert all(torch.equal(w, p) for w, p in zip(weights, log.steps[step - 1], strict=True))
    r = ens.snapshot_run(base.to_dict(), 2, 1)
    assert len(r["snapshots"]) == 2 and r["snapshots"][-1]["probs"].shape == (len(r["y"]), 10)
    assert es.snapshot_summary(r, 2)["kept"] == 2


def test_ema_weights_equal_hand_computed_ema_of_the_trajectory():
    decay = 0.9
    avg, log = ens.WeightAverager("ema", decay), ParamLog()
    tr = Trainer(TINY, record=False, callbacks=[avg, log]).fit()
    ema = [p.clone() for p in log.steps[0]]  # the first update copies the weights
    for params in log.steps[1:]:
        ema = [decay * e + (1 - decay) * p for e, p in zip(ema, params, strict=True)]
    got = list(avg.avg.module.parameters())
    assert int(avg.avg.n_averaged) == tr.step == len(log.steps)
    for e, g in zip(ema, got, strict=True):
        torch.testing.assert_close(g, e, atol=1e-6, rtol=0)
    assert not all(torch.equal(g, p) for g, p in zip(got, tr.model.parameters(), strict=True))  # not the raw weights
    assert avg.rows[-1]["avg_val_acc"] is not None and avg.rows[-1]["step"] == tr.step


def test_swa_is_the_plain_mean_of_epoch_end_weights():
    cfg = TINY.replace(epochs=4)
    avg, log = ens.WeightAverager("swa", swa_start=1), ParamLog()
    Trainer(cfg, record=False, callbacks=[avg, log]).fit()
    kept = log.epoch_end[1:]  # epochs 2, 3, 4
    mean = [torch.stack(ps).mean(0) for ps in zip(*kept, strict=True)]
    assert int(avg.avg.n_averaged) == 3
    for m, g in zip(mean, avg.avg.module.parameters(), strict=True):
        torch.testing.assert_close(g, m, atol=1e-6, rtol=0)


def test_batch_norm_statistics_are_recomputed_for_the_average():
    cfg = TINY.replace(batch_norm=True)
    avg = ens.WeightAverager("ema", 0.8)
    tr = Trainer(cfg, record=False, callbacks=[avg]).fit()
    model = avg.avg.module
    bn = next(m for m in model.modules() if isinstance(m, torch.nn.BatchNorm1d))
    seen = []
    hook = bn.register_forward_hook(lambda mod, inp, out: seen.append(inp[0].mean(0)))
    avg.averaged_proba(tr, tr.x_val[:5])  # runs update_bn, then predicts
    hook.remove()
    chunks = math.ceil(len(tr.x_train) / ens.BN_CHUNK)
    # update_bn: one forward per chunk (momentum None = equal-weight average of the chunk means), then the prediction
    assert len(seen) == chunks + 1
    torch.testing.assert_close(bn.running_mean, torch.stack(seen[:chunks]).mean(0), atol=1e-5, rtol=0)


def test_bad_settings_name_the_field():
    with pytest.raises(ConfigError, match="mode"):
        ens.WeightAverager("median")
    with pytest.raises(ConfigError, match="decay"):
        ens.WeightAverager("ema", decay=1.0)
    with pytest.raises(ConfigError, match="cycles"):
        ens.snapshot_config(TINY, 160, cycles=0, epochs_per_cycle=1)


# ---- what the page shows ----------------------------------------------------------------------------------------


def _members():
    y = np.array([0, 1, 1])
    a = np.array([[0.9, 0.1], [0.6, 0.4], [0.2, 0.8]])  # right on 2 of 3
    b = np.array([[0.4, 0.6], [0.2, 0.8], [0.3, 0.7]])  # right on 2 of 3, different mistake
    return [{"seed": 1, "probs": a, "y": y}, {"seed": 2, "probs": b, "y": y}]


def test_members_table_lists_members_then_their_mean_then_the_ensemble():
    s = es.ensemble_summary(_members())
    rows = es.members_table(s)
    assert [r["model"] for r in rows] == ["seed 1", "seed 2", "mean of members", "ensemble"]
    assert [r["val acc"] for r in rows] == pytest.approx([2 / 3, 2 / 3, 2 / 3, 1.0])  # averaged, all three are right
    assert rows[-1]["val loss"] == pytest.approx(-np.mean(np.log([0.65, 0.6, 0.75])))


def test_page_texts_quote_the_summaries():
    s = es.ensemble_summary(_members())
    text = es.seed_text(s)
    assert text.startswith("**Ensemble of 2: 100.0%**") and "(+33.3 points)" in text
    snap = {"y": np.array([0, 1]), "snapshots": [{"step": 5, "lr": 0.01, "probs": np.array([[0.8, 0.2], [0.6, 0.4]])}]}
    ss_ = es.snapshot_summary(snap, 3)
    assert es.snapshot_text(ss_, 1, 40).startswith("**Snapshot ensemble of the last 1: 50.0%**")
    assert es.snapshot_text(ss_, 1, 40).endswith("1 snapshots from 40 steps.")
    r = {"mode": "swa", "avg_val_acc": 0.9, "avg_val_loss": 0.3, "raw_val_acc": 0.8, "raw_val_loss": 0.5}
    text = es.averaging_text({**r, "steps": 100, "batch_norm": True})
    assert text.startswith("**SWA average: 90.0%**") and "after 100 steps" in text and "update_bn" in text
    assert "update_bn" not in es.averaging_text({**r, "mode": "ema", "steps": 1, "batch_norm": False})


def test_seed_part_shows_progress_and_the_summary_in_seed_order():
    assert es.member_keys(3) == ["ens_member_0", "ens_member_1", "ens_member_2"] and es.member_keys(0) == []
    assert es.seed_caption(0, 0, False) is None  # nothing started: no progress line
    assert es.seed_caption(2, 5, True) == "2 of 5 members trained · training..."
    assert es.seed_caption(5, 5, False) == "5 of 5 members trained"
    assert es.seed_summary([]) is None and es.seed_message(None) is None
    members = _members()
    s = es.seed_summary(members[::-1])  # finished out of order
    assert [m["seed"] for m in s["members"]] == [1, 2]
    assert s["by_size"] == pytest.approx(es.ensemble_summary(members)["by_size"])
    assert es.seed_message(s) == es.seed_text(s)
    diverged = es.seed_summary([{"seed": 3, "probs": np.full((3, 2), np.nan), "y": np.array([0, 1, 1])}])
    assert diverged["n_used"] == 0 and es.seed_message(diverged) is None


def test_snapshot_chart_data_is_empty_before_a_run_and_the_kept_rows_after():
    assert es.snapshot_chart_data(None, None) == (None, None, 0)
    snaps = [{"step": k, "lr": 0.1 / k, "probs": np.array([[0.8, 0.2], [0.4, 0.6]])} for k in (10, 20, 30)]
    result = {"y": np.array([0, 1]), "snapshots": snaps, "lr": [0.1, 0.01, 0.1]}
    assert es.snapshot_chart_data({**result, "snapshots": []}, None) == ([0.1, 0.01, 0.1], None, 0)
    s = es.snapshot_summary(result, 2)
    lrs, rows, kept = es.snapshot_chart_data(result, s)
    assert lrs == result["lr"] and kept == 2 and [r["step"] for r in rows] == [10, 20, 30]


@pytest.mark.parametrize("epochs", [1, 2, 5, 20])
def test_swa_start_choices_keep_at_least_one_epoch_in_the_average_and_default_to_half(epochs):
    latest, default = es.swa_start_choices(epochs)
    # WeightAverager folds in epoch k (0-based) when k + 1 > swa_start: allowed starts leave some epoch averaged.
    allowed = [start for start in range(epochs + 2) if any(k + 1 > start for k in range(epochs))]
    assert latest == max(allowed) and default == math.floor(epochs / 2) and default in allowed


def test_averaging_part_labels_the_run_mode_and_waits_for_a_score():
    assert es.average_label(None, "ema") == "EMA" and es.average_label(None, "swa") == "SWA average"
    assert es.average_label({"mode": "swa"}, "ema") == "SWA average"  # the finished run's mode wins
    r = {"mode": "ema", "avg_val_acc": 0.9, "avg_val_loss": 0.3, "raw_val_acc": 0.8, "raw_val_loss": 0.5}
    r.update(steps=10, batch_norm=False)
    assert es.averaging_message(None) is None and es.averaging_message({**r, "avg_val_acc": None}) is None
    assert es.averaging_message(r) == es.averaging_text(r)
