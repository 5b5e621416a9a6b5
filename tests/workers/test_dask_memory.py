"""Driver memory stays flat however many runners wait: only a bounded number is ever in flight."""

from __future__ import annotations

import gc

import psutil
import pytest
from distributed import LocalCluster
from runners_for_tests import scripted

from dask_runner.runner.executor import execute_runners
from dask_runner.workers.dask import DaskDistributed


def rss_growth_mb(pool: DaskDistributed, count: int) -> float:
    runners = scripted(["ok"] * count)
    gc.collect()
    before = psutil.Process().memory_info().rss
    reports = execute_runners(runners, pool)
    assert len(reports) == count and all(r.succeeded for r in reports)
    del reports
    gc.collect()
    return (psutil.Process().memory_info().rss - before) / 2**20


@pytest.mark.slow
def test_memory_is_flat_with_20000_queued_runners() -> None:
    with (
        LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address="127.0.0.1:0") as cluster,
        DaskDistributed(cluster=cluster) as pool,
    ):
        rss_growth_mb(pool, 1000)  # warm up imports and caches
        small = rss_growth_mb(pool, 1000)
        large = rss_growth_mb(pool, 20_000)
    print(f"driver RSS growth: {small:.1f} MiB for 1,000 runners, {large:.1f} MiB for 20,000")
    # Everything in flight at once would cost hundreds of MiB (20,000 pickled runners, futures, task
    # states on the scheduler and the worker); bounded submission keeps it to a few dozen at most.
    assert large < 4 * small + 48
