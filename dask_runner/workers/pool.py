"""The worker-pool contract (nuPlan's WorkerPool, Task, WorkerResources) shared by every backend."""

from __future__ import annotations

import abc
import logging
import os
from concurrent.futures import Future
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, Callable, Sequence

import psutil

from dask_runner.errors import ConfigError

if TYPE_CHECKING:
    from dask_runner.runner.abstract_runner import AbstractRunner
    from dask_runner.runner.executor import ExecutionOptions
    from dask_runner.runner.report import RunnerReport

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerResources:
    """What a pool offers: nodes, and GPUs and CPUs on each node."""

    number_of_nodes: int
    number_of_gpus_per_node: int | float
    number_of_cpus_per_node: int

    def number_of_threads(self) -> int:
        return int(self.number_of_nodes * self.number_of_cpus_per_node)

    @staticmethod
    def current_node_cpu_count() -> int:
        """CPUs this process may use (affinity-aware), not the machine's total."""
        try:
            return len(psutil.Process().cpu_affinity() or []) or os.cpu_count() or 1
        except (AttributeError, NotImplementedError):
            return os.cpu_count() or 1


@dataclass(frozen=True)
class Task:
    """A function together with the resources one call of it needs."""

    fn: Callable[..., Any]
    num_cpus: int | None = None
    num_gpus: int | float | None = None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)


def align_item_lists(item_lists: Sequence[Any]) -> list[list[Any]]:
    """nuPlan's argument alignment for ``map``: list arguments must share one length; others are repeated."""
    lengths = {len(items) for items in item_lists if isinstance(items, list)}
    if len(lengths) > 1:
        raise ConfigError(
            f"map() got lists of different lengths {sorted(lengths)}; pass lists of one length "
            "(a non-list argument is repeated for every call)"
        )
    size = lengths.pop() if lengths else 1
    return [items if isinstance(items, list) else [items] * size for items in item_lists]


class WorkerPool(abc.ABC):
    """Runs tasks somewhere. Subclasses implement ``_map`` and ``submit`` and may own resources to shut down.

    Every pool is a context manager; leaving the block calls ``shutdown()``.
    """

    def __init__(self, config: WorkerResources) -> None:
        if config.number_of_threads() <= 0:
            raise ConfigError(f"a worker pool needs at least one thread, got {config}")
        self._config = config

    def map(self, task: Task, *item_lists: Any, verbose: bool = False) -> list[Any]:
        """``task.fn`` over the aligned items, results in input order."""
        if not item_lists:
            raise ConfigError("map() needs at least one argument list")
        return self._map(task, *align_item_lists(item_lists), verbose=verbose)

    @abc.abstractmethod
    def _map(self, task: Task, *item_lists: list[Any], verbose: bool = False) -> list[Any]: ...

    @abc.abstractmethod
    def submit(self, task: Task, *args: Any, **kwargs: Any) -> Future[Any]:
        """Start one call of ``task``; returns a ``concurrent.futures.Future``."""

    @property
    def number_of_threads(self) -> int:
        return self._config.number_of_threads()

    @property
    def config(self) -> WorkerResources:
        return self._config

    def execute_runners(
        self, runners: Sequence[AbstractRunner], options: ExecutionOptions
    ) -> list[RunnerReport]:
        """Run a batch of runners (used by ``execute_runners``); backends may override for a better strategy."""
        from dask_runner.runner.executor import execute_with_futures

        return execute_with_futures(self, runners, options)

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
