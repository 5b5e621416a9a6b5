"""The synthetic scenario generator, as a package so its concerns can live in modules of their own."""

from dask_runner.scenarios.synthetic.recipes import (
    DT,
    MAX_AGENTS,
    NUM_ITERATIONS,
    SCENARIO_TYPES,
    generate_scenario,
    log_name,
    scenario_name,
    scenario_token,
    synthetic_scenario_ref,
)

__all__ = [
    "DT",
    "MAX_AGENTS",
    "NUM_ITERATIONS",
    "SCENARIO_TYPES",
    "generate_scenario",
    "log_name",
    "scenario_name",
    "scenario_token",
    "synthetic_scenario_ref",
]
