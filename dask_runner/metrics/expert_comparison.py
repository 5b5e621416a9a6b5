"""The open-loop comparison behind nuPlan's planner-expert metrics (``planner_expert_errors``): once per
``1 / frequency`` s of the history, the trajectory planned at that step against the expert's logged poses
1, 2, ... ``max(horizons)`` comparisons later, at the vehicles' centres. Computed once per scenario by the
:class:`MetricContext` and read by the five metrics; it needs only arrays, so the context and the metrics
both import it and neither imports the other's module for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from dask_runner.metrics.geometry import wrap_angle
from dask_runner.scenarios.state import HEADING, FloatArray, IntArray, T, X, Y

if TYPE_CHECKING:
    from dask_runner.simulation.history import SimulationHistory


@dataclass(frozen=True)
class PlannerExpertErrors:
    """Errors per horizon (rows, in ``horizons`` order) and compared step (columns, history rows ``frames``)."""

    horizons: tuple[int, ...]
    frames: IntArray  # [F] history rows whose planned trajectory was compared
    average_displacement: FloatArray  # [H, F] m
    maximum_displacement: FloatArray  # [H, F] m
    final_displacement: FloatArray  # [H, F] m
    average_heading: FloatArray  # [H, F] rad
    final_heading: FloatArray  # [H, F] rad


def _centres(x: FloatArray, y: FloatArray, heading: FloatArray, offset: float) -> tuple[FloatArray, FloatArray]:
    return x + offset * np.cos(heading), y + offset * np.sin(heading)


def compare_with_expert(expert: FloatArray, dt: float, history: SimulationHistory, rear_axle_to_center: float,
                        horizons: tuple[int, ...], frequency: float) -> PlannerExpertErrors:
    """The errors of every compared step of ``history`` against the ``expert`` rows logged every ``dt`` s."""
    step = max(1, int(round(1.0 / (frequency * dt))))
    counts = [max(1, int(round(h * frequency))) for h in horizons]  # comparisons within each horizon
    comparisons = max(counts)
    last = expert.shape[0] - 1
    frames = np.arange(0, len(history.samples), step)
    whole = frames[frames + comparisons * step <= last]
    frames = whole if whole.size else frames[:1]
    # Expert rows 1..K comparisons after each compared step, held at the log's last row: [F, K].
    rows = np.minimum(frames[:, None] + step * np.arange(1, comparisons + 1)[None, :], last)
    offset = rear_axle_to_center
    expert_heading = np.unwrap(expert[:, HEADING])
    ex, ey = _centres(expert[rows, X], expert[rows, Y], expert_heading[rows], offset)
    times = expert[rows, T]
    px, py, ph = np.empty_like(times), np.empty_like(times), np.empty_like(times)
    samples = history.samples
    for i, frame in enumerate(frames.tolist()):
        planned = samples[frame].trajectory.states
        heading = np.unwrap(planned[:, HEADING])
        px[i] = np.interp(times[i], planned[:, T], planned[:, X])
        py[i] = np.interp(times[i], planned[:, T], planned[:, Y])
        ph[i] = np.interp(times[i], planned[:, T], heading)
    px, py = _centres(px, py, ph, offset)
    displacement = np.hypot(px - ex, py - ey)  # [F, K]
    heading_error = np.abs(wrap_angle(ph - expert_heading[rows]))
    cumulative = np.cumsum(displacement, axis=1)
    cumulative_heading = np.cumsum(heading_error, axis=1)
    running_max = np.maximum.accumulate(displacement, axis=1)
    last_of = np.asarray(counts) - 1  # [H]
    divisor = np.asarray(counts, dtype=np.float64)[:, None]
    return PlannerExpertErrors(
        horizons=horizons,
        frames=frames,
        average_displacement=cumulative[:, last_of].T / divisor,
        maximum_displacement=running_max[:, last_of].T,
        final_displacement=displacement[:, last_of].T,
        average_heading=cumulative_heading[:, last_of].T / divisor,
        final_heading=heading_error[:, last_of].T,
    )
