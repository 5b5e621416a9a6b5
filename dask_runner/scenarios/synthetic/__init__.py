"""Deterministic generator of synthetic scenarios, so every part of dask_runner works with no dataset.

A scenario is 15 s at 10 Hz: ``NUM_ITERATIONS`` = 151 iterations, times 0.0 s to 15.0 s inclusive.
Maps are straight or curved one-way roads (2-4 lanes, split into 100 m sections) or a signalised
4-way intersection with split phasing (one approach green at a time, so movements never cross).
All vehicles, the expert ego included, are driven by one vectorised car-following simulation
(IDM with jerk limits, curve-speed anticipation and traffic-light stops) along lane paths; agents
that still come too close to the ego or to each other are dropped, so the expert's log replay is a
good, collision-free drive. Same (type, seed) gives the identical scenario on every machine.

The package splits along those lines: ``road_geometry`` (the maps), ``recipes`` (the scenario types),
``scene`` (what a recipe hands the solver), ``car_following`` (the solver), ``agent_pruning`` (the
safety filter) and ``generator`` (identity, seeding and assembly), so each can be read on its own.
Only the names below are public; the underscored helpers in the modules are shared inside the package.
"""

from dask_runner.scenarios.synthetic.constants import DT, MAX_AGENTS, NUM_ITERATIONS
from dask_runner.scenarios.synthetic.generator import (
    generate_scenario,
    log_name,
    scenario_name,
    scenario_token,
    synthetic_scenario_ref,
)
from dask_runner.scenarios.synthetic.recipes import SCENARIO_TYPES

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
