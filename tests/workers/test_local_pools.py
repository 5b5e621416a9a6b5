"""nuPlan's worker behaviours on the local pools, and their context-manager / shutdown contract."""

from __future__ import annotations

from concurrent.futures import Future

import pytest
from pool_contract import check_pool_contract, square

from dask_runner.errors import ConfigError
from dask_runner.execution.parallel import SingleMachineParallelExecutor
from dask_runner.execution.sequential import Sequential
from dask_runner.execution.worker_pool import Task, WorkerResources


def test_sequential_pool_contract() -> None:
    with Sequential() as pool:
        check_pool_contract(pool)
        future = pool.submit(Task(square), 7)
        assert future.done() and future.result() == 49  # Sequential's futures are already finished


@pytest.mark.parametrize("use_process_pool", [False, True])
def test_single_machine_pool_contract(use_process_pool: bool) -> None:
    with SingleMachineParallelExecutor(use_process_pool=use_process_pool, max_workers=2) as pool:
        assert pool.number_of_threads == 2
        check_pool_contract(pool)


def test_shutdown_stops_the_pool_and_is_idempotent() -> None:
    pool = SingleMachineParallelExecutor(max_workers=2)
    assert isinstance(pool.submit(Task(square), 3), Future)
    pool.shutdown()
    pool.shutdown()
    with pytest.raises(RuntimeError):
        pool.submit(Task(square), 3)


def test_bad_pool_arguments_fail_at_construction() -> None:
    with pytest.raises(ConfigError, match="max_workers"):
        SingleMachineParallelExecutor(max_workers=0)
    assert WorkerResources(2, 1, 4).number_of_threads == 8
    assert WorkerResources.current_node_cpu_count() >= 1
