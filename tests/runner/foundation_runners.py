"""Small real runners for the runner-API tests; a module of its own so process workers can import it."""

from __future__ import annotations

import threading
import time

from dask_runner.planners.planner_report import PlannerReport
from dask_runner.runner.abstract_runner import AbstractRunner
from dask_runner.runner.report import RunnerReport
from dask_runner.simulation.callback.abstract_callback import CallbackWork, defer


class PlannerStub:
    """Stands for a planner only in the sense that it has a name."""

    def __init__(self, name: str) -> None:
        self._name = name

    def name(self) -> str:
        return self._name


class ScenarioStub:
    def __init__(self, scenario_name: str, log_name: str) -> None:
        self.scenario_name = scenario_name
        self.log_name = log_name


def write_marker(path: str, text: str) -> None:
    with open(path, "a") as f:
        f.write(text + "\n")


def broken_callback(message: str) -> None:
    raise RuntimeError(message)


class EchoRunner(AbstractRunner):
    """Succeeds (or raises ``fail``), optionally deferring callback work that succeeds or fails."""

    def __init__(self, scenario_name: str, planner_name: str = "echo", log_name: str = "log",
                 fail: str | None = None, callback_fail: str | None = None, marker: str | None = None,
                 runner_id: str = "") -> None:
        self._scenario = ScenarioStub(scenario_name, log_name)
        self._planner = PlannerStub(planner_name)
        self.fail = fail
        self.callback_fail = callback_fail
        self.marker = marker
        self.runner_id = runner_id or f"echo-{scenario_name}"
        self.extra_markers = 0

    @property
    def scenario(self) -> ScenarioStub:
        return self._scenario

    @property
    def planner(self) -> PlannerStub:
        return self._planner

    def run(self) -> RunnerReport:
        start = time.time()
        if self.fail:
            raise ValueError(self.fail)
        if self.marker:
            for _ in range(1 + self.extra_markers):
                defer(CallbackWork("marker", write_marker, (self.marker, self._scenario.scenario_name)))
        if self.callback_fail:
            defer(CallbackWork("broken", broken_callback, (self.callback_fail,)))
        return RunnerReport(True, None, start, time.time(), PlannerReport([0.001, 0.003]),
                            self._scenario.scenario_name, self._planner.name(), self._scenario.log_name)


class UnpicklableRunner(EchoRunner):
    """Holds a lock: it runs in this process but cannot be sent to another."""

    def __init__(self, scenario_name: str) -> None:
        super().__init__(scenario_name)
        self.lock = threading.Lock()
