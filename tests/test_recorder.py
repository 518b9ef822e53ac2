"""Recorder: statistics equal the same figures computed directly; hooks and memory stay bounded."""

import math

import pytest
import torch

from lab.config import RunConfig
from lab.engine.callbacks import Callback
from lab.engine.recording.history import SCORE_EVERY, count_correct
from lab.engine.recording.recorder import Recorder
from lab.engine.trainer import Trainer

TINY = dict(dataset="digits", subset=256, depth=2, width=32, batch_size=32, eval_every=1000)


class Spy(Callback):
    """Computes the same statistics independently with its own hooks and copies."""

    def __init__(self):
        self.outputs = {}
        self.out_grads = {}
        self.before = {}
        self.ratios = {}
        self.handles = []

    def on_fit_start(self, trainer):
        for name, mod in trainer.model.taps.items():

            def hook(m, i, out, name=name):
                if not out.requires_grad:
                    return  # evaluation pass
                self.outputs[(name, trainer.step + 1)] = out.detach().clone()
                if out.requires_grad:
                    out.register_hook(lambda g: self.out_grads.__setitem__((name, trainer.step + 1), g.clone()))

            self.handles.append(mod.register_forward_hook(hook))

    def on_after_backward(self, trainer):
        self.before = {n: p.detach().clone() for n, p in trainer.model.named_parameters()}

    def on_batch_end(self, trainer):
        for n, p in trainer.model.named_parameters():
            self.ratios[(n, trainer.step)] = float((p.detach() - self.before[n]).norm() / self.before[n].norm())

    def on_fit_end(self, trainer):
        for h in self.handles:
            h.remove()


def _run(cfg, **kw):
    spy = Spy()
    tr = Trainer(cfg, callbacks=[spy], **kw)
    tr.fit()
    return tr, spy


def test_layer_statistics_match_direct_computation():
    tr, spy = _run(RunConfig(**TINY, max_steps=12, record_every=4))
    snaps = tr.history.snapshots
    assert [s["step"] for s in snaps] == [1, 5, 9]
    readable = tr.model.param_groups_readable()
    for snap in snaps:
        for name, row in snap["layers"].items():
            a = spy.outputs[(name, snap["step"])]
            assert row["mean"] == pytest.approx(float(a.mean()), rel=1e-5, abs=1e-7)
            assert row["std"] == pytest.approx(float(a.std()), rel=1e-5)
            assert sum(row["hist"]) == a.numel()  # out-of-range values land in the end bins
            assert row["dead"] == pytest.approx(float((a.max(0).values <= 0).float().mean()))
            assert row["grad_std"] == pytest.approx(float(spy.out_grads[(name, snap["step"])].std()), rel=1e-5)
        for full, short in readable.items():
            assert snap["params"][short]["ratio"] == pytest.approx(spy.ratios[(full, snap["step"])], rel=1e-4)


def test_activation_std_matches_a_plain_forward_pass():
    cfg = RunConfig(**TINY, max_steps=1, record_every=1, activation="tanh", init="xavier_normal")
    init_state = {}

    class Keep(Callback):
        def on_fit_start(self, trainer):
            init_state.update({k: v.clone() for k, v in trainer.model.state_dict().items()})

    tr = Trainer(cfg, callbacks=[Keep()])
    tr.fit()
    perm = torch.randperm(tr.n_train, generator=torch.Generator().manual_seed(cfg.seed))
    x = tr.x_train[perm[: tr.batch_size]].flatten(1)
    layers = [k[: -len(".weight")] for k in init_state if k.endswith(".weight") and not k.startswith("out")]
    snap = tr.history.snapshots[0]
    h = x
    for name, prefix in zip(tr.model.taps, layers, strict=True):
        h = torch.tanh(h @ init_state[prefix + ".weight"].T + init_state[prefix + ".bias"])
        assert snap["layers"][name]["std"] == pytest.approx(float(h.std()), rel=1e-5)
        assert snap["layers"][name]["sat"] == pytest.approx(float((h.abs() > 0.97).float().mean()))


def test_hooks_are_removed_after_the_run():
    tr, _ = _run(RunConfig(**TINY, max_steps=3))
    for mod in tr.model.modules():
        assert not mod._forward_hooks


def test_recording_cadence_and_count():
    tr, _ = _run(RunConfig(**TINY, max_steps=50, record_every=5))
    assert len(tr.history.snapshots) == math.ceil(50 / 5)


def test_history_is_bounded():
    rec = Recorder(every=1, max_snapshots=8, max_points=16)
    tr = Trainer(RunConfig(**TINY, epochs=100, max_steps=200), record=rec)
    tr.fit()
    h = tr.history
    assert len(h.snapshots) <= 8 and len(h.train) <= 17
    assert h.snapshots[0]["step"] == 1 and h.snapshots[-1]["step"] > 200 - 2 * rec.cadence.every
    assert len(h.dropped) + len(h.snapshots) > 8
    # the bucketed loss keeps the mean of the steps it covers: compare the overall mean two ways
    assert h.train[-1]["step"] == 200


