"""Each lesson's story holds: train the lesson and its comparison run and check what the card says to look for."""

import pytest

from lab.engine.trainer import Trainer
from lab.ui.controls import lesson_config, lessons


def _pair(lesson_id, **shorter):
    cfg = lesson_config(lesson_id).replace(record_every=5, **shorter)
    field, value = next(iter(lessons()[lesson_id]["compare"].items()))
    return Trainer(cfg).fit(), Trainer(cfg.replace(**{field: value})).fit()


def _first(tr, layer, key):
    return tr.history.snapshots[0]["layers"][layer][key]


def test_there_are_at_least_six_lessons_with_a_comparison():
    assert len(lessons()) >= 6
    for lesson in lessons().values():
        assert lesson["title"] and lesson["summary"] and lesson["look_for"] and lesson["compare"]


def test_vanishing_gradients_with_deep_sigmoid():
    sig, relu = _pair("vanishing_sigmoid", max_steps=60)
    assert _first(sig, "fc1", "grad_std") < 1e-2 * _first(sig, "fc8", "grad_std")
    ratio = lambda tr: _first(tr, "fc1", "grad_std") / _first(tr, "fc8", "grad_std")  # noqa: E731
    assert ratio(relu) > 100 * ratio(sig)
    assert relu.last_eval["val_acc"] > sig.last_eval["val_acc"] + 0.2


def test_dead_relus_from_a_high_learning_rate():
    high, low = _pair("dead_relu", max_steps=100)
    dead = lambda tr: max(tr.history.snapshots[-1]["layers"][n].get("dead", 0) for n in tr.history.meta["layers"])  # noqa: E731
    assert dead(high) >= 0.3 and dead(high) > dead(low) + 0.2


def test_xavier_decays_and_kaiming_holds_under_relu():
    xav, kai = _pair("xavier_vs_kaiming", max_steps=1)
    ratio = lambda tr: _first(tr, "fc10", "std") / _first(tr, "fc1", "std")  # noqa: E731
    assert ratio(xav) < 0.3 and ratio(kai) > 0.5


def test_batch_norm_rescues_a_tiny_init():
    bad, bn = _pair("batchnorm_rescue", max_steps=150)
    assert bn.last_eval["val_acc"] > bad.last_eval["val_acc"] + 0.3


def test_small_subset_overfits_and_dropout_narrows_the_gap():
    plain, drop = _pair("overfit_small", max_steps=400)
    gap = lambda tr: tr.last_eval["train_acc"] - tr.last_eval["val_acc"]  # noqa: E731
    assert plain.last_eval["train_acc"] == 1.0 and gap(plain) > 0.05


def test_augmentation_helps_the_small_image_set():
    plain, aug = _pair("dropout_augmentation")
    gap = lambda tr: tr.last_eval["train_acc"] - tr.last_eval["val_acc"]  # noqa: E731
    assert plain.last_eval["train_acc"] == 1.0 and gap(plain) > 0.15
    assert aug.last_eval["val_acc"] > plain.last_eval["val_acc"] + 0.08 and gap(aug) < gap(plain)


def test_xor_needs_a_hidden_layer():
    linear, hidden = _pair("xor_needs_hidden")
    assert linear.last_eval["val_acc"] < 0.8 and hidden.last_eval["val_acc"] > 0.95


@pytest.mark.parametrize("lesson_id", ["mse_vs_cross_entropy"])
def test_cross_entropy_beats_squared_error(lesson_id):
    mse, ce = _pair(lesson_id)
    assert ce.last_eval["val_acc"] > mse.last_eval["val_acc"]
