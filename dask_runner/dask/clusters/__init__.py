"""Where Dask workers come from: this machine, its GPUs, or a scheduler that already runs.

Imports are lazy so that ``import dask_runner`` does not pay for distributed (or dask-cuda).
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["connect_client", "gpu_count", "normalize_address", "start_cuda_cluster", "start_local_cluster"]

_WHERE = {
    "start_local_cluster": "dask_runner.dask.clusters.local",
    "start_cuda_cluster": "dask_runner.dask.clusters.cuda",
    "gpu_count": "dask_runner.dask.clusters.cuda",
    "connect_client": "dask_runner.dask.clusters.address",
    "normalize_address": "dask_runner.dask.clusters.address",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
