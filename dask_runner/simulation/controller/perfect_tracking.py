"""The ego goes exactly where the planner said it would be at the next iteration."""

from __future__ import annotations

from dask_runner.scenarios.state import EgoState, Trajectory
from dask_runner.simulation.controller.abstract_controller import ScenarioEgoController
from dask_runner.simulation.controller.trajectory_sampling import sample_trajectory
from dask_runner.simulation.history import SimulationIteration


class PerfectTrackingController(ScenarioEgoController):
    """nuPlan's PerfectTrackingController: no dynamics, the trajectory is the truth.

    Useful to evaluate a planner's intent apart from tracking error; with LogFuturePlanner it replays
    the expert exactly. The trajectory is clamped at its ends when it does not cover the next time.
    """

    def update_state(
        self,
        current_iteration: SimulationIteration,
        next_iteration: SimulationIteration,
        ego_state: EgoState,
        trajectory: Trajectory,
    ) -> None:
        self._current_state = EgoState(*sample_trajectory(trajectory.states, next_iteration.time_s))
