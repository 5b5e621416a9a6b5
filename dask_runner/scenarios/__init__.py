"""Scenarios: the map and scenario model, the synthetic generator and scenario filters."""

from dask_runner.scenarios.abstract_map import AbstractMap, Lane
from dask_runner.scenarios.abstract_scenario import AbstractScenario
from dask_runner.scenarios.map import ArrayMap
from dask_runner.scenarios.scenario import Scenario
from dask_runner.scenarios.scenario_filter import (
    ScenarioFilter,
    build_synthetic_scenarios,
    filter_scenarios,
    parse_scenario_name,
)
from dask_runner.scenarios.scenario_ref import LazyScenario
from dask_runner.scenarios.synthetic import (
    NUM_ITERATIONS,
    SCENARIO_TYPES,
    generate_scenario,
    scenario_token,
    synthetic_scenario_ref,
)

__all__ = [
    "NUM_ITERATIONS",
    "SCENARIO_TYPES",
    "AbstractMap",
    "AbstractScenario",
    "ArrayMap",
    "Lane",
    "LazyScenario",
    "Scenario",
    "ScenarioFilter",
    "build_synthetic_scenarios",
    "filter_scenarios",
    "generate_scenario",
    "parse_scenario_name",
    "scenario_token",
    "synthetic_scenario_ref",
]
