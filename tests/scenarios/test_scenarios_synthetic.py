"""The synthetic generator: deterministic, well-formed, and the expert drives well among its agents."""

from __future__ import annotations

import itertools
import pickle
import time

import numpy as np
import pytest
from scenario_checks import (
    agent_agent_overlaps,
    comfort,
    expert_agent_overlaps,
    expert_corners_outside,
    min_time_to_collision,
    speed_over_limit,
)
from test_scenarios_scenario import assert_same_scenario

from dask_runner.errors import ConfigError
from dask_runner.scenarios import NUM_ITERATIONS, SCENARIO_TYPES, Scenario, generate_scenario
from dask_runner.scenarios.state import EGO_DIM, TrafficLightStatus, rear_axle_to_center

NUPLAN_TYPES = {
    "following_lane_with_lead", "stopping_with_lead", "changing_lane", "starting_left_turn",
    "traversing_traffic_light_intersection", "near_multiple_vehicles", "stationary_in_traffic",
}


def test_all_nuplan_types_are_offered() -> None:
    assert NUPLAN_TYPES <= set(SCENARIO_TYPES)


def test_same_type_and_seed_give_the_same_scenario() -> None:
    a = generate_scenario("changing_lane", 5)
    b = generate_scenario("changing_lane", 5)
    assert_same_scenario(a, b)
    c = generate_scenario("changing_lane", 6)
    assert c.token != a.token
    assert not np.array_equal(c.expert_ego_states, a.expert_ego_states)


@pytest.mark.parametrize("scenario_type", SCENARIO_TYPES)
def test_each_type_is_well_formed(scenario_type: str) -> None:
    sc = generate_scenario(scenario_type, 12)
    assert isinstance(sc, Scenario)
    assert sc.scenario_name == f"{scenario_type}-000012"
    assert sc.log_name.startswith("synthetic-") and sc.log_name.endswith("-12")
    assert sc.scenario_type == scenario_type
    assert sc.get_number_of_iterations() == NUM_ITERATIONS == 151
    ego = sc.expert_ego_states
    assert ego.shape == (151, EGO_DIM)
    assert ego[-1, 0] - ego[0, 0] == pytest.approx(15.0)
    assert not np.isnan(ego).any()
    n = len(sc.agent_track_ids)
    assert 0 <= n <= 40
    assert sc.agent_poses.shape == (151, n, 3) and sc.agent_sizes.shape == (n, 2)
    assert len(set(sc.agent_track_ids.tolist())) == n
    goal = sc.get_mission_goal()
    assert goal is not None and (goal.x, goal.y) == pytest.approx((ego[-1, 1], ego[-1, 2]))
    route = sc.get_route_lane_ids()
    assert route and all(lane_id in sc.map_api.lanes for lane_id in route)
    # The route is connected lane to lane (or a lane change to a neighbour).
    for prev, nxt in itertools.pairwise(route):
        gap = np.hypot(*(sc.map_api.get_lane(nxt).centerline[0] - sc.map_api.get_lane(prev).centerline[-1]))
        assert nxt in sc.map_api.get_lane(prev).successors or gap < 4.0
    # The expert drives through its route lanes.
    lane_ids = {sc.map_api.closest_lane(r[1], r[2], r[3])[0] for r in ego[::5]}
    assert lane_ids <= set(route) or scenario_type == "changing_lane"
    assert pickle.loads(pickle.dumps(sc)).token == sc.token


@pytest.mark.parametrize("scenario_type", SCENARIO_TYPES)
@pytest.mark.parametrize("seed", [0, pytest.param(7, marks=pytest.mark.slow)])
def test_expert_is_a_good_drive(scenario_type: str, seed: int) -> None:
    check_good_drive(generate_scenario(scenario_type, seed))


@pytest.mark.slow
@pytest.mark.parametrize("scenario_type", SCENARIO_TYPES)
def test_expert_is_a_good_drive_over_many_seeds(scenario_type: str) -> None:
    for seed in range(20, 40):
        check_good_drive(generate_scenario(scenario_type, seed))


