"""The observation interface (nuPlan's AbstractObservation)."""

from __future__ import annotations

import abc

from dask_runner.scenarios.state import EgoState, TrackedObjects
from dask_runner.simulation.history import SimulationIteration


class AbstractObservation(abc.ABC):
    """Holds the other agents between steps; ``update_observation`` moves them to the next iteration."""

    def observation_type(self) -> type:
        """Compared with the planner's ``observation_type()`` when a simulation is set up."""
        return TrackedObjects

    @abc.abstractmethod
    def reset(self) -> None:
        """Back to the scenario's first iteration (drop any per-run state)."""

    @abc.abstractmethod
    def get_observation(self) -> TrackedObjects: ...

    @abc.abstractmethod
    def update_observation(
        self, iteration: SimulationIteration, next_iteration: SimulationIteration, ego_state: EgoState
    ) -> None:
        """Advance to ``next_iteration``; ``ego_state`` is the ego already moved to that iteration."""
