"""RayDistributed on Dask: nuPlan's constructor forms and behaviours, without Ray."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from distributed import LocalCluster
from pool_contract import check_pool_contract

from dask_runner.dask.ray_shim import RayDistributed
from dask_runner.errors import ConfigError
from dask_runner.execution.worker_pool import Task

ON_DASK = "RayDistributed runs on Dask distributed"
LOOPBACK_DASHBOARD = {"dashboard_address": "127.0.0.1:0"}


def where_am_i(_: int) -> tuple[int, int]:
    return os.getpid(), threading.get_ident()


def log_and_square(x: int) -> int:
    logging.getLogger("planner.test").warning("simulating item %d", x)
    return x * x


def local_directory(dask_worker) -> str:  # type: ignore[no-untyped-def]
    return str(dask_worker.local_directory)


@pytest.fixture
def debug_pool(tmp_path: Path) -> Iterator[RayDistributed]:
    with RayDistributed(debug_mode=True, output_dir=str(tmp_path), **LOOPBACK_DASHBOARD) as pool:
        yield pool


def test_debug_mode_passes_the_nuplan_pool_contract_in_process_one_at_a_time(debug_pool: RayDistributed) -> None:
    check_pool_contract(debug_pool)
    assert debug_pool.number_of_threads == 1
    assert debug_pool.debug_mode
    places = debug_pool.map(Task(where_am_i), list(range(6)))
    assert {pid for pid, _ in places} == {os.getpid()}
    assert len({thread for _, thread in places}) == 1  # one worker thread runs them one after another


def test_it_says_once_that_it_runs_on_dask(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    with RayDistributed(debug_mode=True, **LOOPBACK_DASHBOARD) as pool:
        pool.map(Task(log_and_square), [1, 2, 3])
        pool.submit(Task(log_and_square), 4).result(timeout=60)
        pool.map(Task(log_and_square), [5])
    assert sum(ON_DASK in record.getMessage() for record in caplog.records) == 1


def test_each_task_writes_its_own_log_under_output_dir_and_logs_subdir(tmp_path: Path) -> None:
    with RayDistributed(debug_mode=True, output_dir=str(tmp_path), logs_subdir="worker_logs",
                        **LOOPBACK_DASHBOARD) as pool:
        assert pool.map(Task(log_and_square), [3, 7]) == [9, 49]
        assert pool.submit(Task(log_and_square), 11).result(timeout=60) == 121
        assert pool.log_dir == tmp_path / "worker_logs"
    logs = sorted((tmp_path / "worker_logs").glob("*.log"))
    assert len(logs) == 3
    contents = [log.read_text() for log in logs]
    assert all(text.count("simulating item") == 1 for text in contents)
    joined = "".join(contents)
    for item in (3, 7, 11):
        assert f"simulating item {item}" in joined
    assert all(log.name.startswith("log_and_square") for log in logs)


def test_ray_tmpdir_becomes_the_workers_local_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ray_tmp = tmp_path / "ray_tmp"
    monkeypatch.setenv("RAY_TMPDIR", str(ray_tmp))
    with RayDistributed(debug_mode=True, **LOOPBACK_DASHBOARD) as pool:
        directories = pool.client.run(local_directory)
    assert directories
    assert all(Path(d).resolve().is_relative_to(ray_tmp.resolve()) for d in directories.values())


def test_master_node_ip_without_protocol_connects_to_that_scheduler() -> None:
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, protocol="tcp://", host="127.0.0.1",
                      dashboard_address="127.0.0.1:0") as cluster:
        bare = cluster.scheduler_address.removeprefix("tcp://")
        with RayDistributed(master_node_ip=bare, log_to_driver=False) as pool:
            assert pool.client.scheduler.address == cluster.scheduler_address
            assert pool.number_of_threads == 2
            assert pool.map(Task(log_and_square), [2, 3]) == [4, 9]
        # The cluster is not ours: the pool leaves it running.
        assert cluster.status.name == "running"


@pytest.mark.processes
def test_threads_per_node_sizes_a_process_cluster_and_gpus_become_resources() -> None:
    with RayDistributed(threads_per_node=2, number_of_nodes=1, number_of_gpus_per_node=1,
                        number_of_cpus_per_node=12, **LOOPBACK_DASHBOARD) as pool:
        check_pool_contract(pool)
        assert pool.number_of_threads == 2
        assert pool.config.number_of_gpus_per_node == 1
        workers = pool.client.scheduler_info(n_workers=-1)["workers"].values()
        assert [w["resources"]["GPU"] for w in workers] == [1.0]
        pids = {pid for pid, _ in pool.map(Task(where_am_i, num_gpus=0.5), list(range(4)))}
        assert os.getpid() not in pids


@pytest.mark.processes
def test_threads_per_node_without_gpus_starts_that_many_single_thread_processes() -> None:
    with RayDistributed(threads_per_node=2, **LOOPBACK_DASHBOARD) as pool:
        workers = list(pool.client.scheduler_info(n_workers=-1)["workers"].values())
        assert [w["nthreads"] for w in workers] == [1, 1]
        assert pool.map(Task(log_and_square), [4]) == [16]


def test_hydra_instantiates_nuplans_ray_config_with_output_dir(tmp_path: Path) -> None:
    """nuPlan's build_worker instantiates worker/ray_distributed.yaml and adds output_dir=cfg.output_dir."""
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    cfg = OmegaConf.create({
        "_target_": "dask_runner.dask.ray_shim.RayDistributed", "_convert_": "all",
        "master_node_ip": None, "threads_per_node": None, "debug_mode": True, "log_to_driver": True,
        "logs_subdir": "logs", "use_distributed": False, "dashboard_address": "127.0.0.1:0",
    })
    with instantiate(cfg, output_dir=str(tmp_path)) as pool:
        assert isinstance(pool, RayDistributed)
        assert pool.log_dir == tmp_path / "logs"
        assert pool.map(Task(log_and_square), [5]) == [25]


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({"number_of_nodes": 2}, "master_node_ip"),
        ({"threads_per_node": 0}, "threads_per_node must be a positive integer"),
        ({"number_of_gpus_per_node": -1}, "number_of_gpus_per_node must be a non-negative number"),
        ({"debug_mode": True, "master_node_ip": "10.0.0.5"}, "debug_mode"),
    ],
)
def test_bad_arguments_fail_before_a_cluster_starts(kwargs: dict, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        RayDistributed(**kwargs)


# -- nuPlan interoperability -------------------------------------------------------------------------
# nuplan-devkit is not installed here (it pulls in torch and a dataset stack), so these tests put a
# tiny stand-in for nuPlan's worker_pool module (an abc.ABC WorkerPool, as nuPlan's is) on sys.path.

FAKE_NUPLAN_WORKER_POOL = '''
import abc


class WorkerPool(abc.ABC):
    @abc.abstractmethod
    def _map(self, task, *item_lists): ...
'''


@pytest.fixture
def fake_nuplan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[type]:
    import importlib
    import sys

    package = tmp_path / "fake_site" / "nuplan" / "planning" / "utils" / "multithreading"
    package.mkdir(parents=True)
    (package / "worker_pool.py").write_text(FAKE_NUPLAN_WORKER_POOL)
    monkeypatch.syspath_prepend(str(tmp_path / "fake_site"))
    yield importlib.import_module("nuplan.planning.utils.multithreading.worker_pool").WorkerPool
    for name in [n for n in sys.modules if n == "nuplan" or n.startswith("nuplan.")]:
        del sys.modules[name]


def test_without_nuplan_registration_is_a_no_op() -> None:
    from dask_runner.dask.nuplan_pools import register_with_nuplan

    assert register_with_nuplan(import_nuplan=False) is False


def test_registered_pools_pass_nuplans_type_check(fake_nuplan: type) -> None:
    from dask_runner.dask.nuplan_pools import register_with_nuplan
    from dask_runner.execution.sequential import Sequential

    assert not isinstance(Sequential(), fake_nuplan)
    assert register_with_nuplan() is True
    assert isinstance(Sequential(), fake_nuplan)
    assert issubclass(RayDistributed, fake_nuplan)


def test_nuplan_worker_yaml_builds_a_registered_dask_pool_with_task_logs(fake_nuplan: type, tmp_path: Path) -> None:
    """What nuPlan's build_worker does with worker=dask_distributed: instantiate(cfg, output_dir=...) + isinstance."""
    from hydra import compose, initialize_config_module
    from hydra.utils import instantiate

    from dask_runner.dask.pool import DaskDistributed

    with initialize_config_module(config_module="dask_runner.config", version_base=None):
        cfg = compose("default_simulation", overrides=["worker=dask_distributed"]).worker
    assert cfg.address is None and cfg.processes is True
    cfg.processes, cfg.n_workers, cfg.threads_per_worker = False, 1, 2
    cfg.dashboard_address, cfg.logs_subdir = "127.0.0.1:0", "logs"
    with instantiate(cfg, output_dir=str(tmp_path)) as pool:
        assert isinstance(pool, DaskDistributed)
        assert isinstance(pool, fake_nuplan)
        assert pool.number_of_threads == 2
        assert pool.map(Task(log_and_square), [6]) == [36]
    logs = list((tmp_path / "logs").glob("*.log"))
    assert len(logs) == 1 and "simulating item 6" in logs[0].read_text()
