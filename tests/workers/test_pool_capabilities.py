"""What a pool can do beyond running tasks is declared on ``WorkerPool``, with defaults a pool overrides: a first
step before the job builds anything, a resource check before the job creates its folder, a dashboard and a
Simulations page the job prints."""

from __future__ import annotations

import capability_pools
import pytest

from dask_runner.dask.pool import DaskDistributed
from dask_runner.errors import ResourceUnavailableError
from dask_runner.execution.parallel import SingleMachineParallelExecutor
from dask_runner.execution.sequential import Sequential
from dask_runner.execution.worker_pool import WorkerPool
from dask_runner.experiment.components import first_step
from dask_runner.experiment.config_loading import SIMULATION_CONFIG, compose_config


@pytest.mark.parametrize("pool_class", [Sequential, SingleMachineParallelExecutor])
def test_a_local_pool_has_the_defaults(pool_class: type[WorkerPool]) -> None:
    assert pool_class.first_step()() is None
    with pool_class() as pool:
        pool.check_resources(num_gpus=1, num_cpus=64)  # the tasks run here, as they come
        assert pool.dashboard_link is None and pool.simulations_page is None


def test_the_dask_pool_overrides_them() -> None:
    with DaskDistributed(n_workers=1, processes=False, dashboard_address="127.0.0.1:0") as pool:
        with pytest.raises(ResourceUnavailableError):
            pool.check_resources(num_gpus=1, num_cpus=None)
        pool.check_resources(num_gpus=None, num_cpus=1)
        assert pool.dashboard_link is not None
        assert pool.simulations_page is not None and pool.simulations_page.endswith("/individual-simulations")


def test_the_job_calls_the_first_step_a_pool_class_declares_with_the_nodes_values() -> None:
    capability_pools.STEPS.clear()
    cfg = compose_config(SIMULATION_CONFIG, ["worker=sequential"])
    cfg.worker = {"_target_": "capability_pools.PoolWithAFirstStep", "warm_up": "${experiment_name}"}
    undo = first_step(cfg)
    assert capability_pools.STEPS == [{"warm_up": cfg.experiment_name}]
    undo()
    assert capability_pools.UNDONE[-1] is True


def test_a_factory_function_target_has_no_first_step() -> None:
    capability_pools.STEPS.clear()
    cfg = compose_config(SIMULATION_CONFIG, ["worker=sequential"])
    cfg.worker = {"_target_": "capability_pools.pool_factory"}
    assert first_step(cfg)() is None
    assert capability_pools.STEPS == []
