"""The data-parallel check's text: the verdict turns on the all-reduce's share of the compute."""

import pytest

from lab.workflows import distributed_report as dr

RESULT = {
    "max_abs_diff": 3e-8,
    "max_abs_grad": 0.25,
    "half_only_diff": 0.01,
    "ddp_steps": 5,
    "optimizer": "sgd",
    "ddp_max_param_diff": 2e-8,
    "n_params": 12_345,
    "grad_bytes": 49_380,
    "ring_bytes_per_process": 49_380,
    "allreduce_ms": 0.5,
    "compute_half_ms": 4.0,
    "compute_full_ms": 7.5,
}


def test_ratio_and_verdict_follow_the_measured_times():
    assert dr.allreduce_ratio(RESULT) == pytest.approx(0.125)
    assert dr.verdict(RESULT) == "The all-reduce adds only 12% to each process's compute: here the split pays."
    slow = {**RESULT, "allreduce_ms": 3.0}
    assert dr.allreduce_ratio(slow) == pytest.approx(0.75) and dr.allreduce_ratio(slow) > dr.PAYS
    assert dr.verdict(slow).startswith("The all-reduce costs 75% of the compute")
    assert dr.allreduce_ratio({**RESULT, "compute_half_ms": 0.0}) == pytest.approx(0.5 / 1e-9)  # no division by 0


def test_report_quotes_the_check_and_ends_with_the_verdict():
    text = dr.report(RESULT)
    assert "at most **3.0e-08**" in text and "at most **2.0e-08**" in text  # what the page test parses
    assert "12,345 gradient numbers = 48.2 kB" in text
    assert text.endswith(dr.verdict(RESULT))
