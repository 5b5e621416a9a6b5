"""nuPlan's closed-loop score: the product of the multiplier metrics times the weighted average of the rest.

Multipliers (hard rules): no_ego_at_fault_collisions, drivable_area_compliance,
driving_direction_compliance, ego_is_making_progress. Weighted (soft): time_to_collision_within_bound 5,
ego_progress_along_expert_route 5, speed_limit_compliance 4, ego_is_comfortable 2. Metrics that are
neither (weight 0, not a multiplier) do not change the score.
"""

from __future__ import annotations

from typing import Sequence

from dask_runner.metrics.abstract_metric import AbstractMetric
from dask_runner.metrics.metric_statistic import MetricStatistic

CLOSED_LOOP_SCORE = "closed_loop_score"


def closed_loop_score(metrics: Sequence[AbstractMetric], statistics: Sequence[MetricStatistic]) -> float:
    """Score of one scenario from its metrics' statistics (paired by position); 1 with no soft metric."""
    return weighted_score(
        [float(m.weight) for m in metrics], [bool(m.multiplier) for m in metrics], [s.score for s in statistics]
    )


def weighted_score(weights: Sequence[float], multipliers: Sequence[bool], scores: Sequence[float]) -> float:
    """The product of the multipliers' scores times the weighted average of the other scores (1 with none)."""
    product = 1.0
    weighted, total_weight = 0.0, 0.0
    for weight, multiplier, score in zip(weights, multipliers, scores, strict=True):
        if multiplier:
            product *= score
        elif weight > 0:
            weighted += weight * score
            total_weight += weight
    average = weighted / total_weight if total_weight > 0 else 1.0
    return product * average
