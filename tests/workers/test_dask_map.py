"""DaskDistributed.map (what nuPlan's executor calls) has the guarantees of execute_runners."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from distributed import KilledWorker
from map_functions import current_task_key, hang_on, square_or_die, square_or_raise
from runners_for_tests import ScriptedRunner

from dask_runner.dask.pool import DaskDistributed
from dask_runner.errors import SimulationFailedError
from dask_runner.execution.task import Task
from dask_runner.runner.report import RunnerReport
from dask_runner.runner.run_simulation import run_simulation


@pytest.fixture(scope="module")
def processes() -> Iterator[DaskDistributed]:
    with DaskDistributed(n_workers=2, threads_per_worker=1, dashboard_address=None, timeout_grace_s=0.5,
                         time_limit_s=2.0) as pool:
        yield pool


def test_short_calls_are_grouped_into_few_tasks_and_results_keep_their_order() -> None:
    with DaskDistributed(processes=False, n_workers=1, threads_per_worker=2, dashboard_address=None) as pool:
        keys = pool.map(Task(current_task_key), list(range(400)))
    assert len(keys) == 400
    assert len(set(keys)) < 100, "each call ran as a task of its own: no grouping"
    assert all(key.startswith("current_task_key-") for key in keys)


def test_the_functions_own_exception_ends_the_map_as_itself() -> None:
    with DaskDistributed(processes=False, n_workers=1, threads_per_worker=2, dashboard_address=None) as pool:
        with pytest.raises(ValueError, match="item 7 is unlucky"):
            pool.map(Task(square_or_raise), list(range(20)))
        assert pool.map(Task(square_or_raise), [1, 2, 3]) == [1, 4, 9]


def test_the_summary_names_the_mapped_function_not_simulations(caplog: pytest.LogCaptureFixture) -> None:
    with DaskDistributed(processes=False, n_workers=1, threads_per_worker=2, dashboard_address=None) as pool:
        with caplog.at_level("INFO", logger="dask_runner"):
            pool.map(Task(square_or_raise), [1, 2, 3])
    # nuPlan's feature caching maps cache_scenarios: its log must not count simulations
    assert "Number of successful calls of square_or_raise: 3" in caplog.text
    assert "simulations" not in caplog.text


@pytest.mark.processes
@pytest.mark.slow
def test_run_simulation_mapped_gets_a_report_for_the_runner_that_kills_its_worker(processes: DaskDistributed) -> None:
    behaviours = ["ok"] * 10
    behaviours[3] = "kill"
    runners = [ScriptedRunner(f"m{i}", b, seconds=0.05) for i, b in enumerate(behaviours)]
    reports = processes.map(Task(run_simulation), runners, False)
    assert len(reports) == 10 and all(isinstance(r, RunnerReport) for r in reports)
    assert [r.succeeded for r in reports] == [i != 3 for i in range(10)]
    assert "[worker_lost]" in (reports[3].error_message or "") and "KilledWorker" in (reports[3].error_message or "")
    assert reports[3].scenario_name == "scenario_m3"


@pytest.mark.processes
@pytest.mark.slow
def test_any_other_function_raises_only_for_the_culprit_of_worker_deaths(processes: DaskDistributed) -> None:
    with pytest.raises(KilledWorker):
        processes.map(Task(square_or_die), [1, 2, 13, 4, 5, 6])
    assert processes.map(Task(square_or_die), [1, 2, 3, 4]) == [1, 4, 9, 16]  # the pool is whole again


@pytest.mark.processes
@pytest.mark.slow
def test_a_call_past_the_pools_time_limit_is_stopped(processes: DaskDistributed) -> None:
    with pytest.raises(SimulationFailedError, match="time limit of 2 s"):
        processes.map(Task(hang_on), [1, 2, 3], 2)
    runners = [ScriptedRunner(f"t{i}", "hang" if i == 1 else "ok") for i in range(4)]
    reports = processes.map(Task(run_simulation), runners)
    assert [r.succeeded for r in reports] == [True, False, True, True]
    assert "[timeout]" in (reports[1].error_message or "")


def test_only_the_known_run_simulation_functions_return_reports_not_any_function_of_that_name() -> None:
    import map_functions

    from dask_runner.dask.mapped_calls import report_class_of

    assert report_class_of(run_simulation) is RunnerReport
    assert report_class_of(map_functions.run_simulation) is None  # same __name__, not one of them
    assert report_class_of(square_or_raise) is None


def test_a_registered_report_function_gets_a_failed_report_for_a_call_past_the_time_limit() -> None:
    from map_functions import timed_report

    from dask_runner.dask.mapped_calls import register_report_function

    register_report_function(timed_report, RunnerReport)
    with DaskDistributed(processes=False, n_workers=1, threads_per_worker=2, dashboard_address=None,
                         time_limit_s=0.5, timeout_grace_s=0.2) as pool:
        reports = pool.map(Task(timed_report), [0.0, 5.0, 0.0])
    assert [r.succeeded for r in reports] == [True, False, True]
    assert "[timeout]" in (reports[1].error_message or "")
    assert reports[1].scenario_name == "timed_report"  # a call without a runner is named after its function


def test_a_call_is_named_after_its_runner_or_else_its_function() -> None:
    from dask_runner.dask.mapped_calls import MappedCall
    from dask_runner.runner.run_simulation import runner_names

    simulating = MappedCall(run_simulation, (ScriptedRunner("n1"),), 0)
    assert runner_names(simulating) == runner_names(ScriptedRunner("n1"))
    assert simulating.key_stem.startswith("run_simulation-")
    plain = MappedCall(square_or_raise, (3,), 1)
    assert runner_names(plain) == ("square_or_raise", "", "") and plain.scenario is None and plain.planner is None
