"""The parts of one simulation (clock, observations, ego controller, scenario), reset together."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from dask_runner.errors import ConfigError
from dask_runner.scenarios.abstract_scenario import AbstractScenario
from dask_runner.simulation.controller.abstract_controller import AbstractEgoController
from dask_runner.simulation.observation.abstract_observation import AbstractObservation
from dask_runner.simulation.time_controller import StepSimulationTimeController

if TYPE_CHECKING:
    from dask_runner.planners.abstract_planner import AbstractPlanner


@dataclass
class SimulationSetup:
    """nuPlan's SimulationSetup; callbacks receive it at every hook."""

    time_controller: StepSimulationTimeController
    observations: AbstractObservation
    ego_controller: AbstractEgoController
    scenario: AbstractScenario

    def reset(self) -> None:
        """Back to the scenario's first iteration, ready to run again."""
        self.time_controller.reset()
        self.observations.reset()
        self.ego_controller.reset()


def validate_planner_setup(setup: SimulationSetup, planner: AbstractPlanner) -> None:
    """Fail before running when the planner expects another kind of observation than the setup gives."""
    expected, given = planner.observation_type(), setup.observations.observation_type()
    if expected is not given:
        raise ConfigError(
            f"planner {planner.name()!r} expects observations of type {expected.__name__} but the simulation "
            f"provides {given.__name__}; choose an observation that provides {expected.__name__}"
        )
