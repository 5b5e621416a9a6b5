"""The scenario builders the ``scenario_builder`` config group names: each takes the scenario filter."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dask_runner.scenarios.abstract_scenario import AbstractScenario
    from dask_runner.scenarios.scenario_filter import ScenarioFilter


def synthetic_scenarios(scenario_filter: ScenarioFilter, default_count: int = 16) -> list[AbstractScenario]:
    """Generated scenarios of every type the filter allows (``default_count`` when it sets no limit)."""
    from dask_runner.scenarios.scenario_filter import build_synthetic_scenarios

    return list(build_synthetic_scenarios(scenario_filter, default_count=default_count))


def commonroad_scenarios(scenario_filter: ScenarioFilter, path: str | None = None) -> list[AbstractScenario]:
    """Recorded CommonRoad scenarios from ``path`` (a file or folder; default: the NGSIM data folder), filtered."""
    from dask_runner.scenarios.commonroad import load_commonroad_scenarios
    from dask_runner.scenarios.scenario_filter import filter_scenarios

    scenarios = load_commonroad_scenarios(None if path is None else Path(path).expanduser())
    return list(filter_scenarios(scenarios, scenario_filter))
