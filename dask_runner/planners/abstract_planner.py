"""The planner interface (nuPlan's AbstractPlanner): ``compute_trajectory`` times ``compute_planner_trajectory``."""

from __future__ import annotations

import abc
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dask_runner.planners.planner_report import PlannerReport
from dask_runner.scenarios.state import StateSE2, Trajectory

if TYPE_CHECKING:
    from dask_runner.scenarios.abstract_map import AbstractMap
    from dask_runner.scenarios.state import TrafficLightStatus
    from dask_runner.simulation.history import SimulationHistoryBuffer, SimulationIteration


@dataclass(frozen=True)
class PlannerInitialization:
    route_lane_ids: list[str]
    mission_goal: StateSE2 | None
    map_api: AbstractMap


@dataclass(frozen=True)
class PlannerInput:
    iteration: SimulationIteration
    history: SimulationHistoryBuffer
    traffic_light_data: dict[str, TrafficLightStatus]

    def __init__(
        self,
        iteration: SimulationIteration,
        history: SimulationHistoryBuffer,
        traffic_light_data: dict[str, TrafficLightStatus],
    ) -> None:
        # One per simulation step: writing the instance dict directly costs a third of dataclass's frozen
        # __init__ (object.__setattr__ per field); the instance stays frozen.
        fields = self.__dict__
        fields["iteration"] = iteration
        fields["history"] = history
        fields["traffic_light_data"] = traffic_light_data


class AbstractPlanner(abc.ABC):
    """Subclasses implement ``initialize``, ``name``, ``observation_type``, ``compute_planner_trajectory``.

    Heavy state (a neural network) belongs in ``initialize``, which runs on the worker, or in
    ``dask_runner.per_worker.per_worker`` so one worker process loads it once.
    """

    # nuPlan: planners that need the scenario (log replay) say so; the builder hands it in.
    requires_scenario: bool = False

    _compute_trajectory_runtimes: list[float]

    def __new__(cls, *args: object, **kwargs: object) -> AbstractPlanner:
        # Set here, not in __init__, so subclasses that forget super().__init__() still work (as in nuPlan).
        instance = super().__new__(cls)
        instance._compute_trajectory_runtimes = []
        return instance

    @abc.abstractmethod
    def name(self) -> str: ...

    @abc.abstractmethod
    def initialize(self, initialization: PlannerInitialization) -> None: ...

    @abc.abstractmethod
    def observation_type(self) -> type: ...

    @abc.abstractmethod
    def compute_planner_trajectory(self, current_input: PlannerInput) -> Trajectory: ...

    def compute_trajectory(self, current_input: PlannerInput) -> Trajectory:
        start = time.perf_counter()
        try:
            return self.compute_planner_trajectory(current_input)
        finally:
            self._compute_trajectory_runtimes.append(time.perf_counter() - start)

    def generate_planner_report(self, clear_stats: bool = True) -> PlannerReport:
        report = PlannerReport(compute_trajectory_runtimes=list(self._compute_trajectory_runtimes))
        if clear_stats:
            self._compute_trajectory_runtimes = []
        return report
