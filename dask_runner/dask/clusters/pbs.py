"""PBS Pro / OpenPBS / Torque worker jobs through dask-jobqueue's ``PBSCluster``: ``worker=dask_pbs``.

What PBS adds to the shared jobqueue core: its account (``-A``), the ``select`` statement (``-l select=1:
ncpus=..:mem=..``, with ``:ngpus=N`` for GPUs) unless ``resource_spec`` is given whole. PBS has no "check, don't
run" submission, so a job it refuses shows in its queue and in the no-worker message.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from dask_runner.dask.clusters.jobqueue import JobQueueSettings, jobqueue_worker_pool

if TYPE_CHECKING:
    from dask_runner.dask.pool import DaskDistributed


@dataclass(frozen=True)
class PBSSettings(JobQueueSettings):
    """``worker=dask_pbs``: the shared settings plus PBS's account and an explicit resource request."""

    scheduler: ClassVar[str] = "PBS"
    worker_key: ClassVar[str] = "dask_pbs"
    cluster_class: ClassVar[str] = "PBSCluster"
    queue_listing: ClassVar[str] = "qstat -Q; pbsnodes -a"

    account: str | None = None
    resource_spec: str | None = None

    def scheduler_kwargs(self) -> dict[str, Any]:
        resource_spec = self.resource_spec
        if resource_spec is None and self.gpus_per_job:
            # dask-jobqueue writes select=1:ncpus=N:mem=M only when no spec is given: add the GPUs to it.
            memory_gb = math.ceil(self.memory_bytes / 1e9)
            resource_spec = f"select=1:ncpus={self.cores}:ngpus={self.gpus_per_job}:mem={memory_gb}GB"
        return {"account": self.account, "resource_spec": resource_spec}


def pbs_worker_pool(print_job_script: bool = False, **keys: Any) -> DaskDistributed:
    """``worker=dask_pbs``: a DaskDistributed pool on PBS worker jobs it submits, and deletes at shutdown."""
    return jobqueue_worker_pool(PBSSettings, print_job_script, keys)
