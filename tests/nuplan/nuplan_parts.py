"""Parts for running nuplan-devkit's own scripts without its dataset; imported by nuPlan's process only.

Nothing here stands in for nuPlan: these are a scenario builder and planners written against nuPlan's
real classes, selected by ``_target_`` overrides, as a nuPlan user would write their own.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from nuplan.common.actor_state.state_representation import StateSE2, StateVector2D
from nuplan.common.maps.abstract_map import AbstractMap
from nuplan.planning.scenario_builder.scenario_filter import ScenarioFilter
from nuplan.planning.scenario_builder.test.mock_abstract_scenario import MockAbstractScenario
from nuplan.planning.scenario_builder.test.mock_abstract_scenario_builder import MockAbstractScenarioBuilder
from nuplan.planning.simulation.planner.abstract_planner import PlannerInput
from nuplan.planning.simulation.planner.simple_planner import SimplePlanner
from nuplan.planning.simulation.trajectory.abstract_trajectory import AbstractTrajectory
from nuplan.planning.utils.multithreading.worker_pool import WorkerPool


class NamedMockScenario(MockAbstractScenario):
    """nuPlan's mock scenario with a past (its simulation needs 3 s of history) and its own name and token."""

    def __init__(self, index: int, **mock: Any) -> None:
        super().__init__(number_of_past_iterations=10, number_of_future_iterations=20,
                         initial_velocity=StateVector2D(x=1.0 + 0.5 * index, y=0.0), **mock)
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


class MappedMockScenario(NamedMockScenario):
    """A NamedMockScenario on the one-road map of ``synthetic_map.py`` (in ``$NUPLAN_MAPS_ROOT``), ego in the
    middle of its left lane heading along it, routed along its roadblock: what map-reading planners need."""

    def __init__(self, index: int) -> None:
        from synthetic_map import LANE_WIDTH

        super().__init__(index, initial_ego_state=StateSE2(x=0.0, y=LANE_WIDTH / 2, heading=0.0),
                         mission_goal=StateSE2(500.0, LANE_WIDTH / 2, 0.0), number_of_detections=0)

    @property
    def map_api(self) -> AbstractMap:
        from nuplan.common.maps.nuplan_map.map_factory import get_maps_api
        from synthetic_map import LOCATIONS, MAP_VERSION

        return get_maps_api(os.environ["NUPLAN_MAPS_ROOT"], MAP_VERSION, LOCATIONS[1])

    def get_route_roadblock_ids(self) -> list[str]:
        from synthetic_map import ROADBLOCK_ID

        return [ROADBLOCK_ID]


class MappedMockScenarioBuilder(MockAbstractScenarioBuilder):
    """``num_scenarios`` MappedMockScenarios."""

    def get_scenarios(self, scenario_filter: ScenarioFilter, worker: WorkerPool) -> list[Any]:
        return [MappedMockScenario(index) for index in range(self.num_scenarios)]


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
