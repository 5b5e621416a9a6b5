"""``worker=dask_slurm_runner``: the pool of one SLURM allocation, every rank running the same command.

Its first step gives each rank its role (``dask_runner.dask.clusters.slurm_runner``): the scheduler and worker ranks
serve there and leave by NothingToRun; on the driver (rank 1) the pool is a DaskDistributed on the allocation's
cluster, whose ranks it ends at shutdown.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import fields
from typing import Any

from dask_runner.dask.clusters.jobqueue import wait_for_first_worker
from dask_runner.dask.clusters.slurm_runner import (
    SLURMRunnerSettings,
    serve_unless_driver,
    start_allocation_cluster,
)
from dask_runner.dask.pool import DaskDistributed

logger = logging.getLogger(__name__)


class SLURMAllocationPool(DaskDistributed):
    """A DaskDistributed on the allocation's cluster; ``keys`` are :class:`SLURMRunnerSettings`' fields and
    DaskDistributed's batch tuning (``max_in_flight_per_slot``, ...). Built on a rank other than the driver it
    serves as that rank, and raises NothingToRun once the driver has ended the allocation."""

    def __init__(self, **keys: Any) -> None:
        names = {f.name for f in fields(SLURMRunnerSettings)}
        settings = SLURMRunnerSettings(**{k: v for k, v in keys.items() if k in names})
        cluster = start_allocation_cluster(settings)
        super().__init__(cluster=cluster, **{k: v for k, v in keys.items() if k not in names})
        try:
            wait_for_first_worker(self, settings.start_timeout_s, None)
        except BaseException:
            self.shutdown()
            raise
        logger.info("Allocation cluster: scheduler %s, %d worker rank(s), dashboard %s",
                    cluster.cluster.scheduler_address, int(os.environ["SLURM_NTASKS"]) - 2, self.dashboard_link or "off")

    @classmethod
    def first_step(cls, **settings: Any) -> Callable[[], None]:
        """The scheduler and worker ranks serve here, before the job builds anything (see ``serve_unless_driver``)."""
        return serve_unless_driver(**settings)


__all__ = ["SLURMAllocationPool"]