def check_good_drive(sc: Scenario) -> None:
    scenario_type = sc.scenario_type
    assert expert_agent_overlaps(sc) == []
    assert agent_agent_overlaps(sc) == []
    assert expert_corners_outside(sc) == 0
    assert speed_over_limit(sc) <= 0.0
    c = comfort(sc)
    assert c["max_abs_acceleration"] <= 4.0
    assert c["max_abs_jerk"] <= 4.0
    assert c["max_abs_yaw_rate"] <= 0.95
    assert c["max_abs_lateral_acceleration"] <= 4.89
    assert min_time_to_collision(sc) > 0.95
    # Progress: every type but stationary_in_traffic moves the ego a good distance.
    ego = sc.expert_ego_states
    travelled = float(np.sum(np.hypot(np.diff(ego[:, 1]), np.diff(ego[:, 2]))))
    assert travelled > (10.0 if scenario_type in {"stationary_in_traffic", "starting_left_turn"} else 40.0)


@pytest.mark.parametrize("scenario_type", ["following_lane_with_lead", "stopping_with_lead"])
def test_lead_vehicle_is_ahead_in_the_ego_lane(scenario_type: str) -> None:
    for seed in range(4):
        sc = generate_scenario(scenario_type, seed)
        ego = sc.expert_ego_states[0]
        centre = rear_axle_to_center(ego, sc.ego_vehicle_parameters)
        objs = sc.get_tracked_objects_at_iteration(0)
        ego_lane, _, _ = sc.map_api.closest_lane(ego[1], ego[2], ego[3])
        gaps = []
        for pose, size in zip(objs.poses, objs.sizes):
            lane, _, _ = sc.map_api.closest_lane(pose[0], pose[1], pose[2])
            forward = (pose[0] - centre[0]) * np.cos(ego[3]) + (pose[1] - centre[1]) * np.sin(ego[3])
            if lane == ego_lane and forward > 0:
                gaps.append(forward - sc.ego_vehicle_parameters.length / 2 - size[0] / 2)
        assert gaps and 14.0 <= min(gaps) <= 41.0, (seed, gaps)


def test_stopping_with_lead_ends_stopped_and_stationary_starts_stopped() -> None:
    stop = generate_scenario("stopping_with_lead", 3).expert_ego_states
    assert stop[0, 4] > 5.0 and stop[-1, 4] < 0.5
    still = generate_scenario("stationary_in_traffic", 3).expert_ego_states
    assert still[0, 4] == 0.0 and still[:10, 4].max() < 0.1 and still[-1, 4] > 2.0


@pytest.mark.parametrize("scenario_type", ["traversing_traffic_light_intersection", "starting_left_turn",
                                           "stationary_in_traffic"])
def test_expert_enters_the_junction_only_on_green(scenario_type: str) -> None:
    for seed in range(3):
        sc = generate_scenario(scenario_type, seed)
        first = sc.map_api.get_lane(sc.get_route_lane_ids()[0])
        assert first.traffic_light_id is not None and first.stop_line is not None
        light = sc.traffic_light_ids.index(first.traffic_light_id)
        states = sc.traffic_light_states[:, light]
        assert set(np.unique(sc.traffic_light_states).tolist()) <= {0, 1, 2}
        # The front bumper's signed distance past the stop line, along the lane direction.
        line_mid = first.stop_line.mean(axis=0)
        direction = first.centerline[-1] - first.centerline[-2]
        direction = direction / np.hypot(*direction)
        ego = sc.expert_ego_states
        front = ego[:, 1:3] + sc.ego_vehicle_parameters.front_length * np.stack(
            [np.cos(ego[:, 3]), np.sin(ego[:, 3])], 1)
        past = (front - line_mid) @ direction
        crossing = np.flatnonzero((past[:-1] <= 0) & (past[1:] > 0))
        assert crossing.size == 1, (seed, past.min(), past.max())
        assert states[crossing[0]] != TrafficLightStatus.RED


def test_unknown_type_lists_the_valid_ones() -> None:
    with pytest.raises(ConfigError, match="following_lane_with_lead"):
        generate_scenario("flying", 0)


def test_generation_time_is_printed() -> None:
    durations = {}
    for scenario_type in SCENARIO_TYPES:
        start = time.process_time()
        for seed in range(3):
            generate_scenario(scenario_type, 100 + seed)
        durations[scenario_type] = (time.process_time() - start) / 3 * 1e3
    print("generation CPU ms per scenario:", {k: round(v, 1) for k, v in durations.items()})
    assert len(durations) == len(SCENARIO_TYPES)
