"""start_cuda_cluster and gpu_count: clear errors without a GPU, threads sized to the GPU share."""

from __future__ import annotations

from typing import Any

import pytest

from dask_runner.dask.clusters.cuda import gpu_count, start_cuda_cluster, threads_for_share
from dask_runner.errors import ClusterError, ConfigError


def test_threads_cover_the_requested_share() -> None:
    assert threads_for_share(0.25, None) == 4
    assert threads_for_share(1.0, None) == 1
    assert threads_for_share(0.1, None) == 10
    assert threads_for_share(1 / 3, None) == 3
    assert threads_for_share(None, None) == 1
    assert threads_for_share(0.5, 6) == 6
    with pytest.raises(ConfigError, match="num_gpus_per_simulation=0.25"):
        threads_for_share(2, None)


def test_threads_cover_the_share_of_one_of_several_workers_per_gpu() -> None:
    assert threads_for_share(0.25, None, workers_per_gpu=4) == 1
    assert threads_for_share(0.25, None, workers_per_gpu=2) == 2
    assert threads_for_share(1 / 3, None, workers_per_gpu=3) == 1
    with pytest.raises(ConfigError, match=r"holds 1/4 of a GPU.*at most 0.25 GPU per simulation"):
        threads_for_share(0.5, None, workers_per_gpu=4)


def test_a_share_larger_than_a_worker_fails_before_any_gpu_is_touched() -> None:
    with pytest.raises(ConfigError, match="workers_per_gpu=4"):
        start_cuda_cluster(num_gpus_per_simulation=1.0, workers_per_gpu=4)
    with pytest.raises(ConfigError, match=r"workers_per_gpu must be a positive integer.*workers_per_gpu=4\)"):
        start_cuda_cluster(workers_per_gpu=0)


def test_gpu_count_never_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    count = gpu_count()
    assert count >= 0
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "-1")
    assert gpu_count() == 0


@pytest.mark.skipif(gpu_count() > 0, reason="this machine has a GPU; the no-GPU error cannot happen here")
def test_without_a_gpu_the_error_says_what_to_use_instead() -> None:
    with pytest.raises(ClusterError) as info:
        start_cuda_cluster(num_gpus_per_simulation=0.25, dashboard_address="127.0.0.1:0")
    message = str(info.value)
    assert "no GPU was found" in message
    assert "worker=dask_local" in message
    assert "number_of_gpus_allocated_per_simulation=0" in message


def test_hidden_gpus_give_the_no_gpu_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "-1")
    with pytest.raises(ClusterError, match="no GPU was found"):
        start_cuda_cluster(dashboard_address="127.0.0.1:0")


def test_bad_threads_fail_with_a_correct_call() -> None:
    with pytest.raises(ConfigError, match=r"start_cuda_cluster\(num_gpus_per_simulation=0.25\)"):
        start_cuda_cluster(threads_per_worker=0)


# worker=dask_cuda's construction path without a GPU: Hydra builds the node's cluster, then the pool on it. A
# local cluster stands in for the LocalCUDACluster that start_cuda_cluster returns (the pool sees a cluster).
def _local_cluster_node() -> dict[str, object]:
    return {"_target_": "dask_runner.dask.clusters.local.start_local_cluster", "n_workers": 1, "processes": False,
            "dashboard_address": "127.0.0.1:0"}


def test_the_dask_cuda_pool_owns_the_cluster_hydra_builds_and_closes_it_at_shutdown() -> None:
    from distributed.core import Status
    from hydra import compose, initialize_config_module
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    with initialize_config_module(config_module="dask_runner.config", version_base=None):
        cfg = compose("default_simulation", overrides=["worker=dask_cuda"])
    node = OmegaConf.to_container(cfg.worker)  # the schema's cluster node takes start_cuda_cluster's keys only
    assert isinstance(node, dict)
    pool = instantiate({**node, "cluster": _local_cluster_node()}, _convert_="all")
    cluster = pool.client.cluster
    assert pool.owns_cluster and cluster.status == Status.running
    from dask_runner.execution.worker_pool import Task

    assert pool.map(Task(fn=abs), [-1, -2]) == [1, 2]
    pool.shutdown()
    assert cluster.status == Status.closed


