"""The scenario interface, with nuPlan's member names, that planners, simulations and metrics use."""

from __future__ import annotations

import abc

from dask_runner.scenarios.abstract_map import AbstractMap
from dask_runner.scenarios.state import (
    EgoState,
    StateSE2,
    TrackedObjects,
    TrafficLightStatus,
    Trajectory,
    VehicleParameters,
)


class AbstractScenario(abc.ABC):
    """One recorded or generated traffic situation of fixed length at ``database_interval`` seconds a step."""

    @property
    @abc.abstractmethod
    def token(self) -> str:
        """Unique and stable across runs (used to resume)."""

    @property
    @abc.abstractmethod
    def scenario_name(self) -> str: ...

    @property
    @abc.abstractmethod
    def log_name(self) -> str: ...

    @property
    @abc.abstractmethod
    def scenario_type(self) -> str: ...

    @property
    @abc.abstractmethod
    def map_api(self) -> AbstractMap: ...

    @property
    def database_interval(self) -> float:
        return 0.1

    @property
    @abc.abstractmethod
    def ego_vehicle_parameters(self) -> VehicleParameters: ...

    @abc.abstractmethod
    def get_number_of_iterations(self) -> int: ...

    def get_time_point(self, iteration: int) -> float:
        return self.initial_ego_state.time_s + iteration * self.database_interval

    def get_time_points(self) -> list[float]:
        """``get_time_point`` of every iteration, in order (array-backed scenarios answer in one call)."""
        return [self.get_time_point(iteration) for iteration in range(self.get_number_of_iterations())]

    @property
    def initial_ego_state(self) -> EgoState:
        return self.get_ego_state_at_iteration(0)

    @abc.abstractmethod
    def get_ego_state_at_iteration(self, iteration: int) -> EgoState:
        """The expert (logged) ego state."""

    @abc.abstractmethod
    def get_expert_ego_trajectory(self) -> Trajectory:
        """The whole expert ego trajectory, one row per iteration."""

    @abc.abstractmethod
    def get_tracked_objects_at_iteration(self, iteration: int) -> TrackedObjects:
        """The logged agents present at ``iteration`` (the ego excluded)."""

    @abc.abstractmethod
    def get_mission_goal(self) -> StateSE2 | None: ...

    @abc.abstractmethod
    def get_route_lane_ids(self) -> list[str]:
        """The lanes, in driving order, that the expert's route follows."""

    @abc.abstractmethod
    def get_traffic_light_status_at_iteration(self, iteration: int) -> dict[str, TrafficLightStatus]:
        """Traffic light id -> status."""
