"""Running one runner without letting it raise: failures become reports (nuPlan's run_simulation).

The executor splits a run in two: :func:`simulate` runs the simulation and collects the callbacks'
deferred work; :func:`run_callback_work` runs one piece of that work as a task of its own; and
:func:`with_callback_results` folds the callback outcomes into the final report.
"""

from __future__ import annotations

import logging
import os
import pickle
import socket
import sys
import time
import traceback
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Generator, Protocol, Sequence, runtime_checkable

from dask_runner.errors import RunnerTimeoutError, SimulationFailedError
from dask_runner.runner.abstract_runner import AbstractRunner
from dask_runner.runner.report import ErrorStage, RunnerReport
from dask_runner.runner.time_limit import time_limit
from dask_runner.simulation.callback.abstract_callback import CallbackWork, collect_callback_work

if TYPE_CHECKING:
    from dask_runner.planners.abstract_planner import PlannerInput
    from dask_runner.runner.simulation_runner import SimulationRunner
    from dask_runner.scenarios.state import Trajectory

logger = logging.getLogger(__name__)


@dataclass
class SimulationOutcome:
    """What a simulation task returns: the report, the deferred callback work, and the exception if it failed."""

    report: RunnerReport
    work: list[CallbackWork | PickledWork | UnsendableWork] = field(default_factory=list)
    exception: BaseException | None = None


@dataclass(frozen=True)
class CallbackResult:
    name: str
    error_message: str | None = None
    exception: BaseException | None = None

    @property
    def succeeded(self) -> bool:
        return self.error_message is None


def current_worker() -> str:
    """Where this code runs: the Dask worker's address inside a Dask worker, else host:pid."""
    if "distributed" in sys.modules:
        try:
            from distributed import get_worker

            return str(get_worker().address)
        except ValueError:
            pass
    return f"{socket.gethostname()}:{os.getpid()}"


@runtime_checkable
class NamesItsReports(Protocol):
    """Work that is not a simulation of one scenario (a mapped call) says what its reports are named."""

    def report_names(self) -> tuple[str, str, str]: ...


def runner_names(runner: Any) -> tuple[str, str, str]:
    """(scenario_name, planner_name, log_name), best effort: used to report runners that failed early."""
    if isinstance(runner, NamesItsReports):
        return runner.report_names()
    scenario = _safe(lambda: runner.scenario)
    planner = _safe(lambda: runner.planner)
    planner_name = _safe(lambda: planner.name()) if planner is not None and hasattr(planner, "name") else None
    return (
        str(getattr(scenario, "scenario_name", "unknown")),
        str(planner_name if planner_name is not None else type(runner).__name__),
        str(getattr(scenario, "log_name", "unknown")),
    )


def _safe(fn: Any) -> Any:
    try:
        return fn()
    except Exception:
        return None


def failed_report(
    runner: AbstractRunner, error_message: str, stage: ErrorStage, start_time: float | None = None,
    worker: str | None = None,
) -> RunnerReport:
    """A failed report for ``runner`` built in the driver or the worker, with every name we can get."""
    scenario_name, planner_name, log_name = runner_names(runner)
    now = time.time()
    return RunnerReport(
        succeeded=False,
        error_message=error_message,
        start_time=now if start_time is None else start_time,
        end_time=now,
        planner_report=None,
        scenario_name=scenario_name,
        planner_name=planner_name,
        log_name=log_name,
        runner_id=str(getattr(runner, "runner_id", "")),
        error_stage=stage,
        worker=worker,
    )


def _portable(exc: BaseException) -> BaseException | None:
    """The exception if it can travel back from another process, else None (its traceback text still does)."""
    try:
        pickle.dumps(exc)
    except Exception:
        return None
    return exc


def simulate(runner: AbstractRunner, time_limit_s: float | None = None) -> SimulationOutcome:
    """Run ``runner`` and collect its deferred callback work; never raises for a failing runner."""
    start = time.time()
    worker = current_worker()
    try:
        with time_limit(time_limit_s), collect_callback_work() as work:
            report = runner.run()
    except Exception as exc:
        return _failed_outcome(runner, exc, start, worker)
    return _succeeded_outcome(runner, report, work, worker)


def simulate_steps(
    runner: SimulationRunner, time_limit_s: float | None = None
) -> Generator[PlannerInput, Trajectory, SimulationOutcome]:
    """:func:`simulate` of a SimulationRunner with its planner calls left to the caller (a lockstep group).

    Yields each step's planner input and takes the trajectory; returns the outcome. The time limit and
    the collected callback work live in context variables: resume each runner's generator in a
    ``contextvars.Context`` of its own (``context.run(steps.send, trajectory)``), or runners share them.
    An exception thrown in at a yield (its planner failed) fails this runner only, as in ``simulate``.
    """
    start = time.time()
    worker = current_worker()
    try:
        with time_limit(time_limit_s), collect_callback_work() as work:
            report = yield from runner.run_steps()
    except Exception as exc:
        return _failed_outcome(runner, exc, start, worker)
    return _succeeded_outcome(runner, report, work, worker)


