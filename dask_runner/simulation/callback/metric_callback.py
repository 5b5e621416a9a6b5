"""MetricCallback: at the end of a simulation, defer computing its metrics and writing their parquet file.

The work is :func:`compute_and_save_metrics`, a module-level function given only picklable
arguments (the engine holds metric instances only), so an executor can run it as its own task where
the history lies; a failure there becomes the runner's failed report with stage "callback".
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from dask_runner.metrics.metric_engine import MetricEngine
from dask_runner.metrics.metric_file import save_metric_result
from dask_runner.metrics.metric_result import MetricResult
from dask_runner.simulation.callback.abstract_callback import AbstractCallback, CallbackWork, defer

if TYPE_CHECKING:
    from dask_runner.planners.abstract_planner import AbstractPlanner
    from dask_runner.scenarios.abstract_scenario import AbstractScenario
    from dask_runner.simulation.history import SimulationHistory
    from dask_runner.simulation.simulation_setup import SimulationSetup


def compute_and_save_metrics(
    engine: MetricEngine,
    scenario: AbstractScenario,
    history: SimulationHistory,
    planner_name: str,
    metric_save_path: Path | None,
    runner_id: str = "",
) -> MetricResult:
    """Compute every metric of one simulation and, with a save path, write its parquet file."""
    result = engine.compute(scenario, history, planner_name, runner_id=runner_id)
    if metric_save_path is not None:
        save_metric_result(result, metric_save_path)
    return result


class MetricCallback(AbstractCallback):
    """nuPlan's MetricCallback. ``metric_save_path`` None computes without writing (the result is returned
    by the deferred work). Set ``runner_id`` (the builder does) to name the file after the runner."""

    def __init__(self, metric_engine: MetricEngine, metric_save_path: Path | str | None, runner_id: str = "") -> None:
        self.metric_engine = metric_engine
        self.metric_save_path = None if metric_save_path is None else Path(metric_save_path)
        self.runner_id = runner_id

    def on_simulation_end(self, setup: SimulationSetup, planner: AbstractPlanner, history: SimulationHistory) -> None:
        defer(
            CallbackWork(
                "metrics",
                compute_and_save_metrics,
                (self.metric_engine, setup.scenario, history, planner.name(), self.metric_save_path, self.runner_id),
            )
        )
