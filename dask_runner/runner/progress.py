"""The driver's view of a batch: a tqdm bar with succeeded/failed counts, and the closing log lines."""

from __future__ import annotations

import logging
from typing import Sequence

from tqdm import tqdm

from dask_runner.runner.report import RunnerReport

logger = logging.getLogger("dask_runner")


class BatchProgress:
    def __init__(self, total: int, enabled: bool, description: str = "simulations") -> None:
        self.succeeded = 0
        self.failed = 0
        self._bar = tqdm(total=total, desc=description, disable=not enabled, dynamic_ncols=True)

    def update(self, report: RunnerReport) -> None:
        if report.succeeded:
            self.succeeded += 1
        else:
            self.failed += 1
        self._bar.set_postfix(succeeded=self.succeeded, failed=self.failed, refresh=False)
        self._bar.update(1)

    def close(self) -> None:
        self._bar.close()


def log_batch_summary(reports: Sequence[RunnerReport]) -> None:
    """Says how many runners succeeded and failed, and which [log, scenario] pairs failed."""
    failed = [r for r in reports if not r.succeeded]
    logger.info("Number of successful simulations: %d", len(reports) - len(failed))
    logger.info("Number of failed simulations: %d", len(failed))
    for r in failed:
        last_line = (r.error_message or "").strip().splitlines()[-1:] or [""]
        logger.warning("Failed simulation [log, scenario] = [%s, %s] (stage %s): %s", r.log_name,
                       r.scenario_name, r.error_stage, last_line[0])
