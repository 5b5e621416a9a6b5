"""Small runners with scripted behaviour, importable by Dask worker processes (they inherit the test process's sys.path)."""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dask_runner.planners.planner_report import PlannerReport
from dask_runner.runner.abstract_runner import AbstractRunner
from dask_runner.runner.report import RunnerReport
from dask_runner.simulation.callback.abstract_callback import CallbackWork, defer


@dataclass(frozen=True)
class NamedScenario:
    scenario_name: str
    log_name: str = "test_log"


class NamedPlanner:
    def __init__(self, name: str) -> None:
        self._name = name

    def name(self) -> str:
        return self._name


def _fail_callback(runner_id: str) -> None:
    raise RuntimeError(f"metric engine broke for {runner_id}")


def _ok_callback(runner_id: str) -> str:
    return runner_id


class ScriptedRunner(AbstractRunner):
    """Does what ``behaviour`` says: ok, sleep, fail, kill (os._exit), hang, callback_ok, callback_fail.

    With ``started_dir``, ``run`` first creates ``<started_dir>/<runner_id>``: a test waits for those
    files to know the runners are running (instead of sleeping for a while).
    """

    def __init__(self, runner_id: str, behaviour: str = "ok", seconds: float = 0.0, planner: str = "scripted",
                 started_dir: str | None = None) -> None:
        self.runner_id = runner_id
        self.behaviour = behaviour
        self.seconds = seconds
        self._planner = NamedPlanner(planner)
        self.started_dir = started_dir

    @property
    def scenario(self) -> Any:
        return NamedScenario(f"scenario_{self.runner_id}")

    @property
    def planner(self) -> Any:
        return self._planner

    def run(self) -> RunnerReport:
        start = time.time()
        if self.started_dir is not None:
            (Path(self.started_dir) / self.runner_id).touch()
        if self.seconds:
            time.sleep(self.seconds)
        if self.behaviour == "fail":
            raise ValueError(f"planner exploded in {self.runner_id}")
        if self.behaviour == "kill":
            os._exit(13)
        if self.behaviour == "hang":
            time.sleep(3600)
        if self.behaviour == "callback_fail":
            defer(CallbackWork("metrics", _fail_callback, (self.runner_id,)))
        if self.behaviour == "callback_ok":
            defer(CallbackWork("metrics", _ok_callback, (self.runner_id,)))
        return RunnerReport(
            succeeded=True,
            error_message=None,
            start_time=start,
            end_time=time.time(),
            planner_report=PlannerReport(),
            scenario_name=self.scenario.scenario_name,
            planner_name=self._planner.name(),
            log_name="test_log",
            runner_id=self.runner_id,
        )


def scripted(behaviours: list[str], seconds: float = 0.0, started_dir: str | None = None) -> list[ScriptedRunner]:
    return [ScriptedRunner(f"r{i:05d}", b, seconds, started_dir=started_dir) for i, b in enumerate(behaviours)]


@contextlib.contextmanager
def driver_only_runner_class(folder: Path, module: str) -> Iterator[type[ScriptedRunner]]:
    """``LabRunner`` (a ScriptedRunner) from ``module`` in a new ``folder`` on the driver's path only, as a user's
    script folder is: workers that are not told about the folder cannot import it."""
    folder.mkdir()
    (folder / f"{module}.py").write_text(
        "from runners_for_tests import ScriptedRunner\n\nclass LabRunner(ScriptedRunner):\n    pass\n")
    sys.path.insert(0, str(folder))
    try:
        yield importlib.import_module(module).LabRunner
    finally:
        sys.path.remove(str(folder))
        sys.modules.pop(module, None)
