"""The built-in planners, alone and in closed loop."""

from __future__ import annotations

import numpy as np
import pytest
from road_scenarios import StraightAgent, straight_road_scenario

from dask_runner.planners import IDMPlanner, LogFuturePlanner, SimplePlanner
from dask_runner.planners.abstract_planner import PlannerInput
from dask_runner.runner.simulation_builder import build_simulation_runners
from dask_runner.scenarios.state import (
    HEADING,
    VELOCITY,
    EgoState,
    T,
    TrafficLightStatus,
    VehicleParameters,
    X,
    Y,
)
from dask_runner.simulation.history import SimulationHistory, SimulationHistoryBuffer, SimulationIteration

FRONT = VehicleParameters().front_length


def _input(ego: EgoState) -> PlannerInput:
    buffer = SimulationHistoryBuffer(1)
    from dask_runner.scenarios.state import TrackedObjects

    buffer.append(ego, TrackedObjects.empty())
    return PlannerInput(SimulationIteration(0, ego.time_s), buffer, {})


def test_simple_planner_goes_straight_with_constant_acceleration_capped_at_max_velocity() -> None:
    planner = SimplePlanner(horizon_seconds=10.0, sampling_time=0.25, acceleration=(1.0, 0.0), max_velocity=5.0)
    ego = EgoState(3.0, 10.0, -2.0, 0.5, velocity=2.0)
    states = planner.compute_trajectory(_input(ego)).states
    assert planner.name() == "SimplePlanner"
    assert len(states) == 40  # nuPlan: samples up to one interval short of the horizon
    assert np.allclose(np.diff(states[:, T]), 0.25) and states[0, T] == 3.0
    assert np.allclose(states[:, HEADING], 0.5)  # straight ahead
    lateral = -(states[:, X] - 10.0) * np.sin(0.5) + (states[:, Y] + 2.0) * np.cos(0.5)
    assert np.allclose(lateral, 0.0, atol=1e-9)
    expected_speed = np.minimum(2.0 + 1.0 * (states[:, T] - 3.0), 5.0)
    assert np.allclose(states[:, VELOCITY], expected_speed)
    travelled = np.hypot(states[-1, X] - 10.0, states[-1, Y] + 2.0)
    assert travelled == pytest.approx(2.0 * 3.0 + 0.5 * 3.0**2 + 5.0 * (9.75 - 3.0))


def test_simple_planner_in_closed_loop_accelerates_to_max_velocity_and_holds_it() -> None:
    scenario = straight_road_scenario(ego_speed=0.0, n_steps=100)
    planner = lambda scenario: SimplePlanner(acceleration=2.0, max_velocity=4.0)  # noqa: E731
    runner = build_simulation_runners([scenario], [planner], ego_controller="two_stage")[0]
    runner.run()
    ego = runner.simulation.history.ego_array()
    assert np.allclose(ego[:19, VELOCITY], 2.0 * ego[:19, T], atol=1e-6)  # 2 m/s^2 from standstill
    assert np.all(np.diff(ego[:, VELOCITY]) >= -1e-9) and ego[:, VELOCITY].max() <= 4.0 + 1e-9
    assert np.allclose(ego[40:, VELOCITY], 4.0, atol=1e-3)
    assert np.abs(ego[:, Y]).max() < 1e-9 and np.abs(ego[:, HEADING]).max() < 1e-9


def test_log_future_planner_returns_exact_logged_rows_and_survives_the_last_iteration() -> None:
    scenario = straight_road_scenario(n_steps=50)
    planner = LogFuturePlanner(scenario, num_poses=16, future_time_horizon=8.0)
    expert = scenario.expert_ego_states
    buffer = SimulationHistoryBuffer(1)
    states = planner.compute_trajectory(PlannerInput(SimulationIteration(10, 1.0), buffer, {})).states
    assert np.array_equal(states[0], expert[10]) and np.array_equal(states[1], expert[11])
    assert all(any(np.array_equal(row, e) for e in expert) for row in states)
    last = planner.compute_trajectory(PlannerInput(SimulationIteration(49, 4.9), buffer, {})).states
    assert np.array_equal(last[0], expert[49]) and last[1, T] == pytest.approx(5.0)


def _closed_loop(scenario, **planner_args) -> SimulationHistory:  # type: ignore[no-untyped-def]
    runner = build_simulation_runners(
        [scenario], [lambda s: IDMPlanner(**planner_args)], ego_controller="two_stage", observation="tracks"
    )[0]
    assert runner.run().succeeded
    return runner.simulation.history


def test_idm_planner_stops_behind_a_stopped_lead_vehicle_without_collision() -> None:
    lead = StraightAgent(1, 60.0, 0.0)
    history = _closed_loop(straight_road_scenario(agents=(lead,)), target_velocity=10.0)
    ego = history.ego_array()
    gap = (lead.x0 - lead.length / 2) - (ego[:, X] + FRONT)
    assert gap.min() > 0.0
    assert gap[-1] < 3.0  # it drove up to the lead (min gap 1 m), it did not stop early
    assert ego[-1, VELOCITY] < 0.05
    assert ego[:, VELOCITY].max() > 8.0  # and it had been driving at its target speed before


def test_idm_planner_follows_a_moving_lead_at_a_safe_distance() -> None:
    lead = StraightAgent(1, 30.0, 5.0)
    history = _closed_loop(straight_road_scenario(agents=(lead,)), target_velocity=12.0)
    ego = history.ego_array()
    lead_rear = lead.x0 + lead.speed * ego[:, T] - lead.length / 2
    assert (lead_rear - ego[:, X] - FRONT).min() > 1.0
    assert ego[-1, VELOCITY] == pytest.approx(5.0, abs=0.5)


def test_idm_planner_ignores_agents_in_the_next_lane() -> None:
    history = _closed_loop(straight_road_scenario(agents=(StraightAgent(1, 30.0, 0.0, y=3.5),)), target_velocity=10.0)
    assert history.ego_array()[-1, VELOCITY] == pytest.approx(10.0, abs=0.1)


@pytest.mark.parametrize("status", [TrafficLightStatus.RED, TrafficLightStatus.YELLOW])
def test_idm_planner_stops_at_the_stop_line_of_a_red_light(status: TrafficLightStatus) -> None:
    scenario = straight_road_scenario(light_state=int(status), light_at=80.0)
    ego = _closed_loop(scenario, target_velocity=10.0).ego_array()
    front = ego[:, X] + FRONT
    assert front.max() <= 80.0
    assert front[-1] > 76.0  # stopped at the line, not far before it
    assert ego[-1, VELOCITY] < 0.05


def test_idm_planner_drives_through_a_green_light_at_the_lane_speed_limit() -> None:
    scenario = straight_road_scenario(light_state=int(TrafficLightStatus.GREEN), light_at=80.0)
    ego = _closed_loop(scenario, target_velocity=30.0).ego_array()
    assert ego[-1, X] + FRONT > 100.0
    assert 14.0 < ego[:, VELOCITY].max() <= 15.0  # min(target, speed limit 15 m/s)
