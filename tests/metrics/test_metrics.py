"""Each built-in metric on hand-built histories whose right answer is known."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pytest
from hand_built_road import (
    DT,
    SPEED_LIMIT,
    RoadScenario,
    agents,
    constant_speed_rows,
    make_history,
    moving_agent,
)

from dask_runner.errors import ConfigError
from dask_runner.metrics import (
    AbstractMetric,
    MetricContext,
    MetricStatistic,
    build_metric_engine,
)
from dask_runner.scenarios.state import AgentType, TrackedObjects


def scores(scenario: RoadScenario, ego_rows: np.ndarray, observations: list[TrackedObjects] | None = None) -> dict[str, float]:
    history = make_history(ego_rows, observations)
    return build_metric_engine().compute(scenario, history, "test_planner").scores


def test_expert_replay_on_an_empty_road_scores_one(road_scenario: RoadScenario) -> None:
    result = scores(road_scenario, constant_speed_rows(20.0, 10.0))
    assert result == pytest.approx({name: 1.0 for name in result})


def test_leaving_the_road_fails_drivable_area_compliance(road_scenario: RoadScenario) -> None:
    rows = constant_speed_rows(20.0, 10.0)
    rows[:, 2] = -np.linspace(0.0, 6.0, rows.shape[0])  # drift off the right edge
    rows[:, 3] = np.arctan2(-6.0, 150.0)
    result = scores(road_scenario, rows)
    assert result["drivable_area_compliance"] == 0.0
    assert result["closed_loop_score"] == 0.0


def test_corners_slightly_over_the_edge_are_tolerated(road_scenario: RoadScenario) -> None:
    rows = constant_speed_rows(20.0, 10.0, y=-0.8)  # box edge 0.35 m right of y=-1.75 would fail; this is 0.2 m
    engine = build_metric_engine(["drivable_area_compliance"])
    stat = engine.compute(road_scenario, make_history(rows), "p").statistics[0]
    assert stat.score == 1.0
    assert stat.value == pytest.approx(0.8 + 2.297 / 2 - 1.75, abs=1e-6)


def test_standing_still_fails_making_progress(road_scenario: RoadScenario) -> None:
    result = scores(road_scenario, constant_speed_rows(20.0, 0.0))
    assert result["ego_is_making_progress"] == 0.0
    assert result["ego_progress_along_expert_route"] == pytest.approx(0.0)
    assert result["closed_loop_score"] == 0.0


def test_half_the_expert_progress_scores_one_half(road_scenario: RoadScenario) -> None:
    result = scores(road_scenario, constant_speed_rows(20.0, 5.0))
    assert result["ego_progress_along_expert_route"] == pytest.approx(0.5, abs=0.01)
    assert result["ego_is_making_progress"] == 1.0


def test_rear_ending_a_slower_lead_is_at_fault() -> None:
    lead = moving_agent(7, x0=50.0, y=0.0, vx=3.0)
    scenario = RoadScenario(lead)
    result = scores(scenario, constant_speed_rows(20.0, 10.0), lead)
    assert result["no_ego_at_fault_collisions"] == 0.0
    assert result["time_to_collision_within_bound"] == 0.0
    assert result["closed_loop_score"] == 0.0


def test_being_rear_ended_while_stopped_is_not_at_fault() -> None:
    follower = moving_agent(3, x0=60.0, y=0.0, vx=10.0)
    scenario = RoadScenario(follower)
    result = scores(scenario, constant_speed_rows(100.0, 0.0), follower)
    assert result["no_ego_at_fault_collisions"] == 1.0


def test_being_rear_ended_while_slower_is_not_at_fault() -> None:
    follower = moving_agent(3, x0=60.0, y=0.0, vx=12.0)
    scenario = RoadScenario(follower)
    ego = constant_speed_rows(100.0, 3.0)
    history = make_history(ego, follower)
    stat = build_metric_engine(["no_ego_at_fault_collisions"]).compute(scenario, history, "p").statistics[0]
    assert stat.score == 1.0 and stat.value == 0.0


def test_driving_into_a_static_object_scores_one_half() -> None:
    cone = [agents([9], [[60.0, 0.5, 0.0]], [[0.0, 0.0]], types=[AgentType.STATIC_OBJECT], size=(0.5, 0.5))] * 150
    scenario = RoadScenario(cone)
    result = scores(scenario, constant_speed_rows(20.0, 10.0), cone)
    assert result["no_ego_at_fault_collisions"] == 0.5


def test_oncoming_traffic_in_its_own_lane_is_no_collision_risk() -> None:
    oncoming = moving_agent(4, x0=200.0, y=3.5, vx=-10.0)
    scenario = RoadScenario(oncoming)
    result = scores(scenario, constant_speed_rows(20.0, 10.0), oncoming)
    assert result["time_to_collision_within_bound"] == 1.0
    assert result["no_ego_at_fault_collisions"] == 1.0


def test_following_at_the_same_speed_keeps_time_to_collision() -> None:
    lead = moving_agent(5, x0=36.0, y=0.0, vx=10.0)  # 7.7 m bumper gap, same speed
    scenario = RoadScenario(lead)
    assert scores(scenario, constant_speed_rows(20.0, 10.0), lead)["time_to_collision_within_bound"] == 1.0


@pytest.mark.parametrize(("speed", "expected"), [(10.0, 0.0), (3.0, 0.5), (1.0, 1.0)])
def test_driving_against_the_lane_direction(speed: float, expected: float) -> None:
    # On the eastbound lane, heading west.
    rows = constant_speed_rows(300.0, speed, heading=np.pi)
    stat = build_metric_engine(["driving_direction_compliance"]).compute(RoadScenario(), make_history(rows), "p")
    assert stat.statistics[0].score == expected
    assert stat.statistics[0].value == pytest.approx(speed * 1.0, rel=0.02)


def test_driving_west_in_the_westbound_lane_complies() -> None:
    rows = constant_speed_rows(300.0, 10.0, y=3.5, heading=np.pi)
    stat = build_metric_engine(["driving_direction_compliance"]).compute(RoadScenario(), make_history(rows), "p")
    assert stat.statistics[0].score == 1.0


def test_speeding_lowers_the_speed_limit_score(road_scenario: RoadScenario) -> None:
    result = scores(road_scenario, constant_speed_rows(20.0, SPEED_LIMIT + 1.0))
    assert result["speed_limit_compliance"] == pytest.approx(1.0 - 1.0 / 2.23, abs=1e-6)
    assert scores(road_scenario, constant_speed_rows(20.0, SPEED_LIMIT + 5.0))["speed_limit_compliance"] == 0.0


def test_a_hard_brake_is_uncomfortable(road_scenario: RoadScenario) -> None:
    rows = constant_speed_rows(20.0, 10.0)
    t = rows[:, 0]
    brake_at = 5.0
    v = np.where(t < brake_at, 10.0, np.maximum(10.0 - 8.0 * (t - brake_at), 0.0))
    rows[:, 4] = v
    rows[:, 5] = np.where((t >= brake_at) & (v > 0.0), -8.0, 0.0)  # comfort reads the states' acceleration (nuPlan)
    rows[:, 1] = 20.0 + np.concatenate([[0.0], np.cumsum(v[:-1] * DT)])
    result = scores(road_scenario, rows)
    assert result["ego_is_comfortable"] == 0.0
    gentle = rows.copy()
    gentle[:, 4] = np.where(t < brake_at, 10.0, np.maximum(10.0 - 1.0 * (t - brake_at), 0.0))
    gentle[:, 5] = np.where((t >= brake_at) & (gentle[:, 4] > 0.0), -1.0, 0.0)
    gentle[:, 1] = 20.0 + np.concatenate([[0.0], np.cumsum(gentle[:-1, 4] * DT)])
    assert scores(road_scenario, gentle)["ego_is_comfortable"] == 1.0


def test_closed_loop_score_combines_multipliers_and_weighted_average(road_scenario: RoadScenario) -> None:
    # Only speeding: multipliers are 1, the weighted average has speed limit (weight 4) below 1.
    result = scores(road_scenario, constant_speed_rows(20.0, SPEED_LIMIT + 1.0))
    speed = result["speed_limit_compliance"]
    assert result["closed_loop_score"] == pytest.approx((5 + 5 + 4 * speed + 2) / 16)


class ConstantMetric(AbstractMetric):
    """A user's metric, reached by dotted path."""

    name: ClassVar[str] = "always_half"
    weight: ClassVar[float] = 16.0

    def compute(self, ctx: MetricContext) -> MetricStatistic:
        return MetricStatistic(self.name, self.category, 0.5, float(ctx.num_steps))


