"""Runners that run until the test opens their gate (a file), so a test sees a batch mid-way without sleeping.

Importable by Dask worker processes: the tests put this folder on ``sys.path`` (and on ``PYTHONPATH`` for
workers started as commands).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dask_runner.planners.planner_report import PlannerReport
from dask_runner.runner.abstract_runner import AbstractRunner
from dask_runner.runner.report import RunnerReport

GATE_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class GatedScenario:
    scenario_name: str
    log_name: str = "gated_log"


class GatedPlanner:
    def __init__(self, name: str) -> None:
        self._name = name

    def name(self) -> str:
        return self._name


class GatedRunner(AbstractRunner):
    """Waits until ``gate`` exists (a file the test creates), then succeeds or raises (``fail=True``)."""

    def __init__(self, runner_id: str, planner: str, gate: Path, fail: bool = False) -> None:
        self.runner_id = runner_id
        self._planner = GatedPlanner(planner)
        self.gate = gate
        self.fail = fail

    @property
    def scenario(self) -> Any:
        return GatedScenario(f"scenario_{self.runner_id}")

    @property
    def planner(self) -> Any:
        return self._planner

    def run(self) -> RunnerReport:
        start = time.time()
        deadline = time.monotonic() + GATE_TIMEOUT_S
        while not self.gate.exists():  # polling a file the test writes: the gate, not a guessed delay
            if time.monotonic() > deadline:
                raise TimeoutError(f"gate {self.gate} never opened")
            time.sleep(0.02)
        if self.fail:
            raise ValueError(f"planner diverged in {self.runner_id}\nsecond line: the last one is shown")
        return RunnerReport(True, None, start, time.time(), PlannerReport(), self.scenario.scenario_name,
                            self._planner.name(), "gated_log", runner_id=self.runner_id)
