"""RayDistributed on Dask: nuPlan's ``worker=ray_distributed`` configs keep working, with no Ray installed.

The constructor takes nuPlan's arguments and maps them onto a Dask cluster:

- ``threads_per_node`` (or ``number_of_cpus_per_node``): the local cluster's total threads, one
  single-threaded worker process each (Python planners need processes, not threads);
- ``master_node_ip``: the address of a running Dask scheduler (a bare IP means ``tcp://IP:8786``); unlike
  nuPlan it is used even when ``use_distributed`` is false, because giving it says what is wanted;
- ``use_distributed`` without ``master_node_ip``: the scheduler in ``DASK_SCHEDULER_ADDRESS``;
- ``debug_mode``: everything in this process, one task at a time, so a debugger can step into it;
- ``output_dir`` / ``logs_subdir``: one log file per task, ``<output_dir>/<logs_subdir>/<task key>.log``;
- ``log_to_driver``: local workers already print to this terminal; remote workers' logs are forwarded;
- ``number_of_gpus_per_node`` > 0: the workers declare ``GPU`` so tasks with ``num_gpus`` can run;
- ``RAY_TMPDIR`` (environment): the workers' local directory for spill and temporary files.
"""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path
from typing import Any

from dask_runner.dask.pool import DaskDistributed
from dask_runner.errors import ConfigError

logger = logging.getLogger(__name__)

EXAMPLE = ("RayDistributed(threads_per_node=8), RayDistributed(master_node_ip='10.0.0.5') or "
           "RayDistributed(threads_per_node=4, number_of_nodes=1, number_of_gpus_per_node=1)")


def _positive_int(name: str, value: int | None) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{name} must be a positive integer or null, got {value!r}; e.g. {EXAMPLE}")
    return value


class RayDistributed(DaskDistributed):
    """nuPlan's RayDistributed, running on Dask distributed (see the module docstring for the mapping).

    Further keywords (``dashboard_address``, ``memory_limit``, ``max_in_flight_per_slot``, ...) go to
    :class:`DaskDistributed`.
    """

    def __init__(
        self,
        master_node_ip: str | None = None,
        threads_per_node: int | None = None,
        debug_mode: bool = False,
        log_to_driver: bool = True,
        output_dir: str | Path | None = None,
        logs_subdir: str | None = "logs",
        use_distributed: bool = False,
        number_of_nodes: int | None = None,
        number_of_gpus_per_node: float | None = None,
        number_of_cpus_per_node: int | None = None,
        **dask_options: Any,
    ) -> None:
        from dask_runner.dask.nuplan_pools import register_with_nuplan

        register_with_nuplan(import_nuplan=False)  # nuPlan's build_worker checks isinstance(worker, WorkerPool)
        threads = _positive_int("threads_per_node", threads_per_node)
        cpus_per_node = _positive_int("number_of_cpus_per_node", number_of_cpus_per_node)
        nodes = _positive_int("number_of_nodes", number_of_nodes)
        gpus = number_of_gpus_per_node or 0
        if isinstance(gpus, bool) or not isinstance(gpus, (int, float)) or gpus < 0:
            raise ConfigError(f"number_of_gpus_per_node must be a non-negative number, got "
                              f"{number_of_gpus_per_node!r}; e.g. {EXAMPLE}")
        self._debug_mode = debug_mode
        self._log_dir = Path(output_dir) / (logs_subdir or "") if output_dir is not None else None

        address = master_node_ip
        if address is None and use_distributed:
            address = os.environ.get("DASK_SCHEDULER_ADDRESS")
            if address is None:
                logger.warning("use_distributed=True but neither master_node_ip nor DASK_SCHEDULER_ADDRESS is "
                               "set; starting a local Dask cluster instead")
        if address is not None:
            from dask_runner.dask.clusters.address import normalize_address

            if debug_mode:
                raise ConfigError("debug_mode runs everything in this process, so it cannot use master_node_ip; "
                                  "drop one of them, e.g. RayDistributed(debug_mode=True)")
            super().__init__(address=normalize_address(address), **dask_options)
        else:
            if nodes is not None and nodes > 1:
                raise ConfigError(f"number_of_nodes={nodes} needs a multi-node Dask cluster: start a scheduler and "
                                  "workers on the nodes (or dask-jobqueue) and pass master_node_ip='<scheduler ip>'; "
                                  "a local cluster is one node")
            super().__init__(**self._local_cluster_options(threads or cpus_per_node, gpus, debug_mode),
                             **dask_options)

        try:
            if self._log_dir is not None:
                from dask_runner.dask.task_logs import TASK_LOG_PLUGIN, TaskLogPlugin

                self.client.register_plugin(TaskLogPlugin(self._log_dir, raise_root_level_to_info=not debug_mode),
                                            name=TASK_LOG_PLUGIN)
            if log_to_driver and address is not None:
                self.client.forward_logging()
        except BaseException:
            self.shutdown()
            raise
        where = "in this process, one task at a time (debug_mode)" if debug_mode else self.dashboard_link
        logger.warning("RayDistributed runs on Dask distributed, not Ray: %s; dashboard: %s%s", self.config, where,
                       f"; task logs in {self._log_dir}" if self._log_dir is not None else "")

    @staticmethod
    def _local_cluster_options(total_threads: int | None, gpus: float, debug_mode: bool) -> dict[str, Any]:
        """Keywords for the local cluster: ``total_threads`` single-threaded processes, GPUs split among them."""
        options: dict[str, Any] = {}
        tmpdir = os.environ.get("RAY_TMPDIR")
        if tmpdir:
            options["local_directory"] = tmpdir
        if debug_mode:
            options.update(processes=False, n_workers=1, threads_per_worker=1)
            if gpus > 0:
                options["resources"] = {"GPU": float(gpus)}
            return options
        if gpus > 0:
            # One worker per GPU holding its share of the threads, so a GPU is not promised to every process.
            workers = max(1, math.ceil(gpus))
            options["n_workers"] = workers
            if total_threads is not None:
                options["threads_per_worker"] = max(1, total_threads // workers)
            options["resources"] = {"GPU": float(gpus) / workers}
        elif total_threads is not None:
            options.update(n_workers=total_threads, threads_per_worker=1)
        return options

    @property
    def debug_mode(self) -> bool:
        return self._debug_mode

    @property
    def log_dir(self) -> Path | None:
        """Where per-task log files go (``output_dir/logs_subdir``), or None."""
        return self._log_dir

    def shutdown(self) -> None:
        """Remove the task-log plugin from a cluster we do not own, then close what we started."""
        if self._log_dir is not None and not self._closed and not self.owns_cluster:
            from dask_runner.dask.task_logs import TASK_LOG_PLUGIN

            try:
                self.client.unregister_worker_plugin(TASK_LOG_PLUGIN)
            except Exception:
                logger.debug("removing the task-log plugin failed", exc_info=True)
        super().shutdown()




__all__ = ["RayDistributed"]