class ReportOnly(AbstractMetric):
    name: ClassVar[str] = "steps"

    def compute(self, ctx: MetricContext) -> MetricStatistic:
        return MetricStatistic(self.name, self.category, 0.0, float(ctx.num_steps))


def test_a_user_metric_by_dotted_path_joins_the_weighted_average(road_scenario: RoadScenario) -> None:
    names = ["time_to_collision_within_bound", "ego_progress_along_expert_route", "speed_limit_compliance",
             "ego_is_comfortable", f"{__name__}.ConstantMetric", f"{__name__}.ReportOnly"]
    engine = build_metric_engine(names)
    result = engine.compute(road_scenario, make_history(constant_speed_rows(20.0, 10.0)), "p")
    assert result.score_of("always_half") == 0.5
    assert result.score_of("steps") == 0.0  # reported, but weight 0: does not count
    assert result.closed_loop_score == pytest.approx((16 * 1.0 + 16 * 0.5) / 32)
    frame = result.to_dataframe()
    assert set(frame["metric_name"]) == {*(n.rsplit(".", 1)[-1] for n in names[:4]), "always_half", "steps",
                                         "closed_loop_score"}


def test_unknown_metric_names_list_the_valid_ones() -> None:
    with pytest.raises(ConfigError, match="drivable_area_compliance"):
        build_metric_engine(["drivable_area"])
    with pytest.raises(ConfigError, match="cannot import"):
        build_metric_engine(["no_such_package.Metric"])
    with pytest.raises(ConfigError, match="more than once"):
        build_metric_engine(["ego_is_comfortable", "ego_is_comfortable"])
