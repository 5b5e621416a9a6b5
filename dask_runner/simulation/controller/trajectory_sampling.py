"""Sampling a planned trajectory at one time, fast: controllers do it every step of every simulation."""

from __future__ import annotations

import math
from bisect import bisect_left

from dask_runner.scenarios.state import HEADING, FloatArray, T

_TIME_TOLERANCE = 1e-6
_TWO_PI = 2.0 * math.pi


def wrap_angle(angle: float) -> float:
    """``angle`` in [-pi, pi)."""
    return (angle + math.pi) % _TWO_PI - math.pi


def sample_trajectory(states: FloatArray, time_s: float, times: list[float] | None = None) -> list[float]:
    """The ego row of ``states`` [T, EGO_DIM] at ``time_s``, as floats.

    Linear between rows (heading along the shorter arc), clamped at the ends; a row whose time
    matches within a microsecond is returned exactly, so replaying a log reproduces it bit for bit.
    ``times``: the time column as a list, when the caller samples the same trajectory more than once
    (plain-float search: numpy's per-call overhead dominates on trajectories of a few rows).
    """
    if times is None:
        times = states[:, T].tolist()
    count = len(times)
    index = bisect_left(times, time_s)
    if index < count and abs(times[index] - time_s) <= _TIME_TOLERANCE:
        row: list[float] = states[index].tolist()
    elif index > 0 and abs(times[index - 1] - time_s) <= _TIME_TOLERANCE:
        row = states[index - 1].tolist()
    elif index == 0:
        row = states[0].tolist()
    elif index >= count:
        row = states[-1].tolist()
    else:
        before, after = states[index - 1 : index + 1].tolist()
        weight = (time_s - before[T]) / (after[T] - before[T])
        row = [b + weight * (a - b) for b, a in zip(before, after)]
        row[HEADING] = wrap_angle(before[HEADING] + weight * wrap_angle(after[HEADING] - before[HEADING]))
    row[T] = time_s
    return row
