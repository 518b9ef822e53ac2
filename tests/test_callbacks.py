"""The callback contract: TrainerView is what callbacks use, `order` sorts them, built-ins can be left out."""

import math
from types import SimpleNamespace

import pytest

from lab.config import RunConfig
from lab.engine.callbacks import BUILTINS, Callback, DivergenceGuard, EarlyStopping, TrainerView
from lab.engine.recording.probes import ModelProbe
from lab.engine.recording.recorder import Recorder
from lab.engine.trainer import Trainer
from lab.lifecycle import RunStatus

TINY = RunConfig(dataset="spiral", subset=128, max_steps=6, eval_every=2, early_stopping=3)


class Log(Callback):
    def __init__(self, name, order, seen):
        self.name, self.order, self.seen = name, order, seen

    def on_batch_end(self, trainer: TrainerView) -> None:
        self.seen.append((trainer.step, self.name))


def test_callbacks_run_in_ascending_order_and_ties_keep_their_place():
    seen = []
    cbs = [Log("late", 5, seen), Log("a", 0, seen), Log("early", -100, seen), Log("b", 0, seen)]
    tr = Trainer(TINY, callbacks=cbs)
    kinds = [type(cb) for cb in tr.callbacks]
    assert kinds[1:5] == [DivergenceGuard, EarlyStopping, Recorder, ModelProbe]  # built-ins first, in their order
    tr.advance(1)
    assert [name for _, name in seen] == ["early", "a", "b", "late"]


def test_builtins_can_be_left_out():
    tr = Trainer(TINY, builtins=("recorder",))
    assert [type(cb) for cb in tr.callbacks] == [Recorder] and tr.history is not None
    bare = Trainer(TINY, builtins=())
    assert bare.callbacks == [] and bare.recorder is None and bare.history is None
    assert bare.fit().status == RunStatus.COMPLETED and bare.step == 6
    assert {type(cb) for cb in Trainer(TINY).callbacks} == {DivergenceGuard, EarlyStopping, Recorder, ModelProbe}
    assert BUILTINS == ("divergence_guard", "early_stopping", "recorder", "model_probe")
    with pytest.raises(ValueError, match=r"builtins=\['guard'\] is invalid: choose from divergence_guard"):
        Trainer(TINY, builtins=("guard",))


def test_without_the_guard_a_blow_up_is_not_a_divergence():
    cfg = RunConfig(optimizer="sgd", lr=10.0, init="large_normal", max_steps=40, epochs=100, depth=3, width=64)
    assert Trainer(cfg).fit().status == RunStatus.DIVERGED
    unguarded = Trainer(cfg, builtins=("recorder",)).fit()
    assert unguarded.status == RunStatus.COMPLETED and unguarded.step == 40


def test_a_built_in_works_on_a_small_fake_of_the_view():
    stops = []
    view = SimpleNamespace(step=7, loss=math.nan, request_stop=lambda status, reason: stops.append((status, reason)))
    DivergenceGuard().on_batch_end(view)
    assert stops == [(RunStatus.DIVERGED, "loss became nan at step 7")]


def test_the_trainer_has_everything_the_view_names():
    tr = Trainer(TINY)
    names = set(TrainerView.__annotations__) | {n for n in vars(TrainerView) if not n.startswith("_")}
    missing = sorted(n for n in names if not hasattr(tr, n))
    assert not missing
