"""One closed-loop simulation: the ego driven by a planner's trajectories through one scenario."""

from __future__ import annotations

import math

from dask_runner.errors import DaskRunnerError
from dask_runner.planners.abstract_planner import PlannerInitialization, PlannerInput
from dask_runner.scenarios.abstract_scenario import AbstractScenario
from dask_runner.scenarios.state import TrafficLightStatus, Trajectory
from dask_runner.simulation.callback.abstract_callback import AbstractCallback, MultiCallback
from dask_runner.simulation.history import (
    SimulationHistory,
    SimulationHistoryBuffer,
    SimulationHistorySample,
    SimulationIteration,
)
from dask_runner.simulation.simulation_setup import SimulationSetup


class Simulation:
    """nuPlan's Simulation, recording one history sample per scenario iteration.

    ``propagate`` records the current iteration (ego state, the trajectory just planned, the
    observation and the traffic lights) and then moves ego, agents and clock to the next iteration.
    At the last iteration it records and stops instead of moving, so a scenario of T iterations
    gives T planner calls and T samples, and row i of the history is scenario iteration i (nuPlan
    stops one iteration earlier and records T-1). The planner's input buffer starts with the
    scenario's initial state only (no past is recorded) and holds ``simulation_history_buffer_duration``
    seconds once the simulation has run that long.
    """

    def __init__(
        self,
        simulation_setup: SimulationSetup,
        callback: AbstractCallback | None = None,
        simulation_history_buffer_duration: float = 2.0,
    ) -> None:
        self._setup = simulation_setup
        if isinstance(callback, MultiCallback):
            self._callback = callback
        else:
            self._callback = MultiCallback([] if callback is None else [callback])
        self._buffer_size = 1 + max(
            0, math.ceil(simulation_history_buffer_duration / simulation_setup.scenario.database_interval - 1e-9)
        )
        self._history = SimulationHistory()
        self._history_buffer: SimulationHistoryBuffer | None = None
        self._traffic_lights: dict[str, TrafficLightStatus] | None = None
        self._running = False

    @property
    def setup(self) -> SimulationSetup:
        return self._setup

    @property
    def scenario(self) -> AbstractScenario:
        return self._setup.scenario

    @property
    def callback(self) -> MultiCallback:
        return self._callback

    @property
    def history(self) -> SimulationHistory:
        return self._history

    @property
    def history_buffer(self) -> SimulationHistoryBuffer:
        if self._history_buffer is None:
            raise DaskRunnerError("the simulation has no history buffer yet; call initialize() first")
        return self._history_buffer

    def initialize(self) -> PlannerInitialization:
        """Reset everything to the scenario's first iteration and tell the planner its mission."""
        setup = self._setup
        setup.reset()
        self._history = SimulationHistory()
        buffer = SimulationHistoryBuffer(self._buffer_size)
        buffer.append(setup.ego_controller.get_state(), setup.observations.get_observation())
        self._history_buffer = buffer
        self._traffic_lights = None
        self._running = True
        scenario = setup.scenario
        return PlannerInitialization(
            route_lane_ids=scenario.get_route_lane_ids(),
            mission_goal=scenario.get_mission_goal(),
            map_api=scenario.map_api,
        )

    def is_simulation_running(self) -> bool:
        return self._running

    def _current_traffic_lights(self, index: int) -> dict[str, TrafficLightStatus]:
        if self._traffic_lights is None:
            self._traffic_lights = self._setup.scenario.get_traffic_light_status_at_iteration(index)
        return self._traffic_lights

    def get_planner_input(self) -> PlannerInput:
        buffer = self._history_buffer
        if not self._running or buffer is None:
            raise DaskRunnerError("the simulation is not running; call initialize() before get_planner_input()")
        iteration = self._setup.time_controller.get_iteration()
        traffic_lights = self._traffic_lights
        if traffic_lights is None:
            traffic_lights = self._traffic_lights = self._setup.scenario.get_traffic_light_status_at_iteration(
                iteration.index
            )
        return PlannerInput(iteration, buffer, traffic_lights)  # iteration, history, traffic_light_data

    def propagate(self, trajectory: Trajectory) -> None:
        """Record the current iteration with ``trajectory``, then advance (or stop after the last iteration)."""
        buffer = self._history_buffer
        if not self._running or buffer is None:
            raise DaskRunnerError(
                "propagate() called on a simulation that is not running; call initialize() to (re)start it"
            )
        setup = self._setup
        time_controller = setup.time_controller
        iteration: SimulationIteration = time_controller.get_iteration()
        ego_state, observation = buffer.ego_states[-1], buffer.observations[-1]
        traffic_lights = self._traffic_lights
        if traffic_lights is None:
            traffic_lights = self._current_traffic_lights(iteration.index)
        self._history.add_sample(SimulationHistorySample(iteration, ego_state, trajectory, observation, traffic_lights))
        self._traffic_lights = None
        next_iteration = time_controller.next_iteration()
        if next_iteration is None:
            self._running = False
            return
        ego_controller, observations = setup.ego_controller, setup.observations
        ego_controller.update_state(iteration, next_iteration, ego_state, trajectory)
        next_ego_state = ego_controller.get_state()
        observations.update_observation(iteration, next_iteration, next_ego_state)
        buffer.append(next_ego_state, observations.get_observation())
