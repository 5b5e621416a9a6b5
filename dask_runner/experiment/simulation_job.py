"""The simulate job as a function: config in, simulations run on the configured worker, results on disk."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, TextIO

from dask_runner.experiment.batch import (
    JobResult,
    execute_pending,
    finish_job,
    pending_runners,
    prepare_job_output,
    resolve_output_dir,
)
from dask_runner.experiment.config_loading import SIMULATION_CONFIG, compose_config
from dask_runner.io.driver_log import driver_log
from dask_runner.io.report_store import ReportStore

if TYPE_CHECKING:
    from omegaconf import DictConfig

    from dask_runner.runner.abstract_runner import AbstractRunner

logger = logging.getLogger("dask_runner")


def build_runners(cfg: DictConfig, metrics_dir: str) -> list[AbstractRunner]:
    """One SimulationRunner per (scenario, planner), with the configured callbacks and, if on, the metric callback."""
    import functools

    from dask_runner.experiment.components import (
        build_callback_factories,
        build_metric_engine_from_config,
        build_planner_factories,
        build_scenarios,
    )
    from dask_runner.simulation.builder import build_simulation_runners

    planner_factories = build_planner_factories(cfg)
    callback_factories = build_callback_factories(cfg)
    if cfg.run_metric:
        from dask_runner.simulation.callback.metric_callback import MetricCallback

        engine = build_metric_engine_from_config(cfg)
        callback_factories.append(functools.partial(MetricCallback, engine, metrics_dir))
    scenarios = build_scenarios(cfg)
    return list(build_simulation_runners(scenarios, planner_factories, callback_factories))


def run_simulation_job(cfg: DictConfig, out: TextIO = sys.stdout) -> JobResult:
    """Run the simulations ``cfg`` describes (``default_simulation`` plus overrides) and write every output.

    Configuration and scenarios are built first and the output folder checked next, both before any
    simulation starts; with ``resume=true`` runners already reported in the folder are skipped.
    Reports reach disk one by one as runners finish.
    """
    layout = resolve_output_dir(cfg)
    runners = build_runners(cfg, str(layout.metrics_dir))
    layout = prepare_job_output(cfg, layout)
    store = ReportStore(layout.reports_dir)
    print(f"Output folder: {layout.root}", file=out, flush=True)
    with driver_log(layout.logs_dir, "simulation", verbose=bool(cfg.verbose)):
        logger.info("Simulating %d runners (%d scenarios x planners %s)", len(runners),
                    len({r.scenario.token for r in runners}), list(cfg.planner))
        todo = pending_runners(runners, store, bool(cfg.resume))
        try:
            if todo:
                from dask_runner.experiment.components import build_worker

                with build_worker(cfg) as worker:
                    execute_pending(cfg, todo, worker, store, out)
            else:
                print(f"All {len(runners)} runners are already reported; nothing to run.", file=out)
        except BaseException as exc:  # interrupted or stopped: leave a consistent runner_report.parquet behind
            logger.info("Job stopped by %s", type(exc).__name__, exc_info=not isinstance(exc, KeyboardInterrupt))
            store.consolidate(layout.runner_report)
            raise
        return finish_job(cfg, layout, store, ran=len(todo), skipped=len(runners) - len(todo), out=out)


def simulate(overrides: Sequence[str] = (), out: TextIO = sys.stdout) -> JobResult:
    """``dask-runner simulate`` from Python: compose ``default_simulation`` with ``overrides`` and run it."""
    return run_simulation_job(compose_config(SIMULATION_CONFIG, overrides), out)
