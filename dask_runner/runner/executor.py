"""execute_runners: run a batch of runners on a worker pool and return exactly one report per runner.

Fixes over nuPlan's executor: reports are kept by position (never collapsed by names); callback work
runs as tasks of its own and its failure reaches the report on every pool; a failed runner is data,
not the end of the batch; each report is handed to ``on_report`` as soon as it is final.
"""

from __future__ import annotations

import logging
import traceback
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence

from dask_runner.errors import ConfigError
from dask_runner.runner.abstract_runner import AbstractRunner
from dask_runner.runner.progress import BatchProgress, log_batch_summary
from dask_runner.runner.report import RunnerReport
from dask_runner.runner.run_simulation import (
    CallbackResult,
    failed_report,
    raise_for_failure,
    run_callback_work,
    simulate,
    with_callback_results,
)
from dask_runner.workers.pool import Task, WorkerPool

logger = logging.getLogger(__name__)

ReportHook = Callable[[RunnerReport], None]


@dataclass(frozen=True)
class ExecutionOptions:
    """How a batch runs; pools read it in ``WorkerPool.execute_runners``."""

    num_gpus: float | None = None
    num_cpus: int | None = None
    exit_on_failure: bool = False
    verbose: bool = False
    on_report: ReportHook | None = None
    time_limit_s: float | None = None


class BatchState:
    """Final reports by position, the progress bar and the per-report hook, shared by every backend."""

    def __init__(self, runners: Sequence[AbstractRunner], options: ExecutionOptions) -> None:
        self.runners = runners
        self.options = options
        self.reports: list[RunnerReport | None] = [None] * len(runners)
        self.progress = BatchProgress(len(runners), options.verbose)

    def finalize(self, index: int, report: RunnerReport, cause: BaseException | None = None) -> None:
        """Record the final report of runner ``index``; with ``exit_on_failure`` a failure raises here."""
        if self.reports[index] is not None:
            raise AssertionError(f"runner {index} was reported twice")  # a bug of ours, never user input
        self.reports[index] = report
        self.progress.update(report)
        if self.options.on_report is not None:
            self.options.on_report(report)
        if self.options.exit_on_failure and not report.succeeded:
            raise_for_failure(report, cause)

    def finished(self) -> list[RunnerReport]:
        self.progress.close()
        missing = [i for i, r in enumerate(self.reports) if r is None]
        if missing:
            raise AssertionError(f"runners {missing} got no report")
        return [r for r in self.reports if r is not None]


def infrastructure_failure(runner: AbstractRunner, pool: object, exc: BaseException) -> RunnerReport:
    """A report for a runner the pool could not run at all (most often: it does not pickle)."""
    detail = "".join(traceback.format_exception(exc))
    return failed_report(
        runner,
        f"{type(pool).__name__} could not run this runner: {type(exc).__name__}: {exc}\n"
        "Runners sent to other processes must pickle (and their classes be importable there).\n" + detail,
        "simulation",
    )


def execute_with_futures(
    pool: WorkerPool, runners: Sequence[AbstractRunner], options: ExecutionOptions
) -> list[RunnerReport]:
    """The generic strategy over ``pool.submit``: simulation tasks, then each runner's callback tasks.

    At most a few runners per pool thread are in flight, so memory stays flat however long the batch.
    """
    state = BatchState(runners, options)
    sim_task = Task(simulate, num_cpus=options.num_cpus, num_gpus=options.num_gpus)
    callback_task = Task(run_callback_work)
    limit = max(2, 2 * pool.number_of_threads)
    todo: Iterator[int] = iter(range(len(runners)))
    pending: dict[Future[Any], int] = {}
    waiting: dict[int, tuple[RunnerReport, list[Future[Any]]]] = {}

    def submit_next() -> None:
        while len(set(pending.values())) < limit:
            index = next(todo, None)
            if index is None:
                return
            pending[pool.submit(sim_task, runners[index], options.time_limit_s)] = index

    try:
        submit_next()
        while pending:
            done, _ = wait(list(pending), return_when=FIRST_COMPLETED)
            for future in sorted(done, key=pending.__getitem__):  # input order: deterministic on Sequential
                if future not in pending:
                    continue  # a callback future already consumed with its runner's last one
                index = pending.pop(future)
                if index in waiting:
                    report, callback_futures = waiting[index]
                    if all(f.done() for f in callback_futures):
                        del waiting[index]
                        for callback_future in callback_futures:
                            pending.pop(callback_future, None)
                        results = [_callback_result(f) for f in callback_futures]
                        final = with_callback_results(report, results)
                        state.finalize(index, final, next((r.exception for r in results if r.exception), None))
                    continue
                try:
                    outcome = future.result()
                except Exception as exc:
                    state.finalize(index, infrastructure_failure(runners[index], pool, exc), exc)
                    continue
                if not outcome.work:
                    state.finalize(index, outcome.report, outcome.exception)
                    continue
                callback_futures = [pool.submit(callback_task, work) for work in outcome.work]
                waiting[index] = (outcome.report, callback_futures)
                for callback_future in callback_futures:
                    pending[callback_future] = index
            submit_next()
    except BaseException:
        for future in pending:
            future.cancel()
        raise
    reports = state.finished()
    log_batch_summary(reports)
    return reports


def _callback_result(future: Future[Any]) -> CallbackResult:
    try:
        result = future.result()
    except Exception as exc:  # the work could not be sent or run at all
        return CallbackResult("callback", "".join(traceback.format_exception(exc)), exc)
    assert isinstance(result, CallbackResult)
    return result


def validate_request(runners: Sequence[AbstractRunner], num_gpus: float | None, num_cpus: int | None) -> None:
    if len(runners) == 0:
        raise ConfigError("execute_runners() got no runners: build at least one (check the scenario filter)")
    if num_gpus is not None and num_gpus < 0:
        raise ConfigError(f"num_gpus must be >= 0 (a share of one GPU such as 0.25, or whole GPUs), got {num_gpus}")
    if num_cpus is not None and num_cpus < 1:
        raise ConfigError(f"num_cpus must be a whole number >= 1 or None, got {num_cpus}")


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
) -> list[RunnerReport]:
    """Run ``runners`` on ``worker``; returns exactly ``len(runners)`` reports in input order.

    ``num_gpus``/``num_cpus`` are what one runner needs (0.25 GPU lets four share a GPU).
    ``on_report`` is called with each report as soon as it is final (callback work included).
    ``exit_on_failure`` cancels what is outstanding at the first failure and raises
    SimulationFailedError from the original exception; reports already final have gone to ``on_report``.
    """
    validate_request(runners, num_gpus, num_cpus)
    options = ExecutionOptions(num_gpus, num_cpus, exit_on_failure, verbose, on_report, time_limit_s)
    logger.info("Executing %d runners on %r", len(runners), worker)
    return worker.execute_runners(runners, options)
