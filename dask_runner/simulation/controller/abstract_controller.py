"""The ego controller interface (nuPlan's AbstractEgoController)."""

from __future__ import annotations

import abc

from dask_runner.scenarios.abstract_scenario import AbstractScenario
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


class ScenarioEgoController(AbstractEgoController):
    """A controller whose ego starts at the scenario's initial state; subclasses set ``_current_state``."""

    def __init__(self, scenario: AbstractScenario) -> None:
        self._scenario = scenario
        self._current_state: EgoState | None = None

    def reset(self) -> None:
        self._current_state = None

    def get_state(self) -> EgoState:
        if self._current_state is None:
            self._current_state = self._scenario.initial_ego_state
        return self._current_state
