"""Making dask_runner's pools acceptable to nuplan-devkit's own scripts.

nuPlan builds its worker with ``instantiate(cfg.worker, output_dir=cfg.output_dir)`` (every worker but
Sequential and SingleMachineParallelExecutor gets ``output_dir``) and then checks
``isinstance(worker, nuplan...worker_pool.WorkerPool)``. Our pools follow nuPlan's API but do not inherit
nuPlan's class (nuPlan is not a dependency), so:

- :func:`register_with_nuplan` registers our ``WorkerPool`` base as a virtual subclass of nuPlan's
  (an ``abc.ABC``), which makes every dask_runner pool pass the check;
- :func:`nuplan_dask_distributed` is the Hydra target of ``config/nuplan/worker/dask_distributed.yaml``:
  it registers, takes nuPlan's ``output_dir`` (per-task logs under ``output_dir/logs_subdir`` when
  ``logs_subdir`` is set) and returns a :class:`~dask_runner.workers.dask.DaskDistributed`.
"""

from __future__ import annotations

import importlib
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dask_runner.workers.dask import DaskDistributed

logger = logging.getLogger(__name__)

NUPLAN_WORKER_POOL_MODULE = "nuplan.planning.utils.multithreading.worker_pool"


def register_with_nuplan(import_nuplan: bool = True) -> bool:
    """Make every dask_runner pool an instance of nuPlan's ``WorkerPool``; False when nuPlan is absent.

    With ``import_nuplan=False`` it only registers when nuPlan's module is already loaded (cheap enough
    to call from a constructor: it never imports nuPlan, which pulls in torch). Calling it twice is harmless.
    """
    module = sys.modules.get(NUPLAN_WORKER_POOL_MODULE)
    if module is None:
        if not import_nuplan:
            return False
        try:
            module = importlib.import_module(NUPLAN_WORKER_POOL_MODULE)
        except ImportError:
            return False
    nuplan_pool = getattr(module, "WorkerPool", None)
    register = getattr(nuplan_pool, "register", None)
    if register is None:
        logger.warning("nuPlan's WorkerPool in %s is not an abc.ABC; dask_runner pools cannot be registered "
                       "with it, so nuPlan's type check will reject them", NUPLAN_WORKER_POOL_MODULE)
        return False
    from dask_runner.workers.pool import WorkerPool

    register(WorkerPool)
    return True


def nuplan_dask_distributed(output_dir: str | Path | None = None, logs_subdir: str | None = None,
                            **options: Any) -> DaskDistributed:
    """A DaskDistributed for nuPlan's ``build_worker``: registered with nuPlan, ``output_dir`` accepted.

    ``options`` are DaskDistributed's keywords. With ``logs_subdir`` (and an ``output_dir``), each task
    logs to ``output_dir/logs_subdir/<task key>.log``, as nuPlan's Ray pool does.
    """
    from dask_runner.workers.dask import DaskDistributed

    register_with_nuplan()
    if logs_subdir and output_dir is None:
        from dask_runner.errors import ConfigError

        raise ConfigError(f"worker.logs_subdir={logs_subdir!r} needs nuPlan's output_dir, which is not set; set "
                          "output_dir=... or worker.logs_subdir=null")
    pool = DaskDistributed(**options)
    if output_dir is not None and logs_subdir:
        from dask_runner.workers.task_logs import TASK_LOG_PLUGIN, TaskLogPlugin

        try:
            pool.client.register_plugin(TaskLogPlugin(Path(output_dir) / logs_subdir), name=TASK_LOG_PLUGIN)
        except BaseException:
            pool.shutdown()
            raise
    return pool


# Its keywords are DaskDistributed's: the nuPlan worker YAML takes their defaults from there.
nuplan_dask_distributed.keyword_defaults_from = "dask_runner.workers.dask.DaskDistributed"  # type: ignore[attr-defined]

__all__ = ["nuplan_dask_distributed", "register_with_nuplan"]
