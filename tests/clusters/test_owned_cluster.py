"""Every kind of cluster dask_runner starts for a pool gets one policy: allowed-failures 0 (the pool re-runs the
runners of a dead worker itself), its dashboard pages attached in the background, and ``shutdown()`` closing it.

Local clusters run in-process and with processes; CUDA and dask-jobqueue on their construction paths that need no
GPU or batch scheduler (a ``LocalCluster`` through the CUDA starter; a PBS cluster scaled adaptively from zero
jobs, so nothing is submitted). The SLURM tier checks dask-jobqueue's with real jobs (tests/slurm).
"""

from __future__ import annotations

import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from distributed import LocalCluster
from distributed.core import Status

from dask_runner.dask.clusters.cuda import cuda_worker_pool, start_cluster_of
from dask_runner.dask.clusters.owned import ALLOWED_FAILURES, OwnedCluster
from dask_runner.dask.pool import DaskDistributed
from dask_runner.execution.worker_pool import Task

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "dashboard"))
from dashboard_helpers import http_base  # noqa: E402


def _allowed_failures(dask_scheduler: Any) -> int:
    return int(dask_scheduler.allowed_failures)


def _page(url: str) -> str:
    with urllib.request.urlopen(url, timeout=60) as response:
        assert response.status == 200
        return str(response.read().decode())


def _check_policy(pool: DaskDistributed, pages: bool = True) -> None:
    """The pool's cluster: allowed-failures 0, started without dashboard pages and served them when asked; then
    closed by ``shutdown()``, the client first."""
    cluster = pool.client.cluster
    assert pool.owns_cluster and cluster.status == Status.running
    assert pool.client.run_on_scheduler(_allowed_failures) == ALLOWED_FAILURES == 0
    assert cluster.scheduler_spec["options"]["dashboard"] is False  # its pages come in the background...
    if pages:
        assert pool.simulations_page is not None and pool.simulations_page.endswith("/individual-simulations")
        assert "Bokeh" in _page(f"{http_base(pool.client)}/individual-simulations")  # ...when asked for
    pool.shutdown()
    assert cluster.status == Status.closed and pool.client.status == "closed"
    pool.shutdown()  # twice is harmless


def test_a_local_in_process_cluster_a_pool_starts() -> None:
    pool = DaskDistributed(n_workers=1, processes=False, dashboard_address="127.0.0.1:0")
    assert pool.map(Task(fn=abs), [-1, -2]) == [1, 2]
    _check_policy(pool)


@pytest.mark.slow
@pytest.mark.processes
def test_a_local_cluster_of_processes_a_pool_starts() -> None:
    pool = DaskDistributed(n_workers=1, threads_per_worker=1, dashboard_address="127.0.0.1:0", security=False)
    assert pool.map(Task(fn=abs), [-1, -2]) == [1, 2]
    _check_policy(pool)


def test_a_local_cluster_without_a_dashboard_gives_no_link() -> None:
    pool = DaskDistributed(n_workers=1, processes=False, dashboard_address=None)
    assert pool.dashboard_link is None
    _check_policy(pool, pages=False)


def test_a_cluster_handed_to_a_pool_keeps_its_settings_and_stays_open() -> None:
    with LocalCluster(n_workers=1, processes=False, dashboard_address=":0") as cluster:
        pool = DaskDistributed(cluster=cluster)
        assert not pool.owns_cluster
        assert pool.client.run_on_scheduler(_allowed_failures) == 3  # Dask's default, not ours
        pool.shutdown()
        assert cluster.status == Status.running


def test_the_cuda_starter_and_pool_without_a_gpu() -> None:
    """start_cuda_cluster's last step with a LocalCluster in place of LocalCUDACluster (same keywords), then the
    worker=dask_cuda pool on it."""
    cluster = start_cluster_of(LocalCluster, dashboard="127.0.0.1:0", n_workers=1, processes=False,
                               threads_per_worker=1, resources={"GPU": 1.0})
    pool = cuda_worker_pool(cluster, start_timeout_s=30)
    assert pool.client.cluster is cluster
    _check_policy(pool)


def test_a_dask_jobqueue_cluster_without_a_scheduler(tmp_path: Path) -> None:
    """A PBS cluster scaled adaptively from zero jobs submits nothing (no qsub here) but starts its scheduler."""
    pytest.importorskip("dask_jobqueue")
    from dask_runner.dask.clusters.jobqueue import AdaptiveJobs, start_jobqueue_cluster
    from dask_runner.dask.clusters.pbs import PBSSettings

    settings = PBSSettings(cores=1, memory="1GB", interface="lo", dashboard_port=0, jobs=None,
                           adapt=AdaptiveJobs(minimum_jobs=0, maximum_jobs=1), log_directory=str(tmp_path))
    owned = start_jobqueue_cluster(settings)
    assert isinstance(owned, OwnedCluster) and owned.dashboard
    pool = DaskDistributed(cluster=owned)
    assert pool.dashboard_link is not None
    _check_policy(pool)
    assert not list(tmp_path.rglob("*.pem"))  # the batch's certificates went with it
