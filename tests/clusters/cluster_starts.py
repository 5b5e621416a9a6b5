"""A cluster for worker=dask_cuda's construction tests without a GPU, and the check that none is left running.

:func:`start_counted_cluster` (a node's ``_target_``) starts an in-process local cluster where
``start_cuda_cluster`` would start a LocalCUDACluster (the pool sees a cluster either way) and keeps it, so
:func:`leaves_no_cluster` can tell whether every cluster started inside it was closed.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sync_helpers import wait_until

from dask_runner.dask.clusters.local import start_local_cluster

STARTED: list[Any] = []


def start_counted_cluster(**keys: Any) -> Any:
    cluster = start_local_cluster(**keys)
    STARTED.append(cluster)
    return cluster


@contextmanager
def leaves_no_cluster() -> Iterator[list[Any]]:
    """Yields the clusters started inside (filled as they start); on leaving, each must be closed and no thread
    started inside (the cluster's event loop, its workers' threads) may still run."""
    threads, first = set(threading.enumerate()), len(STARTED)
    started: list[Any] = []
    yield started
    started.extend(STARTED[first:])
    from distributed.core import Status

    assert [cluster.status for cluster in started] == [Status.closed] * len(started)
    wait_until(lambda: not [t for t in threading.enumerate() if t not in threads], 10,
               "the threads of the clusters started to end")
