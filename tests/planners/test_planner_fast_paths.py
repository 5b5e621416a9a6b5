"""The planners' fast paths (plain-float loops, cached look-ups) against straightforward references."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dask_runner.planners import IDMPlanner
from dask_runner.planners.route_path import RoutePath
from dask_runner.scenarios.state import ACCELERATION, HEADING, VELOCITY, X, Y
from dask_runner.scenarios.synthetic import generate_scenario


def reference_idm(planner: IDMPlanner, station: float, v: float, target: float, gap: float, lead_speed: float):
    """nuPlan-style IDM integration written plainly: stations, speeds, accelerations of the samples."""
    dt = planner.planned_trajectory_sample_interval
    a, b = planner.accel_max, planner.decel_max
    stations, speeds, accels = [station], [v], []
    s = station
    for _ in range(planner.planned_trajectory_samples):
        accel = a * (1.0 - (v / max(target, 1e-3)) ** 4)
        if gap != math.inf:
            wanted = planner.min_gap_to_lead_agent + max(
                v * planner.headway_time + v * (v - lead_speed) / (2.0 * math.sqrt(a * b)), 0.0
            )
            accel -= a * (wanted / max(gap, 0.01)) ** 2
        accel = min(max(accel, -b), a)
        new_v = v + accel * dt
        advance = v * v / (-2.0 * accel) if new_v < 0.0 else 0.5 * (v + new_v) * dt
        new_v = max(new_v, 0.0)
        if gap != math.inf:
            room = gap + lead_speed * dt - 0.5 * planner.min_gap_to_lead_agent
            if advance > room:
                advance = max(room, 0.0)
                new_v = min(new_v, lead_speed)
            gap += lead_speed * dt - advance
        accels.append((new_v - v) / dt)
        s += advance
        v = new_v
        stations.append(s)
        speeds.append(v)
    accels.append(accels[-1])
    return np.array(stations), np.array(speeds), np.array(accels)


@pytest.fixture(scope="module")
def path() -> RoutePath:
    scenario = generate_scenario("starting_left_turn", 1)  # a curved route
    return RoutePath.from_route(scenario.map_api, scenario.get_route_lane_ids())


@pytest.mark.parametrize(
    "velocity, target, gap, lead_speed",
    [(8.0, 10.0, math.inf, 0.0), (14.0, 10.0, math.inf, 0.0), (8.0, 10.0, 12.0, 3.0), (9.0, 10.0, 2.0, 0.0),
     (0.0, 10.0, 0.5, 0.0), (3.0, 10.0, 40.0, 12.0)],
)
def test_idm_rollout_matches_the_plain_integration(path: RoutePath, velocity, target, gap, lead_speed) -> None:
    planner = IDMPlanner()
    trajectory = planner._rollout(path, 2.0, 20.0, velocity, target, gap, lead_speed)
    stations, speeds, accels = reference_idm(planner, 20.0, velocity, target, gap, lead_speed)
    states = trajectory.states
    np.testing.assert_allclose(states[:, VELOCITY], speeds, atol=1e-9)
    np.testing.assert_allclose(states[:, ACCELERATION], accels, atol=1e-9)
    np.testing.assert_allclose(states[:, [X, Y, HEADING]], path.poses_at(stations), atol=1e-9)
    np.testing.assert_allclose(states[:, 0], 2.0 + 0.5 * np.arange(17), atol=1e-12)
    if gap != math.inf:  # never drives into the lead
        assert stations[-1] - 20.0 <= gap + lead_speed * 8.0


def test_speed_limit_is_the_limit_of_the_lane_holding_the_station(path: RoutePath) -> None:
    ends = path.lane_end_stations
    for station in np.linspace(-5.0, path.length + 5.0, 200):
        index = min(int(np.searchsorted(ends, station)), len(ends) - 1)
        assert path.speed_limit_at(float(station)) == path.lane_speed_limits[index]


def test_fill_poses_gives_wrapped_headings_on_every_route() -> None:
    for scenario_type in ("starting_left_turn", "changing_lane", "traversing_traffic_light_intersection"):
        scenario = generate_scenario(scenario_type, 2)
        route = RoutePath.from_route(scenario.map_api, scenario.get_route_lane_ids())
        stations = np.linspace(0.0, route.length, 50)
        x, y, heading = np.zeros(50), np.zeros(50), np.zeros(50)
        route.fill_poses(stations, x, y, heading)
        assert np.all((heading >= -math.pi) & (heading < math.pi))
        np.testing.assert_allclose(np.stack([x, y, heading], axis=1), route.poses_at(stations), atol=1e-12)
