"""Ego controllers: the bicycle model's limits and the two-stage controller's tracking accuracy."""

from __future__ import annotations

import math

import numpy as np
import pytest
from road_scenarios import straight_road_scenario

from dask_runner.scenarios.state import (
    EGO_DIM,
    HEADING,
    VELOCITY,
    EgoState,
    T,
    Trajectory,
    VehicleParameters,
    X,
    Y,
)
from dask_runner.simulation.controller import (
    KinematicBicycleModel,
    PerfectTrackingController,
    TwoStageController,
)
from dask_runner.simulation.history import SimulationIteration

DT = 0.1


def test_bicycle_model_clips_acceleration_steering_and_steering_rate() -> None:
    vehicle = VehicleParameters()
    model = KinematicBicycleModel(vehicle, max_steering_rate=0.5)
    state = EgoState(0.0, 0.0, 0.0, 0.0, velocity=5.0)
    for _ in range(30):
        new = model.propagate(state, acceleration=100.0, steering_angle=10.0, dt=DT)
        assert new.acceleration == pytest.approx(vehicle.max_acceleration)
        assert new.velocity - state.velocity == pytest.approx(vehicle.max_acceleration * DT)
        assert new.steering_angle - state.steering_angle <= 0.5 * DT + 1e-12
        assert abs(new.steering_angle) <= vehicle.max_steering_angle + 1e-12
        state = new
    assert state.steering_angle == pytest.approx(vehicle.max_steering_angle)
    # The yaw rate is the bicycle's: v tan(delta) / wheel base (at the step's mean speed).
    assert state.yaw_rate == pytest.approx(
        (state.velocity - 0.5 * vehicle.max_acceleration * DT) * math.tan(state.steering_angle) / vehicle.wheel_base
    )


def test_bicycle_model_brakes_within_its_limit_and_never_reverses() -> None:
    vehicle = VehicleParameters()
    model = KinematicBicycleModel(vehicle)
    state = EgoState(0.0, 0.0, 0.0, 0.0, velocity=2.0)
    state = model.propagate(state, acceleration=-100.0, steering_angle=0.0, dt=DT)
    assert state.acceleration == pytest.approx(-vehicle.max_deceleration)
    for _ in range(10):
        state = model.propagate(state, acceleration=-100.0, steering_angle=0.0, dt=DT)
        assert state.velocity >= 0.0
    assert state.velocity == 0.0
    x_stopped = state.x
    state = model.propagate(state, acceleration=-100.0, steering_angle=0.0, dt=DT)
    assert state.x == x_stopped


def _arc_trajectory(radius: float, speed: float, duration: float, start_offset: float = 0.0) -> Trajectory:
    """Rear-axle trajectory along a circle (left turn) of ``radius`` at constant ``speed``, from (0, 0) heading +x."""
    times = np.arange(0.0, duration + 1e-9, DT)
    angle = speed * times / radius
    states = np.zeros((len(times), EGO_DIM))
    states[:, T] = times
    states[:, X] = radius * np.sin(angle)
    states[:, Y] = radius * (1.0 - np.cos(angle)) + start_offset
    states[:, HEADING] = angle
    states[:, VELOCITY] = speed
    return Trajectory(states)


def _track(trajectory: Trajectory, start: EgoState) -> list[EgoState]:
    """Drive the two-stage controller along ``trajectory`` for its whole length; the states it visits."""
    scenario = straight_road_scenario(n_steps=len(trajectory.states))
    controller = TwoStageController(scenario)
    state = start
    visited = [state]
    times = trajectory.states[:, T]
    for k in range(len(times) - 1):
        controller.update_state(
            SimulationIteration(k, float(times[k])), SimulationIteration(k + 1, float(times[k + 1])), state, trajectory
        )
        state = controller.get_state()
        visited.append(state)
    return visited


def _path_errors(states: list[EgoState], trajectory: Trajectory) -> tuple[np.ndarray, np.ndarray]:
    """Distance of each visited state to the reference at the same time, and its speed error."""
    ref = trajectory.states
    xy = np.array([[s.x, s.y] for s in states])
    return np.hypot(*(xy - ref[: len(states), X : Y + 1]).T), np.array([s.velocity for s in states]) - ref[: len(states), VELOCITY]


def test_two_stage_controller_tracks_a_straight_path_and_converges_from_an_offset() -> None:
    straight = _arc_trajectory(radius=1e9, speed=10.0, duration=10.0)
    start = EgoState(0.0, 0.0, 0.8, 0.0, velocity=10.0)  # 0.8 m to the left of the path
    position_error, speed_error = _path_errors(_track(straight, start), straight)
    assert position_error[0] == pytest.approx(0.8)
    assert np.all(np.diff(position_error[:20]) < 1e-9)  # no overshoot on the way back
    assert position_error[-30:].max() < 0.05
    assert np.abs(speed_error).max() < 0.3


@pytest.mark.parametrize("radius, speed", [(30.0, 8.0), (15.0, 5.0)])
def test_two_stage_controller_tracks_a_curved_path_within_a_small_error(radius: float, speed: float) -> None:
    arc = _arc_trajectory(radius=radius, speed=speed, duration=10.0)
    start = EgoState(0.0, 0.0, 0.0, 0.0, velocity=speed)
    states = _track(arc, start)
    position_error, speed_error = _path_errors(states, arc)
    assert position_error.max() < 0.1
    radial = np.array([math.hypot(s.x, s.y - radius) for s in states])
    assert np.abs(radial - radius).max() < 0.1  # stays on the circle, not just near the clock's point
    assert np.abs(speed_error).max() < 0.2


def test_perfect_tracking_lands_exactly_on_the_trajectory_at_the_next_time() -> None:
    arc = _arc_trajectory(radius=20.0, speed=6.0, duration=3.0)
    scenario = straight_road_scenario(n_steps=31)
    controller = PerfectTrackingController(scenario)
    start = EgoState.from_array(arc.states[0])
    controller.update_state(SimulationIteration(0, 0.0), SimulationIteration(1, 0.1), start, arc)
    assert np.array_equal(controller.get_state().to_array(), arc.states[1])
    controller.update_state(SimulationIteration(0, 0.0), SimulationIteration(1, 0.15), start, arc)
    assert controller.get_state().x == pytest.approx(0.5 * (arc.states[1, X] + arc.states[2, X]))
