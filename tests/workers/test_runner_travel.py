"""Runners that cannot travel, and runners without ids: every runner gets its own report, on every pool."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from travel_runners import FaultRunner

from dask_runner.dask.pool import DaskDistributed
from dask_runner.dask.ray_shim import RayDistributed
from dask_runner.errors import ConfigError
from dask_runner.execution.batch_execution import assign_runner_ids
from dask_runner.execution.executor import execute_runners
from dask_runner.execution.parallel import SingleMachineParallelExecutor
from dask_runner.execution.sequential import Sequential
from dask_runner.execution.worker_pool import WorkerPool

POOLS: dict[str, Callable[[], WorkerPool]] = {
    "process_pool": lambda: SingleMachineParallelExecutor(use_process_pool=True, max_workers=2),
    "dask_in_process": lambda: DaskDistributed(processes=False, n_workers=1, threads_per_worker=2,
                                               dashboard_address=None),
    "ray_shim_debug": lambda: RayDistributed(debug_mode=True, logs_subdir=None, dashboard_address=None),
}


@pytest.fixture(params=sorted(POOLS))
def remote_pool(request: pytest.FixtureRequest) -> Iterator[WorkerPool]:
    with POOLS[request.param]() as pool:
        yield pool


def test_a_runner_that_cannot_be_sent_fails_alone(remote_pool: WorkerPool) -> None:
    runners = [FaultRunner() for _ in range(10)]
    runners[3] = FaultRunner("lock_in_runner")
    reports = execute_runners(runners, remote_pool)
    assert len(reports) == 10
    assert [r.succeeded for r in reports] == [i != 3 for i in range(10)]
    assert reports[3].error_stage == "simulation"
    message = reports[3].error_message or ""
    assert "could not run this runner" in message and "lock" in message, message


def test_a_report_that_cannot_come_back_fails_alone(remote_pool: WorkerPool) -> None:
    runners = [FaultRunner() for _ in range(6)]
    runners[2] = FaultRunner("lock_in_report")
    reports = execute_runners(runners, remote_pool)
    assert [r.succeeded for r in reports] == [i != 2 for i in range(6)]
    assert reports[2].error_stage == "simulation"
    assert "planner_report" in (reports[2].error_message or "") and "could not be pickled" in (
        reports[2].error_message or "")


@pytest.mark.processes
def test_a_report_the_driver_cannot_load_fails_alone(caplog: pytest.LogCaptureFixture) -> None:
    """Its group's summary cannot be fetched: the batch went on waiting for it, forever."""
    runners = [FaultRunner() for _ in range(40)]
    runners[30] = FaultRunner("unloadable_report")
    with caplog.at_level("INFO", logger="dask_runner"), \
            DaskDistributed(n_workers=2, threads_per_worker=1, dashboard_address=None) as pool:
        reports = execute_runners(runners, pool)
    assert [r.succeeded for r in reports] == [i != 30 for i in range(40)]
    assert reports[30].error_stage == "simulation"
    assert "cannot be loaded here" in (reports[30].error_message or ""), reports[30].error_message
    # It shared a group (groups grow once durations are known); the group's runners ran again alone.
    assert "they run again, one at a time" in caplog.text


@pytest.mark.processes
def test_a_runner_a_worker_cannot_load_fails_alone_with_the_reason_and_no_worker_dies() -> None:
    """Its task carries the runners as bytes the task unpickles: the worker reads the task, the unpickling fails
    inside it, and only that runner fails. Before, a worker that could not read a task left."""
    runners = [FaultRunner() for _ in range(40)]
    runners[30] = FaultRunner("unloadable_runner")
    with DaskDistributed(n_workers=2, threads_per_worker=1, dashboard_address=None) as pool:
        workers = set(pool.client.scheduler_info(n_workers=-1)["workers"])
        reports = execute_runners(runners, pool)
        assert set(pool.client.scheduler_info(n_workers=-1)["workers"]) == workers  # none died or restarted
    assert [r.succeeded for r in reports] == [i != 30 for i in range(40)]
    assert reports[30].error_stage == "simulation"
    assert "cannot be loaded on a worker" in (reports[30].error_message or ""), reports[30].error_message


def test_callback_work_that_cannot_come_back_fails_its_runner_as_a_callback() -> None:
    """On a process pool the work must travel back to the driver; it fails alone, with stage "callback"."""
    runners = [FaultRunner("callback_raise") if i == 4 else FaultRunner() for i in range(6)]
    runners[1] = FaultRunner("lock_in_callback")
    with SingleMachineParallelExecutor(use_process_pool=True, max_workers=2) as pool:
        reports = execute_runners(runners, pool)
    assert [r.error_stage for r in reports] == [None, "callback", None, None, "callback", None]
    assert "callback work 'locked' could not be pickled" in (reports[1].error_message or "")
    assert "callback raised on purpose" in (reports[4].error_message or "")


def test_callback_work_runs_where_it_was_made_on_dask() -> None:
    """Dask keeps callback work on the worker that holds the history: work that cannot travel need not."""
    runners = [FaultRunner() for _ in range(4)]
    runners[1] = FaultRunner("lock_in_callback")
    with POOLS["dask_in_process"]() as pool:
        reports = execute_runners(runners, pool)
    assert all(r.succeeded for r in reports), [r.error_message for r in reports]


@pytest.mark.parametrize("pool_name", ["sequential", "process_pool", "dask_in_process"])
def test_runners_without_ids_get_unique_deterministic_ids(pool_name: str) -> None:
    make = {"sequential": Sequential, **POOLS}[pool_name]
    with make() as pool:
        first = execute_runners([FaultRunner() for _ in range(12)], pool)
        second = execute_runners([FaultRunner() for _ in range(12)], pool)
    ids = [r.runner_id for r in first]
    assert len(set(ids)) == 12 and all(ids)
    assert ids == [r.runner_id for r in second]  # same input order, same ids: resume can rely on them
    assert ids[0] == "same_planner-same_log-same_scenario-0" and ids[11].endswith("-11")


def test_assigned_ids_stay_on_the_runners_and_hand_given_ones_are_kept() -> None:
    runners = [FaultRunner(), FaultRunner(), FaultRunner()]
    runners[1].runner_id = "mine"  # type: ignore[attr-defined]
    ids = assign_runner_ids(runners)
    assert ids[1] == "mine" and len(set(ids)) == 3
    assert [getattr(r, "runner_id") for r in runners] == ids
    assert assign_runner_ids(runners) == ids  # idempotent: a runner that has an id keeps it


def test_duplicate_hand_given_ids_are_refused_before_anything_runs() -> None:
    runners = [FaultRunner(), FaultRunner()]
    for runner in runners:
        runner.runner_id = "twin"  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match="share runner_id 'twin'"):
        execute_runners(runners, Sequential())
