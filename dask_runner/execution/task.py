"""What a task needs (``Task``) and what a pool offers (``WorkerResources``): nuPlan's two frozen records.

They sit apart from the pool class so that the batch machinery below the pools can name them without
importing the pools.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Callable

import psutil


@dataclass(frozen=True)
class WorkerResources:
    """What a pool offers: nodes, and GPUs and CPUs on each node."""

    number_of_nodes: int
    number_of_gpus_per_node: int | float
    number_of_cpus_per_node: int

    @property
    def number_of_threads(self) -> int:
        """Threads over all nodes (a property, as in nuPlan: ``worker.config.number_of_threads``)."""
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
