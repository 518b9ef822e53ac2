"""LR range test: the sweep, the smoothing, the stop rule and the suggestion, on synthetic curves and on digits."""

import math

import pytest

from lab.config import ConfigError, RunConfig
from lab.workflows.lr_finder import ema, exp_lr, lr_range_test, steepest_lr, suggest_lr


def test_exp_lr_spans_the_range_geometrically():
    lrs = [exp_lr(i, 5, 1e-4, 1.0) for i in range(5)]
    assert lrs[0] == pytest.approx(1e-4) and lrs[-1] == pytest.approx(1.0)
    ratios = [b / a for a, b in zip(lrs, lrs[1:], strict=False)]
    assert all(r == pytest.approx(10.0) for r in ratios)


def test_ema_bias_correction_keeps_a_constant_series_constant():
    # Without the correction the first values would be 0.1 * 3, 0.19 * 3, ...: dragged towards zero.
    assert ema([3.0] * 10, 0.9) == pytest.approx([3.0] * 10)
    out = ema([1.0, 2.0], 0.5)
    assert out[1] == pytest.approx((0.5 * 0.5 * 1.0 + 0.5 * 2.0) / (1 - 0.25))


def _valley(n=60):
    """A loss that falls, bottoms out at index 40, then rises: min at lrs[40]."""
    lrs = [exp_lr(i, n, 1e-5, 1.0) for i in range(n)]
    loss = [2.3 - 2.0 * (i / 40) if i <= 40 else 0.3 + 0.5 * (i - 40) for i in range(n)]
    return lrs, loss


def test_suggestion_is_a_tenth_of_the_min_loss_rate():
    lrs, loss = _valley()
    suggested, at_min = suggest_lr(lrs, loss)
    assert at_min == lrs[40]
    assert suggested == pytest.approx(lrs[40] / 10)


def test_suggestion_never_goes_below_the_scan():
    lrs, loss = [1e-3, 1e-2, 1e-1], [0.5, 1.0, 3.0]  # lowest loss at the very first rate
    assert suggest_lr(lrs, loss)[0] == 1e-3


def test_steepest_descent_is_found_before_the_minimum():
    lrs = [exp_lr(i, 50, 1e-5, 1.0) for i in range(50)]
    # Flat, then a steep drop around index 20, then flat, then up.
    loss = [2.3 if i < 15 else 2.3 - 0.3 * (i - 15) if i < 22 else 0.2 for i in range(40)] + [5.0] * 10
    st = steepest_lr(lrs, loss)
    assert lrs[12] <= st <= lrs[24]
    assert steepest_lr(lrs[:5], [1, 2, 3, 4, 5]) is None  # nothing falls


def test_range_test_on_digits_suggests_a_rate_inside_the_scan_below_the_blow_up():
    r = lr_range_test(RunConfig(seed=1), steps=120, lr_min=1e-5, lr_max=10.0)
    assert len(r.lrs) == len(r.losses) == len(r.smoothed) > 20
    # The callback set the rate of every step: exactly the exponential schedule.
    assert all(lr == pytest.approx(exp_lr(i, 120, 1e-5, 10.0)) for i, lr in enumerate(r.lrs))
    assert r.diverged_lr is not None and len(r.lrs) < 120  # Adam at lr ~1 blows up well before 10
    assert r.lrs[0] <= r.suggested_lr <= r.lrs[-1]
    assert r.suggested_lr < r.min_loss_lr < r.diverged_lr
    assert r.suggested_lr == pytest.approx(r.min_loss_lr / 10)
    assert min(r.smoothed) < 0.6 * r.smoothed[0]  # the loss really fell during the sweep


def test_range_test_stops_once_the_smoothed_loss_passes_four_times_the_best():
    r = lr_range_test(RunConfig(seed=2), steps=150, lr_min=1e-4, lr_max=10.0, stop_factor=4.0)
    best = min(r.smoothed)
    stopped_by_us = r.smoothed[-1] > 4.0 * best
    stopped_by_guard = "starting loss" in r.reason or not math.isfinite(r.losses[-1])
    assert stopped_by_us or stopped_by_guard
    assert all(s <= 4.0 * min(r.smoothed[: i + 1]) for i, s in enumerate(r.smoothed[:-1]))


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"steps": 5}, "lr_test_steps"),
        ({"lr_min": 0.0}, "lr_min"),
        ({"lr_min": 1e-3, "lr_max": 5e-3}, "lr_max"),
        ({"lr_max": 50.0}, "lr_max"),
        ({"beta": 1.0}, "smoothing"),
        ({"stop_factor": 1.0}, "stop_factor"),
    ],
)
def test_bad_arguments_name_the_field(kwargs, field):
    with pytest.raises(ConfigError) as e:
        lr_range_test(RunConfig(), **kwargs)
    assert e.value.field == field and str(e.value).startswith(f"{field}=")


def test_range_test_in_the_offload_worker_returns_results_and_one_line_errors():
    from lab.workflows import offload

    try:
        good = offload.submit(lr_range_test, RunConfig(), 40)
        bad = offload.submit(lr_range_test, RunConfig(), 5)  # ConfigError cannot be unpickled: it comes back as text
        result, error = offload.outcome(good)
        assert error == "" and len(result.lrs) > 0 and result.suggested_lr > 0
        result, error = offload.outcome(bad)
        assert result is None and error == "lr_test_steps=5 is invalid: a whole number from 20 to 1000"
        assert offload.outcome(offload.submit(lr_range_test, RunConfig(), 40))[1] == ""  # the pool survived
    finally:
        offload.shutdown()
