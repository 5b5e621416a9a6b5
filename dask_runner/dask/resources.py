"""What a task asks of a Dask worker (resource annotation) and whether any worker can ever give it.

Dask waits forever for a resource request that no worker can satisfy, so every request is checked
against the live workers before anything is submitted.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dask_runner.errors import ResourceUnavailableError
from dask_runner.execution.worker_pool import WorkerResources

GPU_HINT = (
    "start GPU workers (worker=dask_cuda, or `dask worker --resources GPU=1` / "
    "`worker_extra_args=['--resources', 'GPU=1']` on SLURM), or set "
    "number_of_gpus_allocated_per_simulation=0 to run on CPUs"
)
CPU_HINT = "start the workers with `--resources CPU=n` (n = their threads) so tasks can hold several threads"


@dataclass(frozen=True)
class WorkerInfo:
    """The part of the scheduler's view of one worker that placement depends on."""

    address: str
    host: str
    nthreads: int
    resources: dict[str, float]
    has_nanny: bool


def workers_from_scheduler_info(info: Mapping[str, Any]) -> list[WorkerInfo]:
    """Parse ``client.scheduler_info()`` into WorkerInfo records."""
    workers = []
    for address, w in dict(info.get("workers", {})).items():
        host = str(w.get("host") or address.split("://")[-1].rpartition(":")[0])
        workers.append(WorkerInfo(
            address=str(address),
            host=host,
            nthreads=int(w.get("nthreads", 1)),
            resources={str(k): float(v) for k, v in dict(w.get("resources") or {}).items()},
            has_nanny=bool(w.get("nanny")),
        ))
    return workers


def task_resources(num_cpus: int | None, num_gpus: float | None, workers: list[WorkerInfo]) -> dict[str, float]:
    """The ``resources=`` of a task needing ``num_cpus`` threads and ``num_gpus`` GPUs (fractions share one).

    One thread needs no annotation (every task takes one). More threads are held through a ``CPU``
    resource, which the workers dask_runner starts declare equal to their threads.
    """
    resources: dict[str, float] = {}
    if num_gpus is not None and num_gpus > 0:
        resources["GPU"] = float(num_gpus)
    if num_cpus is not None and num_cpus > 1:
        if workers and not any("CPU" in w.resources for w in workers):
            raise ResourceUnavailableError(
                f"a task asks for {num_cpus} CPUs, but no worker declares a CPU resource "
                f"(workers: {describe_workers(workers)}); {CPU_HINT}, or ask for num_cpus=1"
            )
        resources["CPU"] = float(num_cpus)
    return resources


def check_satisfiable(resources: dict[str, float], workers: list[WorkerInfo]) -> None:
    """Raise ResourceUnavailableError when no worker's totals cover ``resources`` (Dask would wait forever).

    With no worker connected yet (an adaptive cluster scaling up) nothing can be judged; we pass.
    """
    if not resources or not workers:
        return
    if any(all(w.resources.get(name, 0.0) >= amount for name, amount in resources.items()) for w in workers):
        return
    hints = []
    if "GPU" in resources:
        hints.append(GPU_HINT)
    if "CPU" in resources:
        hints.append(f"ask for at most {max(w.resources.get('CPU', 0.0) for w in workers):g} CPUs, or {CPU_HINT}")
    raise ResourceUnavailableError(
        f"no worker can ever run a task that needs {resources}: the workers offer {describe_workers(workers)}. "
        + "; ".join(hints)
    )


def describe_workers(workers: list[WorkerInfo], limit: int = 5) -> str:
    shown = ", ".join(f"{w.address} ({w.nthreads} threads, resources {w.resources or {}})" for w in workers[:limit])
    more = f" and {len(workers) - limit} more" if len(workers) > limit else ""
    return shown + more


def slots_for(resources: dict[str, float], workers: list[WorkerInfo]) -> int:
    """How many tasks with ``resources`` the cluster runs at once (threads, capped by each resource)."""
    total = 0
    for w in workers:
        slots = w.nthreads
        for name, amount in resources.items():
            slots = min(slots, math.floor(w.resources.get(name, 0.0) / amount + 1e-9))
        total += max(0, slots)
    return total


def cluster_resources(workers: list[WorkerInfo]) -> WorkerResources:
    """nuPlan's view of the cluster: distinct hosts as nodes, threads and GPUs per node (averaged)."""
    if not workers:
        return WorkerResources(number_of_nodes=1, number_of_gpus_per_node=0, number_of_cpus_per_node=1)
    nodes = len({w.host for w in workers})
    threads = sum(w.nthreads for w in workers)
    gpus = sum(w.resources.get("GPU", 0.0) for w in workers)
    gpus_per_node: int | float = gpus / nodes
    if float(gpus_per_node).is_integer():
        gpus_per_node = int(gpus_per_node)
    return WorkerResources(
        number_of_nodes=nodes,
        number_of_gpus_per_node=gpus_per_node,
        number_of_cpus_per_node=max(1, threads // nodes),
    )
