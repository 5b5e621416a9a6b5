"""Log replay of the other agents: they move as recorded, whatever the ego does."""

from __future__ import annotations

from dask_runner.scenarios.abstract_scenario import AbstractScenario
from dask_runner.scenarios.state import EgoState, TrackedObjects
from dask_runner.simulation.history import SimulationIteration
from dask_runner.simulation.observation.abstract_observation import AbstractObservation


class TracksObservation(AbstractObservation):
    """nuPlan's TracksObservation: the recorded agents of the current iteration."""

    def __init__(self, scenario: AbstractScenario) -> None:
        self._scenario = scenario
        self._iteration = 0

    def reset(self) -> None:
        self._iteration = 0

    def get_observation(self) -> TrackedObjects:
        return self._scenario.get_tracked_objects_at_iteration(self._iteration)

    def update_observation(
        self, iteration: SimulationIteration, next_iteration: SimulationIteration, ego_state: EgoState
    ) -> None:
        self._iteration = next_iteration.index
