"""MetricRunner (nuPlan's): recompute the metrics of a finished simulation from its saved log.

Given a path, the log is read inside ``run()`` (on the worker), so a corrupt or truncated file fails
that one runner with :class:`SimulationLogError` rather than the batch. Until then ``scenario`` and
``planner`` are light placeholders named from nuPlan's log path layout
(``<planner>/<scenario_type>/<log_name>/<scenario_name>.msgpack.zst``), so a driver can name and
report thousands of runners without opening their files (given a loaded SimulationLog, ``scenario``
is its scenario). ``planner`` is always a :class:`LoggedPlanner`: only the planner's name survives in a log.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from dask_runner.runner.abstract_runner import AbstractRunner
from dask_runner.runner.report import RunnerReport
from dask_runner.scenarios.abstract_scenario import AbstractScenario
from dask_runner.simulation.callback.metric_callback import MetricCallback, compute_and_save_metrics
from dask_runner.simulation.simulation_log import SimulationLog, log_suffix_of


@dataclass(frozen=True)
class LoggedPlanner:
    """Stands in for the planner of a logged simulation: it has a name and nothing else to run."""

    planner_name: str

    def name(self) -> str:
        return self.planner_name


@dataclass(frozen=True)
class LogFileNames:
    """The scenario's names as read from a log's path, before the log itself is opened."""

    scenario_name: str
    log_name: str
    scenario_type: str
    planner_name: str

    @classmethod
    def from_path(cls, path: Path) -> LogFileNames:
        suffix = log_suffix_of(path)
        name = path.name[: -len(suffix)] if suffix else path.name
        parents = [p.name for p in path.parents][:3]
        parents += ["unknown"] * (3 - len(parents))
        log_name, scenario_type, planner_name = parents
        return cls(name, log_name, scenario_type, planner_name)


class MetricRunner(AbstractRunner):
    def __init__(
        self, simulation_log: SimulationLog | Path | str, metric_callback: MetricCallback, runner_id: str | None = None
    ) -> None:
        self._log: SimulationLog | None = simulation_log if isinstance(simulation_log, SimulationLog) else None
        self._log_path = self._log.file_path if self._log is not None else Path(simulation_log)  # type: ignore[arg-type]
        self._metric_callback = metric_callback
        self.runner_id = runner_id or ""  # execute_runners assigns one when none is given

    @property
    def log_path(self) -> Path:
        return self._log_path

    @property
    def scenario(self) -> AbstractScenario | LogFileNames:
        return self._log.scenario if self._log is not None else LogFileNames.from_path(self._log_path)

    @property
    def planner(self) -> LoggedPlanner:
        if self._log is not None:
            return LoggedPlanner(self._log.planner_name)
        return LoggedPlanner(LogFileNames.from_path(self._log_path).planner_name)

    def run(self) -> RunnerReport:
        """Load the log if needed, compute and save its metrics; raises SimulationLogError on a bad log."""
        start_time = time.time()
        # Not kept on the runner: a driver running thousands in-process would hold every log.
        log = self._log if self._log is not None else SimulationLog.load_data(self._log_path)
        callback = self._metric_callback
        compute_and_save_metrics(
            callback.metric_engine, log.scenario, log.simulation_history, log.planner_name,
            callback.metric_save_path, self.runner_id,
        )
        return RunnerReport(
            succeeded=True,
            error_message=None,
            start_time=start_time,
            end_time=time.time(),
            planner_report=None,
            scenario_name=log.scenario.scenario_name,
            planner_name=log.planner_name,
            log_name=log.scenario.log_name,
            runner_id=self.runner_id,
        )
