"""Adds dask_runner's nuPlan worker configs to the search path of every Hydra application (nuPlan's scripts).

With dask_runner installed, nuPlan's and NAVSIM's own scripts take ``worker=dask_distributed``,
``dask_scheduler``, ``dask_cuda``, ``dask_slurm`` and ``dask_slurm_runner`` without a ``hydra.searchpath``
override (an override there replaces the app's own entries instead of adding to them). Those nodes, and
dask_runner's own, take their keys, types and defaults from the pools' schemas, which the plugin stores in
Hydra's ConfigStore (``/worker_schema/<name>``, see ``dask_runner.dask.worker_schemas``), so each pool's
settings are written once, in Python. With ``DASK_RUNNER_RAY_SHIM=1`` in the environment, ``worker=ray_distributed`` resolves to
dask_runner's Ray-compatible pool instead of nuPlan's Ray worker, and so does NAVSIM's
``worker=ray_distributed_no_torch``; without it their Ray workers are untouched.
"""

from __future__ import annotations

import os

from hydra.core.config_search_path import ConfigSearchPath
from hydra.plugins.search_path_plugin import SearchPathPlugin

RAY_SHIM_ENV = "DASK_RUNNER_RAY_SHIM"
NUPLAN_WORKERS = "pkg://dask_runner.config.nuplan"
RAY_SHIM_WORKERS = "pkg://dask_runner.config.nuplan_ray_shim"


def ray_shim_requested() -> bool:
    return os.environ.get(RAY_SHIM_ENV, "").strip().lower() in ("1", "true", "yes", "on")


class DaskRunnerSearchPathPlugin(SearchPathPlugin):
    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        from dask_runner.dask.worker_schemas import register

        register()  # before any worker node that lists its schema is read
        search_path.append(provider="dask_runner", path=NUPLAN_WORKERS)
        if ray_shim_requested():
            # Ahead of every other entry, so this worker/ray_distributed.yaml is the one Hydra finds.
            search_path.prepend(provider="dask_runner-ray-shim", path=RAY_SHIM_WORKERS)
