"""A Nanny of a cluster DaskDistributed starts keeps restarting its worker, however long the worker is down."""

from __future__ import annotations

import os

import pytest
from distributed import wait
from distributed.core import Status
from runners_for_tests import scripted

from dask_runner.dask.pool import DaskDistributed
from dask_runner.execution.executor import execute_runners


@pytest.mark.processes
def test_a_worker_still_down_when_the_lost_worker_timeout_ends_comes_back() -> None:
    import dask

    # Dask closes a Nanny whose worker is not back this long after it died. At 0 s its check runs on the
    # cluster's loop right after the removal, while the worker is certainly still down, so by the time
    # the restarted worker has registered the check has been made (no waiting on a guessed delay).
    with (
        dask.config.set({"distributed.deploy.lost-worker-timeout": "0s"}),
        DaskDistributed(n_workers=1, threads_per_worker=1, dashboard_address=None) as pool,
    ):
        cluster = pool.client.cluster
        [(name, nanny)] = list(cluster.workers.items())
        wait(pool.client.submit(os._exit, 13, pure=False))
        pool.client.wait_for_workers(1, timeout=60)
        # A closing Nanny leaves the cluster's workers at once (and then takes its worker down).
        assert cluster.workers.get(name) is nanny and nanny.status == Status.running
        assert len(pool.client.scheduler_info()["workers"]) == 1
        reports = execute_runners(scripted(["ok", "kill", "ok"], seconds=0.05), pool)
        assert [r.error_stage for r in reports] == [None, "worker_lost", None]
