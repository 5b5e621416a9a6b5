"""drivable_area_compliance: the ego box may not leave the drivable area by more than nuPlan's 0.3 m.

Corners are tested with a prepared point-in-polygon test first; only corners outside get the more
expensive distance. Value: the largest distance of a corner outside the drivable area, in metres.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import shapely

from dask_runner.metrics.abstract_metric import AbstractMetric
from dask_runner.metrics.metric_context import MetricContext
from dask_runner.metrics.metric_statistic import MetricStatistic
from dask_runner.scenarios.state import FloatArray

MAX_VIOLATION_M = 0.3


def drivable_area_excess_per_step(ctx: MetricContext) -> FloatArray:
    """How far [T] the ego box's farthest corner is outside the drivable area at each step, in metres (0 inside)."""
    area = ctx.scenario.map_api.drivable_area
    excess = np.zeros(ctx.num_steps)
    points = ctx.ego_corners.reshape(-1, 2)
    if not isinstance(area, shapely.Geometry) or area.is_empty or points.shape[0] == 0:
        return excess
    shapely.prepare(area)
    outside = np.flatnonzero(~shapely.contains_xy(area, points[:, 0], points[:, 1]))
    if outside.size:  # the distance only for corners outside: the point test is far cheaper
        corners_per_step = ctx.ego_corners.shape[1]
        np.maximum.at(excess, outside // corners_per_step, shapely.distance(area, shapely.points(points[outside])))
    return excess


class DrivableAreaCompliance(AbstractMetric):
    name: ClassVar[str] = "drivable_area_compliance"
    category: ClassVar[str] = "Planning"
    multiplier: ClassVar[bool] = True

    def __init__(self, max_violation_m: float = MAX_VIOLATION_M) -> None:
        self.max_violation_m = max_violation_m

    def compute(self, ctx: MetricContext) -> MetricStatistic:
        excess = drivable_area_excess_per_step(ctx)
        worst = float(excess.max()) if excess.size else 0.0
        score = 0.0 if worst > self.max_violation_m else 1.0
        return MetricStatistic(self.name, self.category, score, worst, "m")
