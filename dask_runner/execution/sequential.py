"""Sequential: runs every task in the calling thread, one after another (for debugging and tests)."""

from __future__ import annotations

from concurrent.futures import Future
from typing import Any

from dask_runner.execution.worker_pool import Task, WorkerPool, WorkerResources


class Sequential(WorkerPool):
    def __init__(self) -> None:
        super().__init__(WorkerResources(number_of_nodes=1, number_of_gpus_per_node=0, number_of_cpus_per_node=1))

    def _map(self, task: Task, *item_lists: list[Any], verbose: bool = False) -> list[Any]:
        from tqdm import tqdm  # here: importing a pool (as composing a job does) need not import it

        return [task.fn(*args) for args in tqdm(list(zip(*item_lists)), leave=False, disable=not verbose)]

    def submit(self, task: Task, *args: Any, **kwargs: Any) -> Future[Any]:
        """Runs the task now; the returned future is already done (holding the result or the exception)."""
        future: Future[Any] = Future()
        try:
            future.set_result(task.fn(*args, **kwargs))
        except Exception as exc:
            future.set_exception(exc)
        return future
