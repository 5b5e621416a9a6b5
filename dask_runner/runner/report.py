"""RunnerReport: nuPlan's fields in nuPlan's order, then dask_runner's defaulted extras."""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass
from typing import Any, Literal, Optional

from dask_runner.planners.planner_report import PlannerReport

ErrorStage = Literal["simulation", "callback", "timeout", "worker_lost", "cancelled", "no_workers"]
ERROR_STAGES: tuple[str, ...] = ("simulation", "callback", "timeout", "worker_lost", "cancelled", "no_workers")
# Failures that say nothing about the runner (the cluster had no worker for it): ``resume=true`` runs them again.
RERUN_ON_RESUME: frozenset[str] = frozenset({"no_workers"})

# Names that thousands of reports share (a handful of planners, logs, workers): one string each in the
# driver, however many reports arrive. Scenario names and runner ids are unique per runner: not shared.
_SHARED_NAMES = frozenset({"planner_name", "log_name", "error_stage", "worker"})


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _field_names(cls: type) -> tuple[str, ...]:
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in dataclasses.fields(cls))
    return names


@dataclass(frozen=True, slots=True)
class RunnerReport:
    """The outcome of one runner. Frozen: an executor never changes a report it has handed out.

    ``start_time``/``end_time`` are epoch seconds (``time.time()``), comparable across machines.

    ``error_stage`` says where a failed runner failed: ``"simulation"`` (the runner or its planner raised, or
    it could not travel), ``"callback"`` (a callback's deferred work), ``"timeout"`` (past its time limit),
    ``"worker_lost"`` (it kept killing its worker), ``"cancelled"`` (the cluster cancelled its task),
    ``"no_workers"`` (no worker was connected for ``no_worker_timeout_s`` while it waited; ``resume=true``
    runs it again).

    Slotted: a batch of a million runners keeps a million reports in the driver (``execute_runners``
    returns them all): unpickled there, a slotted report takes about 120 bytes besides its values, one
    with an instance dict about 230. Subclasses (``CallReport``) may add fields as usual.
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

    def __getstate__(self) -> list[Any]:
        return [getattr(self, name) for name in _field_names(type(self))]

    def __setstate__(self, state: list[Any] | dict[str, Any]) -> None:
        """Unpickling (a report arriving from a worker): the shared names become one string per process."""
        items = state.items() if type(state) is dict else zip(_field_names(type(self)), state)
        set_field = object.__setattr__
        for name, value in items:
            if type(value) is str and name in _SHARED_NAMES:
                value = sys.intern(value)
            set_field(self, name, value)

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
