"""ego_expert_l2_error (nuPlan's ``ego_expert_L2_error``): how far the ego's centre is from the expert's at each step.

Reported, not scored: nuPlan gives it no score and no challenge weighs it, so its score is always 1 and
its value is the mean distance; :func:`ego_expert_l2_errors` gives the distances of every step.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from dask_runner.metrics.abstract_metric import AbstractMetric
from dask_runner.metrics.metric_context import MetricContext
from dask_runner.metrics.metric_statistic import MetricStatistic
from dask_runner.scenarios.state import FloatArray, rear_axle_to_center


def ego_expert_l2_errors(ctx: MetricContext) -> FloatArray:
    """Distance [T] between the ego's and the expert's centres at each common step."""
    expert = rear_axle_to_center(ctx.expert, ctx.params)
    steps = min(ctx.num_steps, expert.shape[0])
    offset = ctx.ego_centers[:steps, :2] - expert[:steps, :2]
    errors: FloatArray = np.hypot(offset[:, 0], offset[:, 1])
    return errors


class EgoExpertL2Error(AbstractMetric):
    name: ClassVar[str] = "ego_expert_l2_error"
    category: ClassVar[str] = "Planning"

    def compute(self, ctx: MetricContext) -> MetricStatistic:
        errors = ego_expert_l2_errors(ctx)
        return MetricStatistic(self.name, self.category, 1.0, float(np.mean(errors)) if errors.size else 0.0, "m")
