"""The ego controller interface (nuPlan's AbstractEgoController)."""

from __future__ import annotations

import abc

from dask_runner.scenarios.state import EgoState, Trajectory
from dask_runner.simulation.history import SimulationIteration


class AbstractEgoController(abc.ABC):
    """Owns the ego state between steps; ``update_state`` moves it to the next iteration's time."""

    @abc.abstractmethod
    def get_state(self) -> EgoState:
        """The ego's current state (the scenario's initial state after ``reset``)."""

    @abc.abstractmethod
    def reset(self) -> None: ...

    @abc.abstractmethod
    def update_state(
        self,
        current_iteration: SimulationIteration,
        next_iteration: SimulationIteration,
        ego_state: EgoState,
        trajectory: Trajectory,
    ) -> None: ...
