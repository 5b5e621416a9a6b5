"""SLURM worker jobs through dask-jobqueue's ``SLURMCluster``: ``worker=dask_slurm``.

What SLURM adds to the shared jobqueue core (``clusters/jobqueue.py``): its account, its time formats, GPUs as
``--gres=gpu:N``, and ``sbatch --test-only`` to refuse a job it would not run before anything is submitted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from dask_runner.clusters.jobqueue import (
    MIN_MEMORY_PER_PROCESS,
    AdaptiveJobs,
    JobQueueSettings,
    dry_run_submission,
    jobqueue_worker_pool,
)
from dask_runner.errors import ConfigError

if TYPE_CHECKING:
    from dask_runner.workers.dask import DaskDistributed

__all__ = ["MIN_MEMORY_PER_PROCESS", "AdaptiveJobs", "SLURMSettings", "slurm_worker_pool",
           "walltime_seconds"]


def walltime_seconds(walltime: str) -> float:
    """SLURM's time formats: ``MM``, ``MM:SS``, ``HH:MM:SS``, ``D-HH``, ``D-HH:MM``, ``D-HH:MM:SS``."""
    text = str(walltime).strip()
    days, dash, rest = text.partition("-")
    if not dash:
        days, rest = "0", text
    try:
        parts = [int(p) for p in rest.split(":")]
        day_count = int(days)
    except ValueError as exc:
        raise ConfigError(f"walltime {walltime!r} is not a SLURM time; pass e.g. walltime='02:00:00' "
                          "(HH:MM:SS) or '1-00:00:00' (D-HH:MM:SS)") from exc
    if dash:
        hours, minutes, seconds = (parts + [0, 0])[:3]
    elif len(parts) == 1:
        hours, minutes, seconds = 0, parts[0], 0
    elif len(parts) == 2:
        hours, minutes, seconds = 0, parts[0], parts[1]
    elif len(parts) == 3:
        hours, minutes, seconds = parts
    else:
        raise ConfigError(f"walltime {walltime!r} is not a SLURM time; pass e.g. walltime='02:00:00'")
    total = ((day_count * 24 + hours) * 60 + minutes) * 60 + seconds
    if total <= 0:
        raise ConfigError(f"walltime {walltime!r} must be longer than zero; pass e.g. walltime='02:00:00'")
    return float(total)


@dataclass(frozen=True)
class SLURMSettings(JobQueueSettings):
    """``worker=dask_slurm``: the shared settings plus the account to charge (``#SBATCH -A``)."""

    scheduler: ClassVar[str] = "SLURM"
    worker_key: ClassVar[str] = "dask_slurm"
    cluster_class: ClassVar[str] = "SLURMCluster"
    queue_listing: ClassVar[str] = "sinfo -o '%P %c %m %G'"

    account: str | None = None

    def walltime_seconds(self) -> float:
        return walltime_seconds(self.walltime)

    def scheduler_kwargs(self) -> dict[str, Any]:
        return {"account": self.account}

    def gpu_directives(self) -> list[str]:
        return [f"--gres=gpu:{self.gpus_per_job}"]

    def check_job_is_accepted(self) -> None:
        dry_run_submission(self, ["sbatch", "--test-only"], "sbatch --test-only")


def slurm_worker_pool(print_job_script: bool = False, **keys: Any) -> DaskDistributed:
    """``worker=dask_slurm``: a DaskDistributed pool on worker jobs it submits, and cancels at shutdown.

    ``keys`` are :class:`SLURMSettings`' fields and DaskDistributed's batch tuning.
    """
    return jobqueue_worker_pool(SLURMSettings, print_job_script, keys)


slurm_worker_pool.keyword_defaults_from = (  # type: ignore[attr-defined]
    "dask_runner.clusters.slurm.SLURMSettings", "dask_runner.workers.dask.DaskDistributed")
