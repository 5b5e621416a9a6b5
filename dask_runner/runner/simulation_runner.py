"""SimulationRunner: drives one closed-loop simulation with one planner, firing the eight callback hooks."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Callable, Generator, Iterable

from dask_runner.runner.abstract_runner import AbstractRunner
from dask_runner.runner.report import RunnerReport
from dask_runner.runner.time_limit import check_time_limit

if TYPE_CHECKING:
    from dask_runner.planners.abstract_planner import AbstractPlanner, PlannerInput
    from dask_runner.scenarios.abstract_scenario import AbstractScenario
    from dask_runner.scenarios.state import Trajectory
    from dask_runner.simulation.simulation import Simulation


class SimulationRunner(AbstractRunner):
    """nuPlan's SimulationRunner. ``run()`` does not catch: use ``run_simulation`` for a failed report."""

    def __init__(self, simulation: Simulation, planner: AbstractPlanner, runner_id: str | None = None) -> None:
        self._simulation = simulation
        self._planner = planner
        self.runner_id = runner_id or ""  # execute_runners assigns one when none is given

    @property
    def simulation(self) -> Simulation:
        return self._simulation

    @property
    def scenario(self) -> AbstractScenario:
        return self._simulation.scenario

    @property
    def planner(self) -> AbstractPlanner:
        return self._planner

    def _initialize(self) -> None:
        callback, setup = self._simulation.callback, self._simulation.setup
        callback.on_initialization_start(setup, self._planner)
        self._planner.initialize(self._simulation.initialize())
        callback.on_initialization_end(setup, self._planner)

    def run(self) -> RunnerReport:
        steps = self.run_steps()
        planner = self._planner
        try:
            planner_input = next(steps)
            while True:
                planner_input = steps.send(planner.compute_trajectory(planner_input))
        except StopIteration as finished:
            report: RunnerReport = finished.value
            return report

    def run_steps(self) -> Generator[PlannerInput, Trajectory, RunnerReport]:
        """The simulation with the planner call left out: yields each step's planner input, takes its trajectory.

        ``run()`` answers each input with this runner's planner; a lockstep group
        (``dask_runner.runner.lockstep``) answers the inputs of several runners with one batched call.
        Both run this one loop, so hooks, time-limit checks and the report are the same either way.
        """
        start_time = time.time()
        simulation, planner = self._simulation, self._planner
        callback, setup = simulation.callback, simulation.setup

        callback.on_simulation_start(setup)
        self._initialize()
        while simulation.is_simulation_running():
            check_time_limit()
            callback.on_step_start(setup, planner)
            planner_input = simulation.get_planner_input()
            callback.on_planner_start(setup, planner)
            trajectory = yield planner_input
            callback.on_planner_end(setup, planner, trajectory)
            simulation.propagate(trajectory)
            callback.on_step_end(setup, planner, simulation.history.last())
        callback.on_simulation_end(setup, planner, simulation.history)

        scenario = self.scenario
        return RunnerReport(
            succeeded=True,
            error_message=None,
            start_time=start_time,
            end_time=time.time(),
            planner_report=planner.generate_planner_report(),
            scenario_name=scenario.scenario_name,
            planner_name=planner.name(),
            log_name=scenario.log_name,
            runner_id=self.runner_id,
        )


def for_each(fn: Callable[[Any], Any], items: Iterable[Any]) -> None:
    """``fn(item)`` for each item (nuPlan's helper in this module, kept for code that imports it)."""
    for item in items:
        fn(item)
