"""lab.concepts.symmetry: equal starting weights keep every hidden unit identical while training; random ones do not."""

import pytest
import torch

from lab.concepts.symmetry import distinct_rows, symmetry_run


def test_distinct_rows() -> None:
    w = torch.tensor([[1.0, 2.0], [1.0, 2.0], [1.0, 2.1], [1.0, 2.0 + 1e-9]])
    assert distinct_rows(w) == 2
    assert distinct_rows(torch.zeros(5, 3)) == 1


def test_constant_init_keeps_units_identical_while_they_learn() -> None:
    """Every step, all rows of fc1 are equal, yet the weights do move away from the constant."""
    run = symmetry_run("constant", steps=25, activation="tanh", width=6, constant=0.1)
    assert run.distinct == [1] * 26
    assert max(run.spread) <= 1e-6 * max(run.weight_norm)
    assert run.weight_norm[-1] != pytest.approx(run.weight_norm[0], rel=1e-5)
    rows = torch.tensor(run.final_weights)
    assert torch.allclose(rows, rows[:1].expand_as(rows), rtol=0, atol=1e-6)


def test_zero_init_with_tanh_never_moves() -> None:
    """With all weights 0 and tanh(0) = 0, no gradient reaches the first layer: it stays exactly zero."""
    run = symmetry_run("zeros", steps=10, activation="tanh", width=4)
    assert run.weight_norm == [0.0] * 11 and run.distinct == [1] * 11


def test_random_init_gives_different_units() -> None:
    run = symmetry_run("xavier_normal", steps=10, activation="tanh", width=6)
    assert run.distinct[0] == run.distinct[-1] == 6 and run.spread[-1] > 0.1
