"""What the schedulers and workers of the SLURM clusters dask_runner starts load when they start.

The one place to add a scheduler or worker preload module (a module with ``dask_setup``) for
``worker=dask_slurm`` and ``worker=dask_slurm_runner``: the scheduler runs in the driver's process
(``dask_slurm``) or in rank 0 (``dask_slurm_runner``); workers run in SLURM jobs or ranks, so they get
the module names on their command line or in their options, and import them from their own environment.
"""

from __future__ import annotations

from dask_runner.dask.worker_setup import PRELOAD as FREEZE_IMPORTS

# Modules each scheduler we start on SLURM imports: the Simulations page, there from the start.
SCHEDULER_PRELOADS: list[str] = ["dask_runner.dashboard"]
# Modules each worker we start on SLURM imports: the same set-up as our local clusters' workers.
WORKER_PRELOADS: list[str] = [FREEZE_IMPORTS]


def scheduler_preloads() -> list[str]:
    return list(SCHEDULER_PRELOADS)


def worker_preloads() -> list[str]:
    return list(WORKER_PRELOADS)
