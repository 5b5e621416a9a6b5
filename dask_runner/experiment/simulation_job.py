"""The simulate job: one SimulationRunner per (scenario, planner), run through the job skeleton (``job.py``)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, TextIO

from dask_runner.experiment.config_loading import SIMULATION_CONFIG, compose_config
from dask_runner.experiment.job import JobKind, JobResult, run_job

if TYPE_CHECKING:
    from omegaconf import DictConfig

    from dask_runner.runner.abstract_runner import AbstractRunner


def build_runners(cfg: DictConfig, metrics_dir: str) -> list[AbstractRunner]:
    """One SimulationRunner per (scenario, planner), with the configured callbacks and, if on, the metric callback."""
    import functools

    from dask_runner.experiment.challenges import check_challenge_parts
    from dask_runner.experiment.components import (
        build_callback_factories,
        build_metric_engine_from_config,
        build_planner_factories,
        build_scenario_part_factory,
        build_scenarios,
    )
    from dask_runner.runner.simulation_builder import build_simulation_runners

    planner_factories = build_planner_factories(cfg)
    callback_factories = build_callback_factories(cfg)
    if cfg.run_metric:  # first: a metric set that its aggregator does not match is the first conflict to name
        from dask_runner.simulation.callback.metric_callback import MetricCallback

        engine = build_metric_engine_from_config(cfg)
        callback_factories.append(functools.partial(MetricCallback, engine, metrics_dir))
    check_challenge_parts(cfg)
    ego_controller = build_scenario_part_factory(cfg, "ego_controller")
    observation = build_scenario_part_factory(cfg, "observation")
    scenarios = build_scenarios(cfg)
    return list(build_simulation_runners(
        scenarios, planner_factories, callback_factories,
        ego_controller=ego_controller or "two_stage", observation=observation or "tracks",
    ))


def _describe(cfg: DictConfig, runners: Sequence[AbstractRunner]) -> str:
    return (f"Simulating {len(runners)} runners ({len({r.scenario.token for r in runners})} scenarios x planners "
            f"{list(cfg.planner)})")


SIMULATION_JOB = JobKind("simulation", lambda cfg, layout: build_runners(cfg, str(layout.metrics_dir)), _describe)


def run_simulation_job(cfg: DictConfig, out: TextIO = sys.stdout) -> JobResult:
    """Run the simulations ``cfg`` describes (``default_simulation`` plus overrides) and write every output.

    Everything is checked and built before the output folder is touched; with ``resume=true`` runners
    already reported in the folder are skipped. Reports reach disk one by one as runners finish.
    """
    return run_job(SIMULATION_JOB, cfg, out)


def simulate(overrides: Sequence[str] = (), out: TextIO = sys.stdout) -> JobResult:
    """``dask-runner simulate`` from Python: compose ``default_simulation`` with ``overrides`` and run it."""
    return run_simulation_job(compose_config(SIMULATION_CONFIG, overrides), out)
