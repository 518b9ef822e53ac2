"""Trainer: every option trains, determinism, divergence, stopping, early stopping, overfitting, syllabus numbers."""

import math

import pytest
import torch

from lab import registry
from lab.config import RunConfig
from lab.diagnosis import diagnose
from lab.engine.callbacks import EVENTS, Callback, check_event
from lab.engine.trainer import Trainer, overfit_config

FAST = dict(subset=128, batch_size=32, width=16, max_steps=3, eval_every=2, record_every=1)


def _train(**kw):
    cfg = RunConfig(**{**FAST, **kw})
    return Trainer(cfg).fit()


def _finite(tr):
    assert tr.status == "completed", tr.reason
    assert math.isfinite(tr.loss) and math.isfinite(tr.last_eval["val_loss"])


@pytest.mark.parametrize("name", list(registry.ACTIVATIONS))
def test_every_activation_trains(name):
    _finite(_train(activation=name))
    _finite(_train(activation=name, model="cnn", dataset="shapes", base_channels=4))


@pytest.mark.parametrize("name", list(registry.INITS))
def test_every_init_trains(name):
    _finite(_train(init=name))


@pytest.mark.parametrize("name", list(registry.OPTIMIZERS))
def test_every_optimizer_trains(name):
    _finite(_train(optimizer=name))


@pytest.mark.parametrize("name", list(registry.SCHEDULES))
def test_every_schedule_trains(name):
    _finite(_train(schedule=name, warmup_steps=1, max_steps=4, step_size=2))


@pytest.mark.parametrize("name", [d for d in registry.EMBEDDED_DATASETS])
def test_every_embedded_dataset_trains(name):
    _finite(_train(dataset=name))


@pytest.mark.parametrize(
    "kw",
    [
        dict(l1=1e-4),
        dict(l2=1e-3),
        dict(l1=1e-4, l2=1e-3),
        dict(weight_decay=1e-2, optimizer="adamw"),
        dict(dropout=0.5),
        dict(dropconnect=0.3),
        dict(batch_norm=True),
        dict(residual=True, stochastic_depth=0.2),
        dict(residual=True, zero_init_residual=True),
        dict(label_smoothing=0.1),
        dict(loss="mse"),
        dict(early_stopping=1),
        dict(clip_value=0.1),
        dict(clip_norm=0.5),
        dict(aug_noise=0.1),
        dict(
            dataset="shapes",
            model="cnn",
            aug_crop=2,
            aug_flip=True,
            aug_rotate=15,
            aug_translate=0.1,
            aug_scale=0.1,
            aug_shear=5,
            aug_jitter=0.3,
            cutout=0.3,
        ),
        dict(dataset="shapes", model="cnn", mixup=0.4),
        dict(dataset="shapes", model="cnn", cutmix=1.0),
        dict(dataset="shapes", model="cnn", pool="fractional"),
        dict(dataset="shapes", model="cnn", batch_norm=True, residual=True, stochastic_depth=0.1),
        dict(scale_lr_with_batch=True),
        dict(preprocess="whiten"),
        dict(preprocess="pca"),
    ],
)
def test_every_regularizer_trains(kw):
    _finite(_train(**kw))


def _curve(cfg):
    losses = []

    class Log(Callback):
        def on_batch_end(self, trainer):
            losses.append(trainer.loss)

    Trainer(cfg, callbacks=[Log()]).fit()
    return losses


def test_same_seed_same_curve_and_other_seed_differs():
    cfg = RunConfig(subset=256, max_steps=30, dropout=0.2, aug_noise=0.05)
    a, b = _curve(cfg), _curve(cfg)
    assert a == b
    assert _curve(cfg.replace(seed=1)) != a


def test_cnn_determinism():
    cfg = RunConfig(dataset="shapes", model="cnn", base_channels=4, max_steps=8, aug_flip=True, mixup=0.2)
    assert _curve(cfg) == _curve(cfg)


def test_divergence_ends_cleanly():
    tr = _train(optimizer="sgd", lr=10.0, init="large_normal", max_steps=200, epochs=100, depth=3, width=64)
    assert tr.status == "diverged"
    assert "loss" in tr.reason and tr.step < 200
    h = tr.history
    hints = diagnose(h.train, h.val, h.snapshots, dict(h.meta, n_classes=10), tr.cfg.to_dict(), tr.summary())
    assert hints[0].level == "bad" and hints[0].cause == "lr_too_high"


def test_stop_request_from_a_callback():
    class StopAt(Callback):
        def on_batch_end(self, trainer):
            if trainer.step == 5:
                trainer.request_stop()

    tr = Trainer(RunConfig(subset=256, max_steps=50), callbacks=[StopAt()]).fit()
    assert tr.status == "stopped" and tr.step == 5


