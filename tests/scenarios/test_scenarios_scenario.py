"""Scenario: shape validation, per-iteration views and round trips."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from dask_runner.errors import ScenarioError
from dask_runner.scenarios import ArrayMap, Lane, Scenario, polyline
from dask_runner.scenarios.state import EGO_DIM, StateSE2, TrafficLightStatus


def _map() -> ArrayMap:
    center = np.linspace((0.0, 0.0), (200.0, 0.0), 21)
    return ArrayMap("m", [Lane("a", center, polyline.offset_polyline(center, 1.8),
                               polyline.offset_polyline(center, -1.8), 15.0, traffic_light_id="tl")])


def _scenario(n_steps: int = 40, **overrides: object) -> Scenario:
    t = 1000.0 + 0.1 * np.arange(n_steps)
    ego = np.zeros((n_steps, EGO_DIM))
    ego[:, 0] = t
    ego[:, 1] = 10.0 * (t - t[0])
    ego[:, 4] = 10.0
    poses = np.full((n_steps, 2, 3), np.nan)
    poses[:, 0] = np.stack([30 + 10.0 * (t - t[0]), np.zeros(n_steps), np.zeros(n_steps)], 1)
    poses[n_steps // 2 :, 1] = [150.0, 0.0, 0.0]  # the second agent appears half way
    kwargs: dict[str, object] = dict(  # noqa: C408
        token="tok", scenario_name="s-1", log_name="log", scenario_type="following_lane_with_lead",
        map_api=_map(), expert_ego=ego, agent_track_ids=np.array([7, 9]), agent_types=np.array([0, 3]),
        agent_sizes=np.array([[4.5, 1.9], [1.0, 1.0]]), agent_poses=poses,
        agent_velocities=np.nan_to_num(poses[..., :2] * 0 + [10.0, 0.0]), route_lane_ids=("a",),
        mission_goal=StateSE2(float(ego[-1, 1]), 0.0, 0.0), traffic_light_ids=("tl",),
        traffic_light_states=np.full((n_steps, 1), TrafficLightStatus.GREEN, np.int8),
    )
    kwargs.update(overrides)
    return Scenario(**kwargs)  # type: ignore[arg-type]


def test_views_per_iteration() -> None:
    sc = _scenario()
    assert sc.get_number_of_iterations() == 40
    assert sc.get_time_point(3) == pytest.approx(1000.3)
    assert sc.initial_ego_state.time_s == 1000.0 and sc.get_ego_state_at_iteration(10).x == pytest.approx(10.0)
    assert sc.get_tracked_objects_at_iteration(0).track_ids.tolist() == [7]
    late = sc.get_tracked_objects_at_iteration(39)
    assert late.track_ids.tolist() == [7, 9] and late.poses.shape == (2, 3) and not np.isnan(late.poses).any()
    assert sc.get_traffic_light_status_at_iteration(5) == {"tl": TrafficLightStatus.GREEN}
    assert sc.get_route_lane_ids() == ["a"]
    assert sc.get_expert_ego_trajectory().states.shape == (40, EGO_DIM)
    with pytest.raises(ScenarioError, match="out of range"):
        sc.get_ego_state_at_iteration(40)


@pytest.mark.parametrize("n_steps", [2, 31, 141])
def test_any_length_from_two_steps(n_steps: int) -> None:
    assert _scenario(n_steps).get_number_of_iterations() == n_steps


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"agent_poses": np.zeros((40, 3, 3))}, "agent_poses has shape"),
        ({"agent_sizes": np.zeros((2, 3))}, "agent_sizes has shape"),
        ({"agent_velocities": np.zeros((39, 2, 2))}, "agent_velocities has shape"),
        ({"traffic_light_states": np.zeros((40, 2), np.int8)}, "traffic_light_states has shape"),
        ({"expert_ego": np.zeros((1, EGO_DIM))}, "expert_ego must be"),
        ({"agent_types": np.zeros(3)}, "agent_types has shape"),
    ],
)
def test_shape_mismatches_are_named(override: dict[str, object], message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        _scenario(**override)


def test_no_lights_and_no_agents_are_fine() -> None:
    sc = _scenario(agent_track_ids=np.zeros(0, np.int64), agent_types=np.zeros(0, np.int8),
                   agent_sizes=np.zeros((0, 2)), agent_poses=np.zeros((40, 0, 3)),
                   agent_velocities=np.zeros((40, 0, 2)), traffic_light_ids=(), traffic_light_states=None)
    assert len(sc.get_tracked_objects_at_iteration(3)) == 0
    assert sc.get_traffic_light_status_at_iteration(3) == {}


def assert_same_scenario(a: Scenario, b: Scenario) -> None:
    assert (a.token, a.scenario_name, a.log_name, a.scenario_type) == (b.token, b.scenario_name, b.log_name,
                                                                      b.scenario_type)
    for name in ("expert_ego_states", "agent_track_ids", "agent_types", "agent_sizes", "agent_poses",
                 "agent_velocities", "traffic_light_states"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert a.get_route_lane_ids() == b.get_route_lane_ids()
    assert a.get_mission_goal() == b.get_mission_goal()
    assert a.traffic_light_ids == b.traffic_light_ids
    assert a.ego_vehicle_parameters == b.ego_vehicle_parameters
    assert a.database_interval == b.database_interval
    assert a.map_api.lane_ids == b.map_api.lane_ids
    assert a.map_api.drivable_area.equals(b.map_api.drivable_area)


def test_round_trips() -> None:
    sc = _scenario()
    sc.get_expert_ego_trajectory()
    assert_same_scenario(sc, Scenario.from_dict(sc.to_dict()))
    assert_same_scenario(sc, pickle.loads(pickle.dumps(sc)))


def test_from_dict_rejects_garbage() -> None:
    with pytest.raises(ScenarioError, match="Scenario.to_dict"):
        Scenario.from_dict({"token": "x"})
