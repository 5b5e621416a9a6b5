"""The realistic ego controller: a tracker computes commands, a bicycle model executes them."""

from __future__ import annotations

from dask_runner.scenarios.abstract_scenario import AbstractScenario
from dask_runner.scenarios.state import EgoState, Trajectory
from dask_runner.simulation.controller.abstract_controller import ScenarioEgoController
from dask_runner.simulation.controller.kinematic_bicycle import KinematicBicycleModel
from dask_runner.simulation.controller.tracker import TrajectoryTracker
from dask_runner.simulation.history import SimulationIteration


class TwoStageController(ScenarioEgoController):
    """nuPlan's TwoStageController: tracking error and actuator limits show in closed loop.

    The motion model defaults to the scenario's vehicle parameters.
    """

    def __init__(
        self,
        scenario: AbstractScenario,
        tracker: TrajectoryTracker | None = None,
        motion_model: KinematicBicycleModel | None = None,
    ) -> None:
        super().__init__(scenario)
        self._tracker = tracker or TrajectoryTracker()
        # Built on first use, where the simulation runs: reading the vehicle parameters of a lazy
        # scenario would build the whole scenario in the driver.
        self._motion_model = motion_model

    def update_state(
        self,
        current_iteration: SimulationIteration,
        next_iteration: SimulationIteration,
        ego_state: EgoState,
        trajectory: Trajectory,
    ) -> None:
        dt = next_iteration.time_s - current_iteration.time_s
        model = self._motion_model
        if model is None:
            model = self._motion_model = KinematicBicycleModel(self._scenario.ego_vehicle_parameters)
        acceleration, steering = self._tracker.track(ego_state, trajectory, dt, model.vehicle.wheel_base)
        # Stamped with the clock's time, so float drift never misaligns history and scenario.
        self._current_state = model.propagate(ego_state, acceleration, steering, dt, next_iteration.time_s)
