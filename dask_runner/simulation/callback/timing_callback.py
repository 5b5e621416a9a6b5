"""TimingCallback: per-step wall times of the planner and of the whole step, written per runner.

Recording is two ``perf_counter`` reads per hook, nothing else. At the end it defers writing one
small parquet file, ``<output_directory>/<timing_dir_name>/<planner>/<scenario_type>/
<scenario_name>.<runner_id or token>.parquet``, with columns ``scenario_name, log_name,
scenario_type, planner_name, token, runner_id, step, step_time_s, planner_time_s`` (one row per step;
initialisation time is in ``initialization_time_s``, the same on every row). Timings are kept apart
from metric rows because they describe the machine, not the driving.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

from dask_runner.simulation.callback.abstract_callback import AbstractCallback, CallbackWork, defer
from dask_runner.simulation.simulation_log import safe_file_name

if TYPE_CHECKING:
    from dask_runner.planners.abstract_planner import AbstractPlanner
    from dask_runner.scenarios.abstract_scenario import AbstractScenario
    from dask_runner.scenarios.state import Trajectory
    from dask_runner.simulation.history import SimulationHistory, SimulationHistorySample
    from dask_runner.simulation.simulation_setup import SimulationSetup

TIMING_COLUMNS: tuple[str, ...] = (
    "scenario_name", "log_name", "scenario_type", "planner_name", "token", "runner_id",
    "step", "step_time_s", "planner_time_s", "initialization_time_s",
)


def save_step_timings(
    file_path: Path,
    names: dict[str, str],
    step_times: list[float],
    planner_times: list[float],
    initialization_time: float,
) -> Path:
    """Write one runner's step timings as parquet (atomically); returns the path."""
    import pandas as pd

    n = len(step_times)
    frame = pd.DataFrame(
        {
            **{key: [names[key]] * n for key in TIMING_COLUMNS[:6]},
            "step": list(range(n)),
            "step_time_s": step_times,
            "planner_time_s": planner_times[:n] + [float("nan")] * (n - len(planner_times)),
            "initialization_time_s": [initialization_time] * n,
        },
        columns=list(TIMING_COLUMNS),
    )
    file_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = file_path.with_name(f".{file_path.name}.{os.getpid()}.tmp")
    try:
        frame.to_parquet(tmp, index=False)
        os.replace(tmp, file_path)
    finally:
        tmp.unlink(missing_ok=True)
    return file_path


class TimingCallback(AbstractCallback):
    """One instance per runner (it keeps the current run's timings). ``output_directory`` None only records."""

    def __init__(
        self, output_directory: Path | str | None = None, timing_dir_name: str = "timings", runner_id: str = ""
    ) -> None:
        self.output_directory = None if output_directory is None else Path(output_directory) / timing_dir_name
        self.runner_id = runner_id
        self.step_times: list[float] = []
        self.planner_times: list[float] = []
        self.initialization_time = float("nan")
        self._init_start = self._step_start = self._planner_start = 0.0

    def on_simulation_start(self, setup: SimulationSetup) -> None:
        self.step_times, self.planner_times = [], []
        self.initialization_time = float("nan")

    def on_initialization_start(self, setup: SimulationSetup, planner: AbstractPlanner) -> None:
        self._init_start = time.perf_counter()

    def on_initialization_end(self, setup: SimulationSetup, planner: AbstractPlanner) -> None:
        self.initialization_time = time.perf_counter() - self._init_start

    def on_step_start(self, setup: SimulationSetup, planner: AbstractPlanner) -> None:
        self._step_start = time.perf_counter()

    def on_planner_start(self, setup: SimulationSetup, planner: AbstractPlanner) -> None:
        self._planner_start = time.perf_counter()

    def on_planner_end(self, setup: SimulationSetup, planner: AbstractPlanner, trajectory: Trajectory) -> None:
        self.planner_times.append(time.perf_counter() - self._planner_start)

    def on_step_end(self, setup: SimulationSetup, planner: AbstractPlanner, sample: SimulationHistorySample) -> None:
        self.step_times.append(time.perf_counter() - self._step_start)

    def timing_path(self, scenario: AbstractScenario, planner_name: str) -> Path:
        if self.output_directory is None:
            raise ValueError("this TimingCallback has no output_directory")
        stem = f"{safe_file_name(scenario.scenario_name)}.{safe_file_name(self.runner_id or scenario.token)}"
        return (
            self.output_directory / safe_file_name(planner_name) / safe_file_name(scenario.scenario_type)
            / f"{stem}.parquet"
        )

    def on_simulation_end(self, setup: SimulationSetup, planner: AbstractPlanner, history: SimulationHistory) -> None:
        if self.output_directory is None:
            return
        scenario, planner_name = setup.scenario, planner.name()
        names = {
            "scenario_name": scenario.scenario_name, "log_name": scenario.log_name,
            "scenario_type": scenario.scenario_type, "planner_name": planner_name,
            "token": scenario.token, "runner_id": self.runner_id,
        }
        defer(
            CallbackWork(
                "timings",
                save_step_timings,
                (self.timing_path(scenario, planner_name), names, list(self.step_times),
                 list(self.planner_times), self.initialization_time),
            )
        )
