"""Progress along the expert route: ego_progress_along_expert_route and ego_is_making_progress (nuPlan).

Progress is the change of station along the route (the route lanes' centrelines joined) between
the first and the last step, for the ego's history and for the expert's whole trajectory. The ratio
is clipped to [0, 1] and is 1 when the expert itself moves less than 2 m (nothing to compare with).
ego_is_making_progress is 1 while that ratio is at least 0.2.
"""

from __future__ import annotations

from typing import ClassVar

from dask_runner.metrics.abstract_metric import AbstractMetric
from dask_runner.metrics.metric_context import MetricContext
from dask_runner.metrics.metric_statistic import MetricStatistic

SCORE_PROGRESS_THRESHOLD_M = 2.0
MIN_PROGRESS_RATIO = 0.2


def progress_ratio(ctx: MetricContext) -> float:
    """Ego progress over expert progress along the route, clipped to [0, 1]."""
    expert_progress = ctx.expert_route_progress
    if expert_progress < SCORE_PROGRESS_THRESHOLD_M:
        return 1.0
    ego_progress = ctx.ego_route_progress
    return min(max(ego_progress / expert_progress, 0.0), 1.0)


class EgoProgressAlongExpertRoute(AbstractMetric):
    name: ClassVar[str] = "ego_progress_along_expert_route"
    category: ClassVar[str] = "Planning"
    weight: ClassVar[float] = 5.0

    def compute(self, ctx: MetricContext) -> MetricStatistic:
        ratio = progress_ratio(ctx)
        return MetricStatistic(self.name, self.category, ratio, ratio, "ratio")


class EgoIsMakingProgress(AbstractMetric):
    name: ClassVar[str] = "ego_is_making_progress"
    category: ClassVar[str] = "Planning"
    multiplier: ClassVar[bool] = True

    def __init__(self, min_progress_ratio: float = MIN_PROGRESS_RATIO) -> None:
        self.min_progress_ratio = min_progress_ratio

    def compute(self, ctx: MetricContext) -> MetricStatistic:
        ratio = progress_ratio(ctx)
        score = 1.0 if ratio >= self.min_progress_ratio else 0.0
        return MetricStatistic(self.name, self.category, score, ratio, "ratio")
