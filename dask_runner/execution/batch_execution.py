"""The batch machinery every pool shares: options, runner ids, final reports, and the generic futures loop.

It sits below both the pools (``workers/``) and ``execute_runners`` (``runner/executor.py``): pools call
:func:`execute_with_futures` or build their own loop on :class:`BatchState`; the executor only picks the
pool. Nothing here imports a pool.
"""

from __future__ import annotations

import collections
import logging
import traceback
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, replace
from typing import Any, Callable, Iterator, Protocol, Sequence

from dask_runner.errors import ConfigError
from dask_runner.execution.progress import BatchProgress, log_batch_summary
from dask_runner.execution.task import Task
from dask_runner.runner.abstract_runner import AbstractRunner
from dask_runner.runner.report import RunnerReport
from dask_runner.runner.run_simulation import (
    CallbackResult,
    failed_report,
    raise_for_failure,
    run_callback_work,
    runner_names,
    simulate,
    simulate_for_transfer,
    with_callback_results,
)

logger = logging.getLogger(__name__)

ReportHook = Callable[[RunnerReport], None]


class BatchObserver(Protocol):
    """What a watcher of one batch is told (the Dask dashboard's Simulations page is one); the loop that runs
    the batch calls it, it never steers the batch. Calls come from the loop's thread and must return at once."""

    def began(self) -> None:
        """The batch starts; nothing was submitted yet."""

    def submitted(self, indices: Sequence[int]) -> None:
        """The runners at ``indices`` were handed to the cluster (again, for a re-run)."""

    def rerun(self, count: int, reason: str) -> None:
        """``count`` runners will run again, for ``reason`` (a worker death, a group that failed as a whole)."""

    def reported(self, report: RunnerReport) -> None:
        """A runner's final report (before the batch's ``on_report`` hook sees it)."""

    def ended(self, reports: Sequence[RunnerReport] | None) -> None:
        """The batch ended with ``reports``, or was stopped (None: an error, Ctrl-C, the first failure)."""


class NoObserver:
    """The observer of a batch nobody watches."""

    def began(self) -> None:
        pass

    def submitted(self, indices: Sequence[int]) -> None:
        pass

    def rerun(self, count: int, reason: str) -> None:
        pass

    def reported(self, report: RunnerReport) -> None:
        pass

    def ended(self, reports: Sequence[RunnerReport] | None) -> None:
        pass


NO_OBSERVER: BatchObserver = NoObserver()


@dataclass(frozen=True)
class ExecutionOptions:
    """How a batch runs; pools read it in ``WorkerPool.execute_runners``."""

    num_gpus: float | None = None
    num_cpus: int | None = None
    exit_on_failure: bool = False
    verbose: bool = False
    on_report: ReportHook | None = None
    time_limit_s: float | None = None
    experiment_name: str | None = None  # tells batches apart on the Dask dashboard's Simulations page
    # Which failures end the batch (SimulationFailedError from the original exception); exit_on_failure: all.
    # Called with the failed report and its cause (the exception, where it could travel).
    stop_on_failure: Callable[[RunnerReport, BaseException | None], bool] | None = None
    items: str = "simulations"  # what the batch's runners are, in its summary ("calls of cache_scenarios")

    def ends_batch(self, report: RunnerReport, cause: BaseException | None) -> bool:
        if report.succeeded:
            return False
        return self.exit_on_failure or (self.stop_on_failure is not None and self.stop_on_failure(report, cause))


class SubmittingPool(Protocol):
    """What the generic loop needs of a pool (every ``WorkerPool`` has it)."""

    @property
    def number_of_threads(self) -> int: ...

    def submit(self, task: Task, *args: Any, **kwargs: Any) -> Future[Any]: ...


def assign_runner_ids(runners: Sequence[AbstractRunner]) -> list[str]:
    """Every runner's id; runners without one (nuPlan's define none) get ``<planner>-<log>-<scenario>-<n>``.

    ``n`` counts runners with the same names in input order, so the ids are the same for the same input
    order (``resume`` works for library users: call this, drop the runners already reported, run the
    rest). The id is also set on the runner where it allows it, so it travels with the runner. Ids given
    by hand must be unique within the batch: duplicates are refused before anything runs.
    """
    given = [str(getattr(runner, "runner_id", "") or "") for runner in runners]
    first_position: dict[str, int] = {}
    for position, runner_id in enumerate(given):
        if not runner_id:
            continue
        if runner_id in first_position:
            raise ConfigError(
                f"runners {first_position[runner_id]} and {position} share runner_id {runner_id!r}; reports are "
                "keyed by it, so give each runner its own runner_id, or none (one is then assigned)"
            )
        first_position[runner_id] = position
    taken = set(first_position)
    occurrences: collections.Counter[str] = collections.Counter()
    ids = []
    for runner, runner_id in zip(runners, given):
        if not runner_id:
            scenario, planner, log = runner_names(runner)
            stem = f"{planner}-{log}-{scenario}" if log != scenario else f"{planner}-{scenario}"
            while not runner_id or runner_id in taken:
                runner_id = f"{stem}-{occurrences[stem]}"
                occurrences[stem] += 1
            taken.add(runner_id)
            try:
                runner.runner_id = runner_id
            except AttributeError:  # a read-only property or __slots__: the batch keeps the id itself
                pass
        ids.append(runner_id)
    return ids


