"""IBM Spectrum LSF worker jobs through dask-jobqueue's ``LSFCluster``: ``worker=dask_lsf``.

What LSF adds to the shared jobqueue core: its project (``-P``), its walltime format (``-W [HH:]MM``), the unit of
``-M`` (``lsf_units``; dask-jobqueue asks ``lsadmin`` when not given), and GPUs as ``-gpu "num=N"``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from dask_runner.dask.clusters.jobqueue import JobQueueSettings, clock_seconds, jobqueue_worker_pool
from dask_runner.errors import ConfigError

if TYPE_CHECKING:
    from dask_runner.dask.pool import DaskDistributed


@dataclass(frozen=True)
class LSFSettings(JobQueueSettings):
    """``worker=dask_lsf``: the shared settings plus LSF's project and memory unit; walltime is ``[HH:]MM``."""

    scheduler: ClassVar[str] = "LSF"
    worker_key: ClassVar[str] = "dask_lsf"
    cluster_class: ClassVar[str] = "LSFCluster"
    walltime_example: ClassVar[str] = "01:00"
    queue_listing: ClassVar[str] = "bqueues; bhosts"

    walltime: str = "01:00"
    project: str | None = None
    lsf_units: str | None = None

    def walltime_seconds(self) -> float:
        parts = str(self.walltime).strip().split(":")
        if len(parts) > 2:
            raise ConfigError(f"walltime {self.walltime!r} is not an LSF time ([HH:]MM); pass e.g. walltime='01:00'")
        return 60 * clock_seconds(self.walltime, self.walltime_example)  # [HH:]MM read as [MM:]SS, times 60

    def scheduler_kwargs(self) -> dict[str, Any]:
        return {"project": self.project, "lsf_units": self.lsf_units}

    def gpu_directives(self) -> list[str]:
        return [f'-gpu "num={self.gpus_per_job}"']


def lsf_worker_pool(print_job_script: bool = False, **keys: Any) -> DaskDistributed:
    """``worker=dask_lsf``: a DaskDistributed pool on LSF worker jobs it submits, and kills at shutdown."""
    return jobqueue_worker_pool(LSFSettings, print_job_script, keys)