def test_advance_in_slices_equals_fit():
    cfg = RunConfig(subset=256, max_steps=20, eval_every=5)
    whole = _curve(cfg)
    losses = []

    class Log(Callback):
        def on_batch_end(self, trainer):
            losses.append(trainer.loss)

    tr = Trainer(cfg, callbacks=[Log()])
    assert tr.advance(3) == 3 and tr.step == 3
    tr.advance_epoch()
    assert tr.batch_in_epoch == 0
    while not tr.done:
        tr.advance(4)
    assert losses == whole and tr.status == "completed"


def test_stop_now_while_paused():
    tr = Trainer(RunConfig(subset=256, max_steps=20))
    tr.advance(2)
    tr.stop_now()
    assert tr.status == "stopped" and tr.step == 2 and tr.last_eval["step"] == 2


def test_events_are_a_closed_list():
    for e in EVENTS:
        check_event(e)
    with pytest.raises(ValueError, match="unknown event"):
        check_event("on_batch_finish")


def test_event_order():
    seen = []

    class Order(Callback):
        pass

    for e in EVENTS:
        setattr(Order, e, lambda self, tr, e=e: seen.append(e))
    Trainer(RunConfig(subset=128, batch_size=64, max_steps=2, eval_every=2), callbacks=[Order()]).fit()
    assert seen[0] == "on_fit_start" and seen[-1] == "on_fit_end"
    i = seen.index("on_batch_start")
    assert seen[i : i + 3] == ["on_batch_start", "on_after_backward", "on_batch_end"]
    assert "on_eval_start" in seen and seen.index("on_eval_end") > seen.index("on_eval_start")


def test_early_stopping_restores_best_weights():
    cfg = RunConfig(subset=128, batch_size=32, lr=0.5, optimizer="sgd", epochs=50, eval_every=2, early_stopping=2)
    tr = Trainer(cfg).fit()
    es = [c for c in tr.callbacks if type(c).__name__ == "EarlyStopping"][0]
    assert tr.status == "completed" and "early stopping" in tr.reason
    assert tr.step < tr.total_steps
    for k, v in tr.model.state_dict().items():
        assert torch.equal(v.cpu(), es.best_state[k])


def test_initial_loss_is_about_ln_c():
    """An untrained 10-class classifier starts near ln(10) = 2.30 (syllabus)."""
    tr = Trainer(RunConfig(max_steps=1, init="xavier_normal", activation="tanh")).fit()
    assert tr.initial_loss == pytest.approx(math.log(10), rel=0.1)


def test_overfit_a_few_batches_reaches_100_percent():
    """Overfitting 5 mini-batches with regularization off reaches 100% training accuracy (syllabus)."""
    cfg = RunConfig(overfit_batches=5, batch_size=32, epochs=60, dropout=0.5, l2=1e-2, width=128)
    tr = Trainer(cfg)
    assert tr.cfg.dropout == 0 and tr.cfg.l2 == 0 and tr.n_train == 160
    tr.fit()
    _, acc = tr._eval_on(tr.x_train, tr.y_train)
    assert acc == 1.0


def test_overfit_config_turns_every_regularizer_off():
    cfg = overfit_config(RunConfig(dropout=0.5, mixup=0.2, aug_flip=True, weight_decay=0.1, early_stopping=3))
    assert (cfg.dropout, cfg.mixup, cfg.aug_flip, cfg.weight_decay, cfg.early_stopping) == (0, 0, False, 0, 0)


def test_l1_l2_penalty_matches_direct_sum():
    tr = Trainer(RunConfig(subset=64, l1=0.01, l2=0.1, max_steps=1))
    ws = [p for n, p in tr.model.named_parameters() if p.dim() > 1]
    direct = 0.01 * sum(float(w.detach().abs().sum()) for w in ws) + 0.1 * sum(
        float((w.detach() ** 2).sum()) for w in ws
    )
    assert float(tr._penalty().detach()) == pytest.approx(direct, rel=1e-5)


def test_clip_norm_bounds_the_gradient():
    norms = []

    class Check(Callback):
        def on_batch_end(self, trainer):
            g = torch.cat([p.grad.flatten() for p in trainer.model.parameters() if p.grad is not None])
            norms.append(float(g.norm()))

    Trainer(RunConfig(subset=128, max_steps=5, clip_norm=0.05, lr=0.1), callbacks=[Check()]).fit()
    assert max(norms) <= 0.05 + 1e-5


def test_param_limit():
    from lab.config import ConfigError, Limits

    with pytest.raises(ConfigError, match="parameters"):
        Trainer(RunConfig(width=2048, depth=4), limits=Limits(max_params=10_000))


def test_device_is_cpu_here_and_cuda_when_available():
    from lab.engine.trainer import pick_device

    assert pick_device("cpu").type == "cpu"
    assert pick_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
