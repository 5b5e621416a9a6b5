"""What the ranks of one ``srun`` step tell each other through the folder of its scheduler file.

The ranks of one allocation reach Dask when SLURM and their imports let them: under a script that imports
a large package first (nuPlan's ``run_simulation.py``), a worker rank can get there after a short batch
has ended and its scheduler is gone. Dask cannot tell "not started yet" from "already gone": in both cases
there is no scheduler file (dask-jobqueue's ``SLURMRunner`` and Dask's ``Nanny`` wait for it forever), or
a file not yet removed names an address nobody listens on any more (a Nanny retries it, then fails). So the
driver says it first, in a file, before it closes the scheduler (``end``); a rank that sees it before it
has joined has nothing left to do and exits with status 0 (``ended``).

That file must outlive every rank that may still look for it, so it is not the scheduler's to remove:
each rank that ends its part normally records it (``leave``) and the last one removes the folder. A rank
that fails records nothing, so a failed step leaves its folder behind, as evidence.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

ENDED = "ended"
LEFT = "left-"


@dataclass(frozen=True)
class AllocationStep:
    """The shared record of one job step: ``folder`` beside the scheduler file, ``ranks`` ranks in the step."""

    folder: Path
    ranks: int

    @classmethod
    def beside(cls, scheduler_file: Path, job_id: str, step_id: str, ranks: int) -> AllocationStep:
        """The step's folder names the job and the step, so what an earlier ``srun`` left is never read."""
        return cls(scheduler_file.parent / f"dask-runner-step-{job_id}.{step_id}", ranks)

    def end(self) -> None:
        """The driver, before it closes the scheduler: ranks that have not joined yet leave when they see it."""
        try:
            self.folder.mkdir(exist_ok=True)
            (self.folder / ENDED).touch()
        except OSError:
            logger.warning("could not mark the allocation's batch as ended in %s: worker ranks that have not "
                           "joined yet will wait for the scheduler", self.folder, exc_info=True)

    def ended(self) -> bool:
        return (self.folder / ENDED).exists()

    def leave(self, rank: int) -> None:
        """Rank ``rank`` has ended its part normally; the last of the step's ranks to do so removes the folder."""
        try:
            self.folder.mkdir(exist_ok=True)
            (self.folder / f"{LEFT}{rank}").touch()
            left = sum(1 for path in self.folder.iterdir() if path.name.startswith(LEFT))
        except OSError:
            logger.debug("could not record that rank %d left in %s", rank, self.folder, exc_info=True)
            return
        if left >= self.ranks:
            shutil.rmtree(self.folder, ignore_errors=True)  # two last ranks may remove it at once
