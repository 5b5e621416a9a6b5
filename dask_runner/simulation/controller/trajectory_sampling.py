"""Sampling a planned trajectory at one time, fast: controllers do it every step of every simulation."""

from __future__ import annotations

import math

import numpy as np

from dask_runner.scenarios.state import HEADING, T, FloatArray

_TIME_TOLERANCE = 1e-6


def wrap_angle(angle: float) -> float:
    """``angle`` in [-pi, pi)."""
    return (angle + math.pi) % (2.0 * math.pi) - math.pi


def sample_trajectory(states: FloatArray, time_s: float) -> list[float]:
    """The ego row of ``states`` [T, EGO_DIM] at ``time_s``, as floats.

    Linear between rows (heading along the shorter arc), clamped at the ends; a row whose time
    matches within a microsecond is returned exactly, so replaying a log reproduces it bit for bit.
    """
    times = states[:, T]
    index = int(times.searchsorted(time_s))
    if index < len(times) and abs(float(times[index]) - time_s) <= _TIME_TOLERANCE:
        row: list[float] = states[index].tolist()
    elif index > 0 and abs(float(times[index - 1]) - time_s) <= _TIME_TOLERANCE:
        row = states[index - 1].tolist()
    elif index == 0:
        row = states[0].tolist()
    elif index >= len(times):
        row = states[-1].tolist()
    else:
        before: list[float] = states[index - 1].tolist()
        after: list[float] = states[index].tolist()
        weight = (time_s - before[T]) / (after[T] - before[T])
        row = [b + weight * (a - b) for b, a in zip(before, after)]
        row[HEADING] = wrap_angle(before[HEADING] + weight * wrap_angle(after[HEADING] - before[HEADING]))
    row[T] = time_s
    return row
