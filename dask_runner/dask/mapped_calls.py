"""``DaskDistributed.map`` with the guarantees of ``execute_runners``: nuPlan's scripts get them too.

nuPlan's executor does not call ``execute_runners`` on our pool: it calls
``worker.map(Task(run_simulation, num_gpus, num_cpus), runners, exit_on_failure)``. A plain
``client.map`` there meant no bounded in-flight work, no grouping, no time limit, and one planner
that killed its worker aborted the whole run with ``KilledWorker`` (and failed an innocent neighbour).

So every call of a mapped function becomes a :class:`MappedCall`, a runner that the Dask batch
strategy (:mod:`dask_runner.dask.batch`) runs like any other: grouped, bounded, re-run
alone when a worker died under it, stopped at the pool's time limit. Then:

- a function that returns runner reports (``run_simulation``, nuPlan's or ours, or one registered with
  ``register_report_function``) gets, for a call the cluster could not finish (the culprit of
  worker deaths, a call past its time limit, arguments that do not pickle), a failed report of that
  same class that says so, and the batch goes on; if the function itself raises (nuPlan's
  ``exit_on_failure``), that exception ends the map, as it would in nuPlan;
- any other function: the first failure, in the order it is known, ends the map with its exception
  (the original one when it could travel); innocent calls that shared a dying worker are re-run, and
  only the culprit's error is raised.
"""

from __future__ import annotations

import importlib
import pickle
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dask_runner.dask import keys
from dask_runner.errors import SimulationFailedError
from dask_runner.execution.batch_execution import ExecutionOptions
from dask_runner.runner.abstract_runner import AbstractRunner
from dask_runner.runner.report import RunnerReport
from dask_runner.runner.run_simulation import runner_names

if TYPE_CHECKING:
    from dask_runner.execution.task import Task


@dataclass(frozen=True)
class CallReport(RunnerReport):
    """The report of a mapped call that returned: it carries the return value back to the driver."""

    value: Any = None


class MappedCall(AbstractRunner):
    """One call ``fn(*args)`` of a mapped function, as a runner (named after its runner argument, if any)."""

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...], position: int) -> None:
        self.fn = fn
        self.args = args
        self.runner_id = f"call-{position}"

    @property
    def _subject(self) -> Any:
        """The runner this call simulates (nuPlan's ``run_simulation(sim_runner, ...)``), if its first argument is one."""
        first = self.args[0] if self.args else None
        return first if hasattr(first, "scenario") and hasattr(first, "planner") else None

    @property
    def _function_name(self) -> str:
        return str(getattr(self.fn, "__name__", type(self.fn).__name__))

    @property
    def key_stem(self) -> str:
        """Its Dask key: ``<function>[-<planner>-<scenario>]``, so the dashboard and task logs name what ran."""
        if self._subject is None:
            return keys.call_stem(self._function_name)
        scenario, planner, _ = runner_names(self._subject)
        return keys.call_stem(self._function_name, planner, scenario)

    def report_names(self) -> tuple[str, str, str]:
        """Its subject's names when it simulates one; else the function's name, where a scenario's would be."""
        if self._subject is not None:
            return runner_names(self._subject)
        return self._function_name, "", ""

    # A call has a scenario and a planner only when its subject (a runner) has them.
    @property
    def scenario(self) -> Any:
        return getattr(self._subject, "scenario", None)

    @property
    def planner(self) -> Any:
        return getattr(self._subject, "planner", None)

    def run(self) -> RunnerReport:
        start = time.time()
        try:
            value = self.fn(*self.args)
        except Exception as exc:
            raise CallRaised.of(exc) from exc
        scenario_name, planner_name, log_name = runner_names(self)
        return CallReport(
            succeeded=True, error_message=None, start_time=start, end_time=time.time(), planner_report=None,
            scenario_name=scenario_name, planner_name=planner_name, log_name=log_name, value=value,
        )