class BatchState:
    """Final reports by position, the runner ids, the progress bar, the observer and the per-report hook of one
    batch."""

    def __init__(self, runners: Sequence[AbstractRunner], options: ExecutionOptions,
                 observer: BatchObserver = NO_OBSERVER) -> None:
        self.runners = runners
        self.options = options
        self.observer = observer
        self.ids = assign_runner_ids(runners)
        self.reports: list[RunnerReport | None] = [None] * len(runners)
        self.progress = BatchProgress(len(runners), options.verbose)

    def finalize(self, index: int, report: RunnerReport, cause: BaseException | None = None) -> None:
        """Record the final report of runner ``index``; with ``exit_on_failure`` a failure raises here."""
        if self.reports[index] is not None:
            raise AssertionError(f"runner {index} was reported twice")  # a bug of ours, never user input
        if report.runner_id != self.ids[index]:
            report = replace(report, runner_id=self.ids[index])
        self.reports[index] = report
        self.progress.update(report)
        self.observer.reported(report)
        if self.options.on_report is not None:
            self.options.on_report(report)
        if self.options.ends_batch(report, cause):
            raise_for_failure(report, cause)

    def finished(self) -> list[RunnerReport]:
        """Every report, in input order; the batch has ended (the observer is told)."""
        self.progress.close()
        missing = [i for i, r in enumerate(self.reports) if r is None]
        if missing:
            raise AssertionError(f"runners {missing} got no report")
        reports = [r for r in self.reports if r is not None]
        self.observer.ended(reports)
        return reports

    def stopped(self) -> None:
        """The batch was stopped before every runner had a report (an error, Ctrl-C, the first failure)."""
        self.progress.close()
        self.observer.ended(None)


def infrastructure_failure(runner: AbstractRunner, pool: object, exc: BaseException) -> RunnerReport:
    """A report for a runner the pool could not run at all (most often: it does not pickle)."""
    detail = "".join(traceback.format_exception(exc))
    return failed_report(
        runner,
        f"{type(pool).__name__} could not run this runner: {type(exc).__name__}: {exc}\n"
        "Runners sent to other processes must pickle (no locks, open files or sockets in their attributes; "
        "build those in run()), and their classes must be importable there.\n" + detail,
        "simulation",
    )


def validate_request(runners: Sequence[AbstractRunner], num_gpus: float | None, num_cpus: int | None) -> None:
    if len(runners) == 0:
        raise ConfigError("execute_runners() got no runners: build at least one (check the scenario filter)")
    if num_gpus is not None and num_gpus < 0:
        raise ConfigError(f"num_gpus must be >= 0 (a share of one GPU such as 0.25, or whole GPUs), got {num_gpus}")
    if num_cpus is not None and num_cpus < 1:
        raise ConfigError(f"num_cpus must be a whole number >= 1 or None, got {num_cpus}")


def execute_with_futures(
    pool: SubmittingPool, runners: Sequence[AbstractRunner], options: ExecutionOptions, results_travel: bool = False,
) -> list[RunnerReport]:
    """The generic strategy over ``pool.submit``: simulation tasks, then each runner's callback tasks.

    At most a few runners per pool thread are in flight, so memory stays flat however long the batch.
    With ``results_travel`` (the pool runs tasks in other processes) each result is checked where it was
    made: a report or callback work that does not pickle fails its own runner, with the right stage.
    """
    state = BatchState(runners, options)
    sim_task = Task(simulate_for_transfer if results_travel else simulate, num_cpus=options.num_cpus,
                    num_gpus=options.num_gpus)
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
    log_batch_summary(reports, options.items)
    return reports


def _callback_result(future: Future[Any]) -> CallbackResult:
    try:
        result = future.result()
    except Exception as exc:  # the work could not be sent or run at all
        return CallbackResult("callback", "".join(traceback.format_exception(exc)), exc)
    assert isinstance(result, CallbackResult)
    return result
