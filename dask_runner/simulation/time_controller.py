"""The simulation clock: which scenario iteration the simulation is at, and the next one."""

from __future__ import annotations

from dask_runner.errors import ScenarioError
from dask_runner.scenarios.abstract_scenario import AbstractScenario
from dask_runner.simulation.history import SimulationIteration


class StepSimulationTimeController:
    """Steps through every iteration of the scenario, one database interval at a time (nuPlan's name).

    ``next_iteration()`` returns None at the last iteration: the simulation records that last
    iteration and stops, so a history holds one sample per scenario iteration.
    """

    def __init__(self, scenario: AbstractScenario) -> None:
        self._scenario = scenario
        self._index = 0
        self._iterations: list[SimulationIteration] | None = None  # built lazily: not pickled warm

    def __getstate__(self) -> dict[str, object]:
        state = self.__dict__.copy()
        state["_iterations"] = None
        return state

    def _all_iterations(self) -> list[SimulationIteration]:
        if self._iterations is None:
            count = self._scenario.get_number_of_iterations()
            if count < 2:
                raise ScenarioError(
                    f"scenario {self._scenario.token!r} has {count} iteration(s); a simulation needs at least 2"
                )
            self._iterations = [
                SimulationIteration(index, time_s) for index, time_s in enumerate(self._scenario.get_time_points())
            ]
        return self._iterations

    def number_of_iterations(self) -> int:
        return len(self._all_iterations())

    def get_iteration(self) -> SimulationIteration:
        return (self._iterations or self._all_iterations())[self._index]  # called twice a step

    def next_iteration(self) -> SimulationIteration | None:
        """Advance the clock; None (and no advance) when the current iteration is the last."""
        iterations = self._iterations or self._all_iterations()
        if self._index + 1 >= len(iterations):
            return None
        self._index += 1
        return iterations[self._index]

    def reached_end(self) -> bool:
        return self._index + 1 >= len(self._all_iterations())

    def reset(self) -> None:
        self._index = 0
