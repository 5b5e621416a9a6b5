"""SingleMachineParallelExecutor: a thread or process pool on this machine (nuPlan's pool, same arguments).

Threads give no speed-up for Python planners (the GIL); use ``use_process_pool=True`` or Dask for that.
Process workers start by spawn, like Dask's, so runner classes must be importable by the workers.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any

from dask_runner.errors import ConfigError
from dask_runner.execution.worker_pool import Task, WorkerPool, WorkerResources


class SingleMachineParallelExecutor(WorkerPool):
    def __init__(self, use_process_pool: bool = False, max_workers: int | None = None) -> None:
        if max_workers is not None and max_workers < 1:
            raise ConfigError(f"max_workers must be at least 1 (or None for one per CPU), got {max_workers}")
        workers = max_workers or WorkerResources.current_node_cpu_count()
        super().__init__(WorkerResources(number_of_nodes=1, number_of_gpus_per_node=0,
                                         number_of_cpus_per_node=workers))
        self._use_process_pool = use_process_pool
        self._executor: Executor = (
            ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
            if use_process_pool
            else ThreadPoolExecutor(max_workers=workers)
        )

    @property
    def use_process_pool(self) -> bool:
        return self._use_process_pool

    @property
    def runs_tasks_in_other_processes(self) -> bool:
        return self._use_process_pool

    def _map(self, task: Task, *item_lists: list[Any], verbose: bool = False) -> list[Any]:
        results = self._executor.map(task.fn, *item_lists)
        from tqdm import tqdm  # here: importing a pool (as composing a job does) need not import it

        return list(tqdm(results, total=len(item_lists[0]), leave=False, disable=not verbose))

    def submit(self, task: Task, *args: Any, **kwargs: Any) -> Future[Any]:
        return self._executor.submit(task.fn, *args, **kwargs)

    def shutdown(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
