"""A user's metric, as a user would write one in their own package: named on the command line by its dotted
path (``+simulation_metric.travelled._target_=user_metrics.TravelledDistance``) and imported by the worker
processes from ``PYTHONPATH``."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from dask_runner.metrics.abstract_metric import AbstractMetric
from dask_runner.metrics.metric_context import MetricContext
from dask_runner.metrics.metric_statistic import MetricStatistic


def path_length(xy: np.ndarray) -> float:
    """Metres driven along the positions ``xy`` [T, 2]."""
    return float(np.linalg.norm(np.diff(xy, axis=0), axis=1).sum())


class TravelledDistance(AbstractMetric):
    """How far the ego drove (value, m); the score is 1 when that is at least ``min_distance_m``. Not scoring."""

    name: ClassVar[str] = "ego_travelled_distance"
    category: ClassVar[str] = "user"

    def __init__(self, min_distance_m: float = 10.0) -> None:
        self.min_distance_m = min_distance_m

    def compute(self, ctx: MetricContext) -> MetricStatistic:
        distance = path_length(ctx.ego_xy)
        return MetricStatistic(self.name, self.category, float(distance >= self.min_distance_m), distance, "m")
