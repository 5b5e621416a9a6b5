"""HTCondor worker jobs through dask-jobqueue's ``HTCondorCluster``: ``worker=dask_htcondor``.

HTCondor differs from the queue-based schedulers: a submit description of ``key = value`` lines instead of
directives (``job_extra_directives`` are such lines here), the scratch disk each job asks for (``disk``), GPUs as
``request_gpus``, no queue, and no walltime of its own: ``walltime`` (``HH:MM:SS``) becomes the ``+MaxRuntime``
many pools enforce, and the workers retire before it as elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from dask_runner.dask.clusters.jobqueue import JobQueueSettings, jobqueue_worker_pool
from dask_runner.errors import ConfigError

if TYPE_CHECKING:
    from dask_runner.dask.pool import DaskDistributed


@dataclass(frozen=True)
class HTCondorSettings(JobQueueSettings):
    """``worker=dask_htcondor``: the shared settings plus the disk each job asks for; no queue."""

    scheduler: ClassVar[str] = "HTCondor"
    worker_key: ClassVar[str] = "dask_htcondor"
    cluster_class: ClassVar[str] = "HTCondorCluster"
    queue_listing: ClassVar[str] = "condor_status"

    disk: str = "1GB"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.queue is not None:
            raise ConfigError(f"HTCondor has no queues: leave worker.queue=null (got {self.queue!r}); choose "
                              "machines with a requirements line, e.g. worker.job_extra_directives="
                              "'[\"requirements = (OpSysMajorVer == 9)\"]'")
        self.submit_lines()

    def submit_lines(self) -> dict[str, str]:
        """``job_extra_directives`` as the submit description's ``key = value`` pairs, checked."""
        lines = {}
        for line in self.job_extra_directives or []:
            key, equals, value = line.partition("=")
            if not equals or not key.strip():
                raise ConfigError(f"HTCondor's job_extra_directives are submit description lines 'key = value', "
                                  f"got {line!r}; e.g. worker.job_extra_directives='[\"+ProjectName = \\\"mine\\\"\"]'")
            lines[key.strip()] = value.strip()
        return lines

    def job_kwargs(self) -> dict[str, Any]:
        kwargs = super().job_kwargs()
        del kwargs["queue"], kwargs["walltime"]
        lines = {"+MaxRuntime": str(int(self.walltime_seconds()))}
        if self.gpus_per_job:
            lines["request_gpus"] = str(self.gpus_per_job)
        kwargs["job_extra_directives"] = {**lines, **self.submit_lines()}
        kwargs["disk"] = self.disk
        return kwargs


def htcondor_worker_pool(print_job_script: bool = False, **keys: Any) -> DaskDistributed:
    """``worker=dask_htcondor``: a DaskDistributed pool on HTCondor worker jobs it submits, removed at shutdown."""
    return jobqueue_worker_pool(HTCondorSettings, print_job_script, keys)
