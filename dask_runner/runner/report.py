"""RunnerReport: nuPlan's fields in nuPlan's order, then dask_runner's defaulted extras."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal, Optional

from dask_runner.planners.planner_report import PlannerReport

ErrorStage = Literal["simulation", "callback", "timeout", "worker_lost", "cancelled"]
ERROR_STAGES: tuple[str, ...] = ("simulation", "callback", "timeout", "worker_lost", "cancelled")


@dataclass(frozen=True)
class RunnerReport:
    """The outcome of one runner. Frozen: an executor never changes a report it has handed out.

    ``start_time``/``end_time`` are epoch seconds (``time.time()``), comparable across machines.
    """

    succeeded: bool
    error_message: Optional[str]
    start_time: float
    end_time: Optional[float]
    planner_report: Optional[PlannerReport]
    scenario_name: str
    planner_name: str
    log_name: str
    runner_id: str = ""
    error_stage: Optional[ErrorStage] = None
    worker: Optional[str] = None

    @property
    def duration(self) -> Optional[float]:
        return None if self.end_time is None else self.end_time - self.start_time

    def failed(self, error_message: str, stage: ErrorStage, end_time: float | None = None) -> RunnerReport:
        """A failed copy of this report (the original is left untouched)."""
        return dataclasses.replace(
            self,
            succeeded=False,
            error_message=error_message,
            error_stage=stage,
            end_time=self.end_time if end_time is None else end_time,
        )
