"""Parts for running nuplan-devkit's own scripts without its dataset; imported by nuPlan's process only.

Nothing here stands in for nuPlan: these are a scenario builder and planners written against nuPlan's
real classes, selected by ``_target_`` overrides, as a nuPlan user would write their own.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from nuplan.common.actor_state.state_representation import StateVector2D
from nuplan.planning.scenario_builder.scenario_filter import ScenarioFilter
from nuplan.planning.scenario_builder.test.mock_abstract_scenario import MockAbstractScenario
from nuplan.planning.scenario_builder.test.mock_abstract_scenario_builder import MockAbstractScenarioBuilder
from nuplan.planning.simulation.planner.abstract_planner import PlannerInput
from nuplan.planning.simulation.planner.simple_planner import SimplePlanner
from nuplan.planning.simulation.trajectory.abstract_trajectory import AbstractTrajectory
from nuplan.planning.utils.multithreading.worker_pool import WorkerPool


class NamedMockScenario(MockAbstractScenario):
    """nuPlan's mock scenario with a past (its simulation needs 3 s of history) and its own name and token."""

    def __init__(self, index: int) -> None:
        super().__init__(number_of_past_iterations=10, number_of_future_iterations=20,
                         initial_velocity=StateVector2D(x=1.0 + 0.5 * index, y=0.0))
        self._index = index

    @property
    def token(self) -> str:
        return f"mock_token_{self._index}"

    @property
    def scenario_name(self) -> str:
        return f"mock_scenario_{self._index}"

    @property
    def log_name(self) -> str:
        return f"mock_log_{self._index}"


class NamedMockScenarioBuilder(MockAbstractScenarioBuilder):
    """``num_scenarios`` NamedMockScenarios (nuPlan's executor keys reports by names: they must differ)."""

    def get_scenarios(self, scenario_filter: ScenarioFilter, worker: WorkerPool) -> list[Any]:
        return [NamedMockScenario(index) for index in range(self.num_scenarios)]


class BallastPlanner(SimplePlanner):
    """SimplePlanner holding ``megabytes`` of memory, as a learned planner holds its weights; it appends the id of
    the process that builds it to ``$BUILD_LOG`` (where builds happen: the driver or a worker)."""

    def __init__(self, megabytes: int = 50, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._ballast = np.ones(megabytes * 2**20 // 8)  # written, so resident
        if os.environ.get("BUILD_LOG"):
            with open(os.environ["BUILD_LOG"], "a") as log:
                log.write(f"{os.getpid()}\n")


class RaisingPlanner(SimplePlanner):
    """Raises at its first step: nuPlan's run_simulation turns that into a failed report."""

    def compute_planner_trajectory(self, current_input: PlannerInput) -> AbstractTrajectory:
        raise RuntimeError("RaisingPlanner raised on purpose")


class ExitingPlanner(SimplePlanner):
    """Kills the process it runs in at its first step (a segfault in a planner's native code, say)."""

    def compute_planner_trajectory(self, current_input: PlannerInput) -> AbstractTrajectory:
        os._exit(17)
