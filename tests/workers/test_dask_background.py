"""The clusters DaskDistributed starts keep Dask's background work off the simulations' cores."""

from __future__ import annotations

import os

import pytest

from dask_runner.dask.pool import DaskDistributed


def _worker_view() -> dict[str, object]:
    import gc

    import dask

    return {
        "frozen_objects": gc.get_freeze_count(),
        "malloc_trim": os.environ.get("MALLOC_TRIM_THRESHOLD_"),
        "omp_threads": os.environ.get("OMP_NUM_THREADS"),
        "tick": dask.config.get("distributed.admin.tick.interval"),
        "memory_monitor": dask.config.get("distributed.worker.memory.monitor-interval"),
    }


@pytest.mark.processes
def test_workers_keep_glibc_malloc_defaults_and_a_slow_tick(monkeypatch: pytest.MonkeyPatch) -> None:
    import dask
    import distributed  # noqa: F401  (loads Dask's distributed defaults)

    # Another Dask cluster started earlier in this process would have left the variable in our environment.
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    driver_tick = dask.config.get("distributed.admin.tick.interval")
    with DaskDistributed(n_workers=1, threads_per_worker=1, dashboard_address=None) as pool:
        views = list(pool.client.run(_worker_view).values())
        assert pool.client.submit(sum, [1, 2, 3]).result(timeout=30) == 6
    assert len(views) == 1
    # No forced malloc trimming (it made every large numpy array an mmap/munmap pair) ...
    assert views[0]["malloc_trim"] is None
    # ... while Dask's one-thread-per-worker BLAS setting still reaches the worker.
    assert views[0]["omp_threads"] == "1"
    assert views[0]["tick"] == "1s"
    assert views[0]["memory_monitor"] == "500ms"
    # The worker's imports are frozen out of Python's full collections (distributed alone is ~35,000 objects).
    assert views[0]["frozen_objects"] > 10_000
    # The user's own Dask configuration is left as it was.
    assert dask.config.get("distributed.admin.tick.interval") == driver_tick
    assert "MALLOC_TRIM_THRESHOLD_" not in os.environ