def test_dead_units_detected():
    class Kill(Callback):
        def on_fit_start(self, trainer):
            with torch.no_grad():
                trainer.model.fc1.lin.bias.fill_(-1e3)

    tr = Trainer(RunConfig(**TINY, max_steps=2, record_every=1), callbacks=[Kill()])
    tr.fit()
    assert tr.history.snapshots[-1]["layers"]["fc1"]["dead"] == 1.0


def test_saturation_with_large_init():
    tr, _ = _run(
        RunConfig(**{**TINY, "width": 256}, max_steps=1, record_every=1, activation="tanh", init="large_normal")
    )
    assert tr.history.snapshots[0]["layers"]["fc2"]["sat"] > 0.5


def test_adaptive_cadence_records_regularly():
    tr, _ = _run(RunConfig(**TINY, max_steps=150))
    steps = [s["step"] for s in tr.history.snapshots]
    assert steps[0] == 1 and steps[1] == 11  # the probe gap before costs are known
    assert len(steps) >= 3 and steps == sorted(steps)


def test_histogram_counts_match_torch_histc_on_clamped_values():
    """The recorder's bincount histogram against torch.histc: same counts, out-of-range values in the end bins."""
    from lab.engine.recording.tensor_stats import _hist

    g = torch.Generator().manual_seed(3)
    t = torch.randn(64, 16, 8, 8, generator=g) * 2
    lo, hi, bins = -1.5, 2.5, 40
    ours = _hist(t, lo, hi, bins)
    reference = torch.histc(t.clamp(lo, hi), bins=bins, min=lo, max=hi)
    assert torch.equal(ours, reference)
    assert ours.sum() == t.numel() and ours[0] == (t <= lo + (hi - lo) / bins).sum()


def test_adaptive_cost_counts_callbacks_after_the_recorder():
    """A record's cost is measured to the next step, so work that decorates snapshots later is in the budget."""
    import time

    class SlowDecorator(Callback):
        def on_batch_end(self, trainer):
            snaps = trainer.history.snapshots
            if snaps and snaps[-1]["step"] == trainer.step:
                time.sleep(0.1)

    tr = Trainer(RunConfig(**TINY, max_steps=40), callbacks=[SlowDecorator()]).fit()
    assert len(tr.history.snapshots) >= 3
    # The estimate inside on_batch_end alone would miss the sleep (a record of TINY costs about a
    # millisecond); half the sleep leaves room for a plain-step average inflated by a loaded machine.
    assert tr.recorder.cadence.record_cost >= 0.05


def test_count_correct_matches_one_batch_at_a_time():
    g = torch.Generator().manual_seed(3)
    logits = [torch.randn(n, 5, generator=g) for n in (8, 8, 3)]
    hard = [torch.randint(0, 5, (n,), generator=g) for n in (8, 8, 3)]
    soft = [torch.softmax(torch.randn(n, 5, generator=g), 1) for n in (8, 8, 3)]
    for targets in (hard, soft):
        want = [
            int((lg.argmax(1) == (t.argmax(1) if t.dtype.is_floating_point else t)).sum())
            for lg, t in zip(logits, targets, strict=True)
        ]
        assert count_correct(logits, targets) == want  # unequal sizes
        assert count_correct(logits[:2], targets[:2]) == want[:2]  # equal sizes take the reshaped path


class AccuracySpy(Callback):
    """The accuracy of every step, computed right away from the trainer's own outputs."""

    def __init__(self):
        self.acc = {}

    def on_batch_end(self, trainer):
        pred = trainer.logits.argmax(1)
        self.acc[trainer.step] = float((pred == trainer.target).float().mean())


def test_train_rows_carry_each_steps_accuracy_and_settle_on_read():
    spy = AccuracySpy()
    tr = Trainer(RunConfig(**TINY, max_steps=40), callbacks=[spy])
    tr.advance(SCORE_EVERY + 3)  # some steps wait for a batched scoring...
    rows = tr.history.train  # ...and reading the rows settles them
    assert [r["step"] for r in rows] == list(range(1, SCORE_EVERY + 4))
    assert [r["train_acc"] for r in rows] == pytest.approx([spy.acc[s] for s in range(1, SCORE_EVERY + 4)])
    assert tr.batch_acc == pytest.approx(spy.acc[SCORE_EVERY + 3])
    tr.fit()
    rows = tr.history.train
    assert [r["step"] for r in rows] == list(range(1, 41))
    assert [r["train_acc"] for r in rows] == pytest.approx([spy.acc[s] for s in range(1, 41)])
