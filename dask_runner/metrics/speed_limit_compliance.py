"""speed_limit_compliance: nuPlan's over-speed integral, scaled by 2.23 m/s over the whole scenario.

The limit at each step is that of the lane nearest to the ego. Score: 1 - (integral of the
over-speed in m) / (2.23 m/s * duration), clipped at 0. Value: the largest over-speed in m/s.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from dask_runner.metrics.abstract_metric import AbstractMetric
from dask_runner.metrics.metric_context import MetricContext
from dask_runner.metrics.metric_statistic import MetricStatistic
from dask_runner.scenarios.state import FloatArray

MAX_OVERSPEED_VALUE_THRESHOLD_MPS = 2.23


def overspeed_per_step(ctx: MetricContext) -> FloatArray:
    """The ego's speed above its lane's limit [T] at each step, in m/s (0 within the limit or on a map without lanes)."""
    segments = ctx.ego_lane_segments
    if ctx.num_steps == 0 or np.any(segments < 0):
        return np.zeros(ctx.num_steps)
    return np.maximum(ctx.ego_speed - ctx.lane_index.speed_limits[segments], 0.0)


class SpeedLimitCompliance(AbstractMetric):
    name: ClassVar[str] = "speed_limit_compliance"
    category: ClassVar[str] = "Violations"
    weight: ClassVar[float] = 4.0

    def compute(self, ctx: MetricContext) -> MetricStatistic:
        if ctx.num_steps == 0 or np.any(ctx.ego_lane_segments < 0):
            return MetricStatistic(self.name, self.category, 1.0, 0.0, "m/s")
        overspeed = overspeed_per_step(ctx)
        # The trapezoidal rule written out: np.trapezoid is numpy 2 only, np.trapz warns on numpy 2.
        integral = float(ctx.dt * (overspeed.sum() - 0.5 * (overspeed[0] + overspeed[-1]))) if overspeed.size > 1 else 0.0
        score = max(0.0, 1.0 - integral / (MAX_OVERSPEED_VALUE_THRESHOLD_MPS * ctx.duration))
        return MetricStatistic(self.name, self.category, score, float(np.max(overspeed)), "m/s")
