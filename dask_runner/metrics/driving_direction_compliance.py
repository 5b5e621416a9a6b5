"""driving_direction_compliance: how far the ego drove against its lane's direction within 1 s (nuPlan).

Each step's displacement is projected on the direction of the lane centreline segment nearest to
the ego; the worst backwards progress summed over any 1 s window decides: at least 6 m → 0, at
least 2 m → 0.5, else 1. Value: that worst backwards progress in metres.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from dask_runner.metrics.abstract_metric import AbstractMetric
from dask_runner.metrics.metric_context import MetricContext
from dask_runner.metrics.metric_statistic import MetricStatistic
from dask_runner.scenarios.state import FloatArray

COMPLIANCE_THRESHOLD_M = 2.0
VIOLATION_THRESHOLD_M = 6.0
TIME_HORIZON_S = 1.0


def backwards_progress_per_step(ctx: MetricContext) -> FloatArray:
    """Progress against the lane's direction [T] over the window of ``TIME_HORIZON_S`` ending at each step (m, >= 0)."""
    backwards = np.zeros(ctx.num_steps)
    segments = ctx.ego_lane_segments
    if ctx.num_steps < 2 or np.any(segments < 0):
        return backwards
    directions = ctx.lane_index.directions[segments[:-1]]
    progress = np.einsum("tk,tk->t", np.diff(ctx.ego_xy, axis=0), directions)
    window = max(int(round(TIME_HORIZON_S / ctx.dt)), 1)
    cumulative = np.concatenate([[0.0], np.cumsum(progress)])
    width = min(window, progress.shape[0])
    window_sums = cumulative[width:] - cumulative[:-width]  # entry k: steps k..k+width, so it ends at step k+width
    backwards[width:] = np.maximum(-window_sums, 0.0)
    return backwards


class DrivingDirectionCompliance(AbstractMetric):
    name: ClassVar[str] = "driving_direction_compliance"
    category: ClassVar[str] = "Planning"
    multiplier: ClassVar[bool] = True

    def compute(self, ctx: MetricContext) -> MetricStatistic:
        backwards = backwards_progress_per_step(ctx)
        worst = float(backwards.max()) if backwards.size else 0.0
        if worst >= VIOLATION_THRESHOLD_M:
            score = 0.0
        elif worst >= COMPLIANCE_THRESHOLD_M:
            score = 0.5
        else:
            score = 1.0
        return MetricStatistic(self.name, self.category, score, worst, "m")