class CallRaised(Exception):
    """The mapped function itself raised (not the cluster). Always travels: the original goes along when it can."""

    def __init__(self, original: BaseException | None, text: str) -> None:
        super().__init__(text)
        self.original = original
        self.text = text

    @classmethod
    def of(cls, exc: BaseException) -> CallRaised:
        try:
            pickle.dumps(exc)
        except Exception:  # noqa: BLE001  (it cannot travel: its text does)
            return cls(None, f"{type(exc).__name__}: {exc}")
        return cls(exc, f"{type(exc).__name__}: {exc}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (CallRaised, (self.original, self.text))


# Functions known to return runner reports, by where they are defined: (module, name) -> (module, report class).
# nuPlan's executor maps its own run_simulation; ours is ours. Looked up by identity when a map starts, so
# neither nuPlan nor its torch is imported for it.
_REPORT_FUNCTIONS: dict[tuple[str, str], tuple[str, str]] = {
    ("nuplan.planning.simulation.runner.executor", "run_simulation"):
        ("nuplan.planning.simulation.runner.runner_report", "RunnerReport"),
    ("dask_runner.runner.run_simulation", "run_simulation"): ("dask_runner.runner.report", "RunnerReport"),
}
_registered: list[tuple[Callable[..., Any], type]] = []  # a list: callables need not be hashable


def register_report_function(fn: Callable[..., Any], report_class: type) -> None:
    """Declare that ``fn`` returns ``report_class`` reports: a map of it then gets a failed report of that class
    for a call the cluster could not finish (a worker death, the time limit), instead of ending the map."""
    _registered.append((fn, report_class))


def report_class_of(fn: Callable[..., Any]) -> type | None:
    """The report class ``fn`` returns, when it is one of the functions above (the same object), else None."""
    registered = next((cls for known, cls in _registered if known is fn), None)
    if registered is not None:
        return registered
    for (module, name), (report_module, report_name) in _REPORT_FUNCTIONS.items():
        if module in sys.modules and getattr(sys.modules[module], name, None) is fn:
            report_class = getattr(sys.modules.get(report_module), report_name, None)
            if report_class is None:
                report_class = getattr(importlib.import_module(report_module), report_name, None)
            return report_class if isinstance(report_class, type) else None
    return None


def map_with_guarantees(
    run_batch: Callable[[Sequence[AbstractRunner], ExecutionOptions], list[RunnerReport]],
    task: Task, item_lists: Sequence[list[Any]], verbose: bool, time_limit_s: float | None,
) -> list[Any]:
    """``task.fn`` over the aligned ``item_lists`` through ``run_batch`` (the pool's batch strategy)."""
    calls = [MappedCall(task.fn, args, position) for position, args in enumerate(zip(*item_lists))]
    if not calls:
        return []
    report_class = report_class_of(task.fn)

    def ends_the_map(report: RunnerReport, cause: BaseException | None) -> bool:
        # The function raised (not the cluster): that ends the map, as it would without a pool. A function
        # that returns reports gets the cluster's failures as reports instead.
        return report_class is None or isinstance(cause, CallRaised)

    options = ExecutionOptions(
        num_gpus=float(task.num_gpus) if task.num_gpus else None, num_cpus=task.num_cpus, verbose=verbose,
        time_limit_s=time_limit_s, stop_on_failure=ends_the_map,
        # nuPlan's feature caching and NAVSIM's scoring map functions that are not simulations
        items="simulations" if report_class else f"calls of {getattr(task.fn, '__name__', 'the mapped function')}",
    )
    try:
        reports = run_batch(calls, options)
    except SimulationFailedError as failure:
        cause = failure.__cause__
        if isinstance(cause, CallRaised):  # the function's own exception, as client.gather would raise it
            raise (cause.original or RuntimeError(cause.text)) from None
        if cause is not None:  # the cluster's: the culprit's KilledWorker, a pickling error, a timeout
            raise cause from None
        raise
    return [_result(report, report_class) for report in reports]


def _result(report: RunnerReport, report_class: type | None) -> Any:
    if isinstance(report, CallReport) and report.succeeded:
        return report.value
    assert report_class is not None  # other failures ended the map
    # The failed report already carries the simulated runner's names (runner_names of the call).
    return report_class(
        succeeded=False,
        error_message=f"[{report.error_stage}] {report.error_message}",
        start_time=report.start_time,
        end_time=report.end_time,
        planner_report=None,
        scenario_name=report.scenario_name,
        planner_name=report.planner_name,
        log_name=report.log_name,
    )
