"""execute_runners: run a batch of runners on a worker pool and return exactly one report per runner.

Fixes over nuPlan's executor: reports are kept by position (never collapsed by names) and carry a
runner id unique within the batch; callback work runs as tasks of its own and its failure reaches the
report on every pool; a failed runner is data, not the end of the batch; each report is handed to
``on_report`` as soon as it is final. The machinery lives in :mod:`dask_runner.execution.batch_execution`;
each pool's ``execute_runners`` picks its strategy.
"""

from __future__ import annotations

import logging
from typing import Sequence

from dask_runner.execution.batch_execution import ExecutionOptions, ReportHook, validate_request
from dask_runner.execution.worker_pool import WorkerPool
from dask_runner.runner.abstract_runner import AbstractRunner
from dask_runner.runner.report import RunnerReport
from dask_runner.runner.run_simulation import run_simulation

logger = logging.getLogger(__name__)


def execute_runners(
    runners: Sequence[AbstractRunner],
    worker: WorkerPool,
    num_gpus: float | None = None,
    num_cpus: int | None = None,
    exit_on_failure: bool = False,
    verbose: bool = False,
    *,
    on_report: ReportHook | None = None,
    time_limit_s: float | None = None,
    experiment_name: str | None = None,
) -> list[RunnerReport]:
    """Run ``runners`` on ``worker``; returns exactly ``len(runners)`` reports in input order.

    ``num_gpus``/``num_cpus`` are what one runner needs (0.25 GPU lets four share a GPU).
    ``on_report`` is called with each report as soon as it is final (callback work included).
    ``exit_on_failure`` cancels what is outstanding at the first failure and raises
    SimulationFailedError from the original exception; reports already final have gone to ``on_report``.
    Runners without a ``runner_id`` get one (see ``assign_runner_ids``); ids given by hand must be unique.
    ``experiment_name`` names the batch on the Dask dashboard's Simulations page (default: script and time).
    """
    validate_request(runners, num_gpus, num_cpus)
    options = ExecutionOptions(num_gpus, num_cpus, exit_on_failure, verbose, on_report, time_limit_s, experiment_name)
    logger.info("Executing %d runners on %r", len(runners), worker)
    return worker.execute_runners(runners, options)


__all__ = ["execute_runners", "run_simulation"]
