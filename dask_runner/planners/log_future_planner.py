"""Log replay as a planner: the expert's own future, which closed-loop metrics score as the reference."""

from __future__ import annotations

import math

import numpy as np

from dask_runner.planners.abstract_planner import AbstractPlanner, PlannerInitialization, PlannerInput
from dask_runner.scenarios.abstract_scenario import AbstractScenario
from dask_runner.scenarios.state import (
    HEADING,
    VELOCITY,
    FloatArray,
    IntArray,
    T,
    TrackedObjects,
    Trajectory,
    X,
    Y,
)


class LogFuturePlanner(AbstractPlanner):
    """nuPlan's LogFuturePlanner: the logged ego trajectory from the current iteration on.

    The trajectory holds the current and the next logged state, then ``num_poses`` states spread
    over ``future_time_horizon`` seconds, all exact logged rows; so with PerfectTrackingController
    the simulation reproduces the log exactly. At the last iteration the log is extended by one
    interval at constant velocity (a trajectory needs two states).
    """

    requires_scenario = True

    def __init__(self, scenario: AbstractScenario, num_poses: int = 16, future_time_horizon: float = 8.0) -> None:
        self._scenario = scenario
        self.num_poses = num_poses
        self.future_time_horizon = future_time_horizon
        self._expert: FloatArray | None = None
        self._offsets: IntArray | None = None  # row offsets of the poses from the current iteration

    def __getstate__(self) -> dict[str, object]:
        state = self.__dict__.copy()
        state["_expert"] = None  # re-read from the scenario where the planner runs
        return state

    def name(self) -> str:
        return "LogFuturePlanner"

    def observation_type(self) -> type:
        return TrackedObjects

    def initialize(self, initialization: PlannerInitialization) -> None:
        self._expert = self._scenario.get_expert_ego_trajectory().states

    def compute_planner_trajectory(self, current_input: PlannerInput) -> Trajectory:
        expert = self._expert
        if expert is None:
            expert = self._expert = self._scenario.get_expert_ego_trajectory().states
        index = current_input.iteration.index
        last = len(expert) - 1
        if index >= last:
            row = expert[last]
            dt = self._scenario.database_interval
            extended = row.copy()
            extended[T] += dt
            extended[X] += row[VELOCITY] * math.cos(row[HEADING]) * dt
            extended[Y] += row[VELOCITY] * math.sin(row[HEADING]) * dt
            return Trajectory(np.stack([row, extended]))
        offsets = self._offsets
        if offsets is None:
            stride = max(1, round(self.future_time_horizon / self._scenario.database_interval / max(self.num_poses, 1)))
            offsets = self._offsets = np.unique(np.r_[0, 1, stride * np.arange(1, self.num_poses + 1)])
        indices = np.minimum(offsets + index, last)
        return Trajectory(expert[indices[: int(indices.searchsorted(last)) + 1]])
