"""Grid Engine (SGE, Son of Grid Engine, Univa/Altair GE) worker jobs through dask-jobqueue's ``SGECluster``:
``worker=dask_sge``.

What Grid Engine adds to the shared jobqueue core: its project (``-P``), a resource request (``-l``), GPUs as a
consumable (``-l gpu=N``; sites name it differently: ``gpu_resource``), and ``qsub -w v`` to refuse a job no
queue could run before anything is submitted, and ``qstat`` to list its jobs, so that those that end by
themselves are replaced.
"""

from __future__ import annotations

import getpass
import subprocess
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar
from xml.etree import ElementTree

from dask_runner.dask.clusters.jobqueue import JobQueueSettings, dry_run_submission, jobqueue_worker_pool

if TYPE_CHECKING:
    from dask_runner.dask.clusters.job_keeper import JobListing
    from dask_runner.dask.pool import DaskDistributed


@dataclass(frozen=True)
class SGESettings(JobQueueSettings):
    """``worker=dask_sge``: the shared settings plus Grid Engine's project and resource request."""

    scheduler: ClassVar[str] = "Grid Engine"
    worker_key: ClassVar[str] = "dask_sge"
    cluster_class: ClassVar[str] = "SGECluster"
    queue_listing: ClassVar[str] = "qstat -g c; qconf -sql"
    lists_jobs: ClassVar[bool] = True
    ended_states: ClassVar[frozenset[str]] = frozenset({"ENDING"})

    project: str | None = None
    resource_spec: str | None = None
    gpu_resource: str = "gpu"

    def scheduler_kwargs(self) -> dict[str, Any]:
        return {"project": self.project, "resource_spec": self.resource_spec}

    def gpu_directives(self) -> list[str]:
        return [f"-l {self.gpu_resource}={self.gpus_per_job}"]

    def check_job_is_accepted(self) -> None:
        # -w v: "verify" against an empty cluster; refuses unknown queues, projects and unsatisfiable requests.
        dry_run_submission(self, ["qsub", "-w", "v"], "qsub -w v")

    def list_jobs(self) -> JobListing:
        # Grid Engine's state letters: q(ueued) w(aiting) h(old), r(unning) t(ransferring) s(uspended), and
        # d(eleting) E(rror), which end the job.
        listing = subprocess.run(["qstat", "-xml", "-u", getpass.getuser()], capture_output=True, text=True,
                                 timeout=60, check=True)
        jobs: JobListing = {}
        for job in ElementTree.fromstring(listing.stdout).iter("job_list"):
            letters = job.findtext("state", "")
            state = "ENDING" if {"d", "E"} & set(letters) else "PENDING" if "q" in letters else "RUNNING"
            jobs[job.findtext("JB_job_number", "")] = (state, "held" if "h" in letters else "")
        return jobs


def sge_worker_pool(print_job_script: bool = False, **keys: Any) -> DaskDistributed:
    """``worker=dask_sge``: a DaskDistributed pool on Grid Engine worker jobs it submits, and deletes at shutdown."""
    return jobqueue_worker_pool(SGESettings, print_job_script, keys)
