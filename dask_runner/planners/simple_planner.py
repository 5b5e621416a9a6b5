"""The simplest planner: straight on (or on a constant steering arc) with constant acceleration."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from dask_runner.errors import ConfigError
from dask_runner.planners.abstract_planner import AbstractPlanner, PlannerInitialization, PlannerInput
from dask_runner.scenarios.state import (
    ACCELERATION,
    EGO_DIM,
    HEADING,
    STEERING,
    VELOCITY,
    YAW_RATE,
    T,
    TrackedObjects,
    Trajectory,
    VehicleParameters,
    X,
    Y,
)


class SimplePlanner(AbstractPlanner):
    """nuPlan's SimplePlanner: a baseline and a smoke test that needs no map.

    From the current ego state it plans ``horizon_seconds`` at ``sampling_time`` intervals (as
    nuPlan, the last sample is one interval short of the horizon) with constant steering and the
    longitudinal ``acceleration`` (a float, or nuPlan's (longitudinal, lateral) pair of which the
    lateral part is ignored). Speed never goes below 0 nor above ``max_velocity``; an ego that
    starts faster than ``max_velocity`` slows down to it at 1 m/s^2 (or |acceleration| if larger).
    """

    def __init__(
        self,
        horizon_seconds: float = 10.0,
        sampling_time: float = 0.25,
        acceleration: float | Sequence[float] = (0.0, 0.0),
        max_velocity: float = 5.0,
        steering_angle: float = 0.0,
        vehicle: VehicleParameters | None = None,
    ) -> None:
        if sampling_time <= 0.0 or horizon_seconds <= sampling_time:
            raise ConfigError(
                f"SimplePlanner needs 0 < sampling_time < horizon_seconds, got {sampling_time} and "
                f"{horizon_seconds}; e.g. SimplePlanner(horizon_seconds=10.0, sampling_time=0.25)"
            )
        self.horizon_seconds = horizon_seconds
        self.sampling_time = sampling_time
        self.acceleration = float(acceleration if isinstance(acceleration, (int, float)) else acceleration[0])
        self.max_velocity = max_velocity
        self.steering_angle = steering_angle
        self.vehicle = vehicle or VehicleParameters()
        self._offsets = sampling_time * np.arange(len(np.arange(sampling_time, horizon_seconds, sampling_time)) + 1)
        # Per-step constants, computed once: the plan is a dozen numpy calls on arrays of ~40 rows.
        self._half_intervals = 0.5 * np.diff(self._offsets)
        self._intervals = np.diff(self._offsets)
        self._curvature = float(np.tan(self.steering_angle) / self.vehicle.wheel_base)

    def name(self) -> str:
        return "SimplePlanner"

    def observation_type(self) -> type:
        return TrackedObjects

    def initialize(self, initialization: PlannerInitialization) -> None:
        pass

    def compute_planner_trajectory(self, current_input: PlannerInput) -> Trajectory:
        ego = current_input.history.ego_states[-1]
        t = self._offsets
        v0, vmax, accel = ego.velocity, self.max_velocity, self.acceleration
        if v0 <= vmax:
            velocity = np.minimum(np.maximum(v0 + accel * t, 0.0), vmax)  # np.clip, without its slow wrapper
        else:
            velocity = np.maximum(v0 - max(abs(accel), 1.0) * t, vmax)
        station = np.zeros_like(t)
        np.cumsum((velocity[1:] + velocity[:-1]) * self._half_intervals, out=station[1:])
        curvature = self._curvature
        heading = ego.heading + curvature * station
        states = np.empty((len(t), EGO_DIM))
        states[:, T] = ego.time_s + t
        if abs(curvature) > 1e-9:
            states[:, X] = ego.x + (np.sin(heading) - np.sin(ego.heading)) / curvature
            states[:, Y] = ego.y - (np.cos(heading) - np.cos(ego.heading)) / curvature
        else:
            states[:, X] = ego.x + station * np.cos(ego.heading)
            states[:, Y] = ego.y + station * np.sin(ego.heading)
        states[:, HEADING] = (heading + np.pi) % (2.0 * np.pi) - np.pi
        states[:, VELOCITY] = velocity
        states[:-1, ACCELERATION] = np.diff(velocity) / self._intervals
        states[-1, ACCELERATION] = states[-2, ACCELERATION]
        states[:, STEERING] = self.steering_angle
        states[:, YAW_RATE] = velocity * curvature
        return Trajectory(states)
