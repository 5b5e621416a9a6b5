"""Making dask_runner's pools acceptable to nuplan-devkit's own scripts.

nuPlan builds its worker with ``instantiate(cfg.worker, output_dir=cfg.output_dir)`` (every worker but
Sequential and SingleMachineParallelExecutor gets ``output_dir``) and then checks
``isinstance(worker, nuplan...worker_pool.WorkerPool)``. Our pools follow nuPlan's API but do not inherit
nuPlan's class (nuPlan is not a dependency), so:

- :func:`register_with_nuplan` registers our ``WorkerPool`` base as a virtual subclass of nuPlan's
  (an ``abc.ABC``), which makes every dask_runner pool pass the check;
- ``nuplan_dask_*`` are the Hydra targets of ``config/nuplan/worker/*.yaml`` (which include dask_runner's own
  worker nodes, so each pool's keys and defaults are defined once): each registers, takes nuPlan's
  ``output_dir`` (per-task logs under ``output_dir/logs_subdir`` when ``logs_subdir`` is set) and returns the
  pool dask_runner's own ``worker=`` of the same name builds.
"""

from __future__ import annotations

import atexit
import importlib
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dask_runner.dask.pool import DaskDistributed

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
    from dask_runner.execution.worker_pool import WorkerPool

    register(WorkerPool)
    return True


def _for_nuplan(build: Callable[..., DaskDistributed], output_dir: str | Path | None, logs_subdir: str | None,
                options: dict[str, Any]) -> DaskDistributed:
    """``build(**options)`` registered with nuPlan, with one log file per task under ``output_dir/logs_subdir``.

    A process with nothing to run (``worker.print_job_script=true``, the scheduler and worker ranks of
    ``worker=dask_slurm_runner``) exits here with status 0, as dask_runner's own command does: nuPlan's and
    NAVSIM's scripts would otherwise go on to build their simulations without a pool.
    """
    from dask_runner.errors import ConfigError, NothingToRun

    register_with_nuplan()
    if logs_subdir and output_dir is None:
        raise ConfigError(f"worker.logs_subdir={logs_subdir!r} needs nuPlan's output_dir, which is not set; set "
                          "output_dir=... or worker.logs_subdir=null")
    try:
        pool = build(**options)
    except NothingToRun as done:
        if done.output:
            print(done.output, flush=True)
        raise SystemExit(0) from None
    if output_dir is not None and logs_subdir:
        from dask_runner.dask.task_logs import TASK_LOG_PLUGIN, TaskLogPlugin

        try:
            pool.client.register_plugin(TaskLogPlugin(Path(output_dir) / logs_subdir), name=TASK_LOG_PLUGIN)
        except BaseException:
            pool.shutdown()
            raise
    # nuPlan's and NAVSIM's scripts never shut their worker down: at exit the pool closes what it started (the
    # allocation's scheduler and worker ranks end, worker jobs are cancelled, a CUDA cluster stops).
    atexit.register(pool.shutdown)
    return pool


def nuplan_dask_distributed(output_dir: str | Path | None = None, logs_subdir: str | None = None,
                            **options: Any) -> DaskDistributed:
    """nuPlan's ``worker=dask_distributed`` and ``worker=dask_scheduler``: a DaskDistributed (its keywords)."""
    from dask_runner.dask.pool import DaskDistributed

    return _for_nuplan(DaskDistributed, output_dir, logs_subdir, options)


def nuplan_dask_cuda(output_dir: str | Path | None = None, logs_subdir: str | None = None,
                     **options: Any) -> DaskDistributed:
    """nuPlan's ``worker=dask_cuda``: :func:`~dask_runner.dask.clusters.cuda.cuda_worker_pool` (its keywords)."""
    from dask_runner.dask.clusters.cuda import cuda_worker_pool

    return _for_nuplan(cuda_worker_pool, output_dir, logs_subdir, options)


def nuplan_dask_slurm(output_dir: str | Path | None = None, logs_subdir: str | None = None,
                      **options: Any) -> DaskDistributed:
    """nuPlan's ``worker=dask_slurm``: :func:`~dask_runner.dask.clusters.slurm.slurm_worker_pool` (its keywords)."""
    from dask_runner.dask.clusters.slurm import slurm_worker_pool

    return _for_nuplan(slurm_worker_pool, output_dir, logs_subdir, options)


def nuplan_dask_slurm_runner(output_dir: str | Path | None = None, logs_subdir: str | None = None,
                             **options: Any) -> DaskDistributed:
    """nuPlan's ``worker=dask_slurm_runner``: :class:`~dask_runner.dask.allocation_pool.SLURMAllocationPool`
    (its keywords); on the ranks other than the driver it serves, then exits with status 0."""
    from dask_runner.dask.allocation_pool import SLURMAllocationPool

    return _for_nuplan(SLURMAllocationPool, output_dir, logs_subdir, options)


__all__ = ["nuplan_dask_cuda", "nuplan_dask_distributed", "nuplan_dask_slurm", "nuplan_dask_slurm_runner",
           "register_with_nuplan"]
