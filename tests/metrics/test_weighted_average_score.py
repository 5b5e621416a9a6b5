"""The aggregator that combines a scenario's metrics into its score: the metrics' own weights, or a challenge's."""

from __future__ import annotations

import pytest

from dask_runner.errors import ConfigError
from dask_runner.metrics import build_metric_engine
from dask_runner.metrics.closed_loop_score import CLOSED_LOOP_SCORE
from dask_runner.metrics.metric_registry import BUILTIN_METRICS
from dask_runner.metrics.weighted_average_score import WeightedAverageScore

CLOSED_LOOP = dict(
    metric_weights={"ego_progress_along_expert_route": 5.0, "time_to_collision_within_bound": 5.0,
                    "speed_limit_compliance": 4.0, "ego_is_comfortable": 2.0, "default": 1.0},
    multiple_metrics=["no_ego_at_fault_collisions", "drivable_area_compliance", "ego_is_making_progress",
                      "driving_direction_compliance"],
)


def test_the_default_aggregator_uses_the_metrics_own_weights_and_the_closed_loop_name() -> None:
    metrics = [cls() for cls in BUILTIN_METRICS.values()]
    score = WeightedAverageScore()
    assert score.score_name == CLOSED_LOOP_SCORE
    assert score.weights_of(metrics) == (tuple(m.weight for m in metrics), tuple(m.multiplier for m in metrics))


def test_a_challenge_aggregator_gives_the_closed_loop_weights_and_its_own_name() -> None:
    """nuPlan's closed-loop challenge aggregators weigh exactly as the metrics declare; only the name differs."""
    metrics = [cls() for cls in BUILTIN_METRICS.values()]
    score = WeightedAverageScore(challenge_name="closed_loop_reactive_agents", **CLOSED_LOOP)  # type: ignore[arg-type]
    assert score.score_name == "closed_loop_reactive_agents_score"
    assert score.weights_of(metrics) == WeightedAverageScore().weights_of(metrics)


def test_unlisted_metrics_get_the_default_weight_as_in_nuplan() -> None:
    metrics = [BUILTIN_METRICS[n]() for n in ("ego_is_comfortable", "speed_limit_compliance", "drivable_area_compliance")]
    score = WeightedAverageScore(metric_weights={"ego_is_comfortable": 2.0, "default": 0.5},
                                 multiple_metrics=["drivable_area_compliance"])
    assert score.weights_of(metrics) == ((2.0, 0.5, 0.0), (False, False, True))


def test_an_engine_refuses_an_aggregator_that_weighs_metrics_it_does_not_compute() -> None:
    score = WeightedAverageScore(name="open_loop_boxes_weighted_average", metric_weights={"planner_miss_rate_x": 1.0})
    with pytest.raises(ConfigError, match=r"scores with \['planner_miss_rate_x'\], which simulation_metric does not"):
        build_metric_engine(None, score)


@pytest.mark.parametrize("weights", [{"ego_is_comfortable": -1.0}, {"ego_is_comfortable": "high"}])
def test_a_bad_weight_is_refused_with_an_example(weights: dict[str, object]) -> None:
    with pytest.raises(ConfigError, match="must be a number >= 0"):
        WeightedAverageScore(metric_weights=weights)  # type: ignore[arg-type]
