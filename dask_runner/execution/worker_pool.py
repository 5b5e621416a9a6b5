"""The worker-pool contract (nuPlan's WorkerPool, with its Task and WorkerResources) shared by every backend."""

from __future__ import annotations

import abc
import logging
from collections.abc import Callable
from concurrent.futures import Future
from types import TracebackType
from typing import TYPE_CHECKING, Any, Sequence

from dask_runner.errors import ConfigError
from dask_runner.execution.batch_execution import ExecutionOptions, execute_with_futures
from dask_runner.execution.task import Task, WorkerResources

if TYPE_CHECKING:
    from dask_runner.runner.abstract_runner import AbstractRunner
    from dask_runner.runner.report import RunnerReport

logger = logging.getLogger(__name__)


def get_max_size_of_arguments(*item_lists: Any) -> int:
    """nuPlan's rule for ``map``: the list arguments share one length (returned); with none it is 1."""
    lengths = {len(items) for items in item_lists if isinstance(items, list)}
    if len(lengths) > 1:
        raise ConfigError(
            f"map() got lists of different lengths {sorted(lengths)}; pass lists of one length "
            "(a non-list argument is repeated for every call)"
        )
    return lengths.pop() if lengths else 1


def align_size_of_arguments(*item_lists: Any) -> tuple[int, list[list[Any]]]:
    """(size, lists): every non-list argument repeated ``size`` times (nuPlan's alignment for ``map``)."""
    size = get_max_size_of_arguments(*item_lists)
    return size, [items if isinstance(items, list) else [items] * size for items in item_lists]


def _nothing_to_undo() -> None:
    """What undoes a first step that did nothing."""


class WorkerPool(abc.ABC):
    """Runs tasks somewhere. Subclasses implement ``_map`` and ``submit`` and may own resources to shut down.

    Every pool is a context manager; leaving the block calls ``shutdown()``.
    """

    def __init__(self, config: WorkerResources) -> None:
        if config.number_of_threads <= 0:
            raise ConfigError(f"a worker pool needs at least one thread, got {config}")
        self._config = config

    def map(self, task: Task, *item_lists: Any, verbose: bool = False) -> list[Any]:
        """``task.fn`` over the aligned items, results in input order."""
        if not item_lists:
            raise ConfigError("map() needs at least one argument list")
        return self._map(task, *align_size_of_arguments(*item_lists)[1], verbose=verbose)

    @abc.abstractmethod
    def _map(self, task: Task, *item_lists: list[Any], verbose: bool = False) -> list[Any]: ...

    @abc.abstractmethod
    def submit(self, task: Task, *args: Any, **kwargs: Any) -> Future[Any]:
        """Start one call of ``task``; returns a ``concurrent.futures.Future``."""

    @property
    def number_of_threads(self) -> int:
        return self._config.number_of_threads

    @property
    def config(self) -> WorkerResources:
        return self._config

    def execute_runners(
        self, runners: Sequence[AbstractRunner], options: ExecutionOptions
    ) -> list[RunnerReport]:
        """Run a batch of runners (used by ``execute_runners``); backends may override for a better strategy."""
        return execute_with_futures(self, runners, options, results_travel=self.runs_tasks_in_other_processes)

    @property
    def runs_tasks_in_other_processes(self) -> bool:
        """Whether tasks and their results cross process boundaries (they must pickle, both ways)."""
        return False

    # -- what a pool can do beyond running tasks; the defaults are those of a pool that does none of it --

    @classmethod
    def first_step(cls, **settings: Any) -> Callable[[], None]:
        """A job's first step with this kind of pool, before it builds anything (``settings``: the worker node's
        values); returns what undoes it should the job stop before the pool exists. By default nothing."""
        return _nothing_to_undo

    def check_resources(self, num_gpus: float | None, num_cpus: int | None) -> None:
        """ResourceUnavailableError now if no worker could ever run a runner needing these (jobs call it before
        they create their output folder). By default every request runs: the tasks run here, as they come."""

    @property
    def dashboard_link(self) -> str | None:
        """Where the pool's dashboard is, or None without one."""
        return None

    @property
    def simulations_page(self) -> str | None:
        """Where the Simulations page shows the batches the pool runs, or None without one."""
        return None

    def shutdown(self) -> None:
        """Release what the pool owns; calling it twice is harmless."""

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.shutdown()

    def __repr__(self) -> str:
        c = self._config
        return (f"{type(self).__name__}(nodes={c.number_of_nodes}, cpus_per_node={c.number_of_cpus_per_node}, "
                f"gpus_per_node={c.number_of_gpus_per_node})")


__all__ = ["Task", "WorkerPool", "WorkerResources", "align_size_of_arguments", "get_max_size_of_arguments"]
