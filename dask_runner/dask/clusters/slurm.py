"""SLURM worker jobs through dask-jobqueue's ``SLURMCluster``: ``worker=dask_slurm``.

What SLURM adds to the shared jobqueue core (``clusters/jobqueue.py``): its account, its time formats, GPUs as
``--gres=gpu:N``, ``sbatch --test-only`` to refuse a job it would not run before anything is submitted, and
``squeue`` to list its jobs, so that those that end by themselves are replaced.
"""

from __future__ import annotations

import getpass
import subprocess
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from dask_runner.dask.clusters.jobqueue import (
    MIN_MEMORY_PER_PROCESS,
    AdaptiveJobs,
    JobQueueSettings,
    dry_run_submission,
    jobqueue_worker_pool,
)
from dask_runner.errors import ConfigError

if TYPE_CHECKING:
    from dask_runner.dask.clusters.job_keeper import JobListing
    from dask_runner.dask.pool import DaskDistributed

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
    lists_jobs: ClassVar[bool] = True
    # squeue's states of a job that is over or ending: its workers are gone or going.
    ended_states: ClassVar[frozenset[str]] = frozenset({
        "COMPLETING", "COMPLETED", "CANCELLED", "FAILED", "TIMEOUT", "NODE_FAIL", "PREEMPTED", "BOOT_FAIL",
        "DEADLINE", "OUT_OF_MEMORY", "SPECIAL_EXIT", "STOPPED"})

    account: str | None = None

    def walltime_seconds(self) -> float:
        return walltime_seconds(self.walltime)

    def scheduler_kwargs(self) -> dict[str, Any]:
        return {"account": self.account}

    def gpu_directives(self) -> list[str]:
        return [f"--gres=gpu:{self.gpus_per_job}"]

    def check_job_is_accepted(self) -> None:
        dry_run_submission(self, ["sbatch", "--test-only"], "sbatch --test-only")

    def list_jobs(self) -> JobListing:
        listing = subprocess.run(["squeue", "-h", "-o", "%i|%T|%r", "-u", getpass.getuser()], capture_output=True,
                                 text=True, timeout=60, check=True)
        jobs: JobListing = {}
        for line in listing.stdout.splitlines():
            job_id, _, rest = line.strip().partition("|")
            state, _, reason = rest.partition("|")
            jobs[job_id] = (state, "" if reason == "None" else reason)
        return jobs


def slurm_worker_pool(print_job_script: bool = False, **keys: Any) -> DaskDistributed:
    """``worker=dask_slurm``: a DaskDistributed pool on worker jobs it submits, and cancels at shutdown.

    ``keys`` are :class:`SLURMSettings`' fields and DaskDistributed's batch tuning.
    """
    return jobqueue_worker_pool(SLURMSettings, print_job_script, keys)