def test_a_dask_cuda_pool_that_fails_to_start_closes_its_cluster() -> None:
    from distributed.core import Status
    from hydra.utils import instantiate

    from dask_runner.dask.clusters.cuda import cuda_worker_pool

    cluster = instantiate(_local_cluster_node())
    with pytest.raises(ConfigError, match="max_group_size"):
        cuda_worker_pool(cluster, max_group_size=0)
    assert cluster.status == Status.closed


# Every failure on worker=dask_cuda's construction path leaves no cluster running. The node's cluster is a
# local cluster started through cluster_starts, which tells whether it was closed.
def _counted_cluster_node(**keys: object) -> dict[str, object]:
    return {**_local_cluster_node(), "_target_": "cluster_starts.start_counted_cluster", **keys}


def _dask_cuda_node(**keys: object) -> Any:
    """worker=dask_cuda's composed node as plain keys (so a test can give it keys its schema refuses), with ``keys``."""
    from hydra import compose, initialize_config_module
    from omegaconf import OmegaConf

    with initialize_config_module(config_module="dask_runner.config", version_base=None):
        cfg = compose("default_simulation", overrides=["worker=dask_cuda"])
    node = OmegaConf.to_container(cfg.worker)
    assert isinstance(node, dict)
    return OmegaConf.create({**node, "cluster": _counted_cluster_node(), **keys})


@pytest.mark.parametrize("keys, error", [
    ({"max_grup_size": 4}, r"worker=dask_cuda has no key max_grup_size; its keys are .*max_group_size"),
    ({"max_group_size": 0}, "max_group_size must be >= 1"),
    # a keyword Hydra cannot build: Hydra used to start the cluster first, then fail on this one
    ({"time_limit_s": {"_target_": "no.such.module.seconds"}}, "time_limit_s must be a number of seconds"),
])
def test_a_bad_key_fails_the_dask_cuda_node_with_no_cluster_left(keys: dict[str, object], error: str) -> None:
    from cluster_starts import leaves_no_cluster
    from hydra.errors import InstantiationException
    from hydra.utils import instantiate

    with leaves_no_cluster(), pytest.raises(InstantiationException, match=error) as failure:
        instantiate(_dask_cuda_node(**keys), _convert_="all")
    assert isinstance(failure.value.__cause__, ConfigError)  # Hydra wraps the factory's error


def test_a_misspelt_or_mistyped_key_fails_at_composition() -> None:
    from dask_runner.experiment.config_loading import SIMULATION_CONFIG, compose_config

    with pytest.raises(ConfigError, match=r"worker\.max_grup_size"):
        compose_config(SIMULATION_CONFIG, ["worker=dask_cuda", "worker.max_grup_size=4"])
    with pytest.raises(ConfigError, match=r"worker\.max_group_size: Value 'four'"):
        compose_config(SIMULATION_CONFIG, ["worker=dask_cuda", "worker.max_group_size=four"])


def test_nuplans_dask_cuda_factory_failing_leaves_no_cluster() -> None:
    """nuPlan's factory checks logs_subdir against output_dir before it builds the pool."""
    from cluster_starts import leaves_no_cluster
    from hydra.errors import InstantiationException
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    node = _dask_cuda_node()
    OmegaConf.set_struct(node, False)
    node.merge_with({"_target_": "dask_runner.dask.nuplan_pools.nuplan_dask_cuda", "output_dir": None,
                     "logs_subdir": "logs"})
    with leaves_no_cluster() as started, pytest.raises(InstantiationException, match="needs nuPlan's output_dir"):
        instantiate(node, _convert_="all")
    assert started == []  # checked before anything starts


def test_a_failure_after_the_cluster_started_closes_it() -> None:
    """DaskDistributed refuses the time limit once the cluster is up: the cluster is closed."""
    from cluster_starts import leaves_no_cluster
    from hydra.errors import InstantiationException
    from hydra.utils import instantiate

    with leaves_no_cluster() as started, pytest.raises(InstantiationException, match="time_limit_s must be"):
        instantiate(_dask_cuda_node(time_limit_s=-1), _convert_="all")
    assert len(started) == 1
