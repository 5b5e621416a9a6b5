"""The ego replays the expert's log, whatever the planner asks: the controller of nuPlan's open-loop challenge."""

from __future__ import annotations

from dask_runner.scenarios.abstract_scenario import AbstractScenario
from dask_runner.scenarios.state import EgoState, Trajectory
from dask_runner.simulation.controller.abstract_controller import AbstractEgoController
from dask_runner.simulation.history import SimulationIteration


class LogPlaybackController(AbstractEgoController):
    """nuPlan's LogPlaybackController: the ego state of every iteration is the logged one.

    The planner still plans at every step, from the expert's state; its trajectories are only scored
    (open-loop metrics compare them with the expert's future), never executed.
    """

    def __init__(self, scenario: AbstractScenario) -> None:
        self._scenario = scenario
        self._iteration = 0

    def reset(self) -> None:
        self._iteration = 0

    def get_state(self) -> EgoState:
        return self._scenario.get_ego_state_at_iteration(self._iteration)

    def update_state(
        self,
        current_iteration: SimulationIteration,
        next_iteration: SimulationIteration,
        ego_state: EgoState,
        trajectory: Trajectory,
    ) -> None:
        self._iteration = next_iteration.index
