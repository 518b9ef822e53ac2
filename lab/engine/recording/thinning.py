"""Thinning a bounded history: every other item dropped, the newest always kept (pure Python, no torch).

The recorder thins its snapshots this way (and doubles its cadence), and so does every reader of
a run's stored history (lab/serving/run_history.py), so both keep the same density of points.
"""

from __future__ import annotations

from typing import TypeVar

T = TypeVar("T")


def thin(items: list[T]) -> list[T]:
    """Every other item from the first, plus the last one when the halving would drop it."""
    keep = items[::2]
    if items and keep[-1] is not items[-1]:
        keep.append(items[-1])
    return keep