def _failed_outcome(runner: AbstractRunner, exc: Exception, start: float, worker: str) -> SimulationOutcome:
    """Called in the ``except`` block: the report carries the current traceback."""
    stage: ErrorStage = "timeout" if isinstance(exc, RunnerTimeoutError) else "simulation"
    report = failed_report(runner, traceback.format_exc(), stage, start, worker)
    logger.warning("Simulation failed: [log, scenario] = [%s, %s] (%s)", report.log_name,
                   report.scenario_name, stage)
    return SimulationOutcome(report, [], _portable(exc))


def _succeeded_outcome(runner: AbstractRunner, report: RunnerReport, work: list[CallbackWork],
                       worker: str) -> SimulationOutcome:
    report = replace(
        report,
        runner_id=report.runner_id or str(getattr(runner, "runner_id", "")),
        end_time=report.end_time if report.end_time is not None else time.time(),
        worker=worker,
    )
    return SimulationOutcome(report, list(work))


@dataclass(frozen=True)
class PickledWork:
    """Callback work pickled where it was made: the driver passes the bytes on without unpickling them."""

    name: str
    payload: bytes = field(repr=False)

    def run(self) -> Any:
        work = pickle.loads(self.payload)
        return work.run()


@dataclass(frozen=True)
class UnsendableWork:
    """Callback work that could not be pickled: running it fails with the reason, as stage "callback"."""

    name: str
    reason: str

    def run(self) -> Any:
        raise CallbackTransferError(self.reason)


class CallbackTransferError(RuntimeError):
    """Callback work could not be sent from the process that ran the simulation."""


def _pickle_error(what: str, exc: BaseException) -> str:
    return (f"{what} could not be pickled to leave the worker process: {type(exc).__name__}: {exc}. "
            "Everything a runner returns or defers (reports, planner reports, callback work) must pickle "
            "when it runs on a process or Dask pool.")


def simulate_for_transfer(runner: AbstractRunner, time_limit_s: float | None = None) -> SimulationOutcome:
    """:func:`simulate` for a pool whose results go back to another process: each part is checked here.

    A report (with its planner report) that does not pickle becomes a failed report of stage
    "simulation"; callback work that does not pickle fails as stage "callback" when run; the rest of
    the batch never sees the error. The work is pickled once, here, and passed on as bytes.
    """
    outcome = simulate(runner, time_limit_s)
    report = sendable_report(outcome.report)
    if report is not outcome.report:
        return SimulationOutcome(report, [], outcome.exception)
    work: list[CallbackWork | PickledWork | UnsendableWork] = []
    for item in outcome.work:
        try:
            work.append(PickledWork(item.name, pickle.dumps(item, protocol=pickle.HIGHEST_PROTOCOL)))
        except Exception as exc:  # noqa: BLE001  (any pickling failure: the callback fails alone)
            work.append(UnsendableWork(item.name, _pickle_error(f"callback work {item.name!r}", exc)))
    return SimulationOutcome(report, work, outcome.exception)


def sendable_report(report: RunnerReport) -> RunnerReport:
    """``report`` if it pickles, else a failed copy of stage "simulation" that says why (and always pickles)."""
    try:
        pickle.dumps(report, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:  # noqa: BLE001
        what = "the runner's report" + (" (its planner_report)" if report.planner_report is not None else "")
        return replace(report, succeeded=False, planner_report=None, error_stage="simulation",
                       error_message=_pickle_error(what, exc) + "\n" + traceback.format_exc(),
                       end_time=report.end_time if report.end_time is not None else time.time())
    return report


def run_callback_work(work: CallbackWork | PickledWork | UnsendableWork) -> CallbackResult:
    """Run one piece of deferred callback work; a failure is returned, not raised."""
    try:
        work.run()
    except Exception as exc:
        return CallbackResult(work.name, traceback.format_exc(), _portable(exc))
    return CallbackResult(work.name)


def with_callback_results(report: RunnerReport, results: Sequence[CallbackResult]) -> RunnerReport:
    """The final report: failed with stage "callback" (and each failing callback's traceback) if any failed."""
    failures = [r for r in results if not r.succeeded]
    if not failures or not report.succeeded:
        return report
    message = "\n".join(f"callback work {r.name!r} failed:\n{r.error_message}" for r in failures)
    logger.warning("Callback failed: [log, scenario] = [%s, %s]", report.log_name, report.scenario_name)
    return report.failed(message, "callback")


def raise_for_failure(report: RunnerReport, cause: BaseException | None) -> None:
    """For ``exit_on_failure``: raise SimulationFailedError from the original exception."""
    message = (
        f"runner {report.runner_id} ([log, scenario] = [{report.log_name}, {report.scenario_name}]) "
        f"failed in stage {report.error_stage!r}:\n{report.error_message}"
    )
    raise SimulationFailedError(message) from cause


def run_simulation(sim_runner: AbstractRunner, exit_on_failure: bool = False) -> RunnerReport:
    """Run one runner and its callback work here and now; failures give a failed report.

    With ``exit_on_failure`` a failure raises SimulationFailedError whose ``__cause__`` is the original.
    """
    outcome = simulate(sim_runner)
    results = [run_callback_work(w) for w in outcome.work]
    report = with_callback_results(outcome.report, results)
    if exit_on_failure and not report.succeeded:
        cause = outcome.exception or next((r.exception for r in results if not r.succeeded), None)
        raise_for_failure(report, cause)
    return report
