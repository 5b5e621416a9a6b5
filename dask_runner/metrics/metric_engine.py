"""MetricEngine: all metrics of one scenario on one shared :class:`MetricContext`, and the closed-loop score."""

from __future__ import annotations

from typing import Sequence

from dask_runner.errors import ConfigError
from dask_runner.metrics.abstract_metric import AbstractMetric
from dask_runner.metrics.closed_loop_score import CLOSED_LOOP_SCORE, closed_loop_score
from dask_runner.metrics.metric_context import MetricContext
from dask_runner.metrics.metric_registry import BUILTIN_METRICS, resolve_metric
from dask_runner.metrics.metric_result import MetricResult
from dask_runner.scenarios.abstract_scenario import AbstractScenario
from dask_runner.simulation.history import SimulationHistory


class MetricEngine:
    """Holds metric instances only, so it pickles cheaply and travels with the deferred callback work."""

    def __init__(self, metrics: Sequence[AbstractMetric]) -> None:
        names = [m.name for m in metrics]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ConfigError(f"metrics {duplicates} are listed more than once; list each metric once")
        if CLOSED_LOOP_SCORE in names:
            raise ConfigError(f"{CLOSED_LOOP_SCORE!r} is the combined score; name your metric differently")
        self._metrics = list(metrics)

    @property
    def metrics(self) -> list[AbstractMetric]:
        return list(self._metrics)

    def compute(
        self, scenario: AbstractScenario, history: SimulationHistory, planner_name: str, runner_id: str = ""
    ) -> MetricResult:
        """Every metric on ``history`` and the closed-loop score (nuPlan's MetricsEngine.compute)."""
        ctx = MetricContext(scenario, history)
        statistics = tuple(metric.compute(ctx) for metric in self._metrics)
        return MetricResult(
            scenario_name=scenario.scenario_name,
            log_name=scenario.log_name,
            scenario_type=scenario.scenario_type,
            planner_name=planner_name,
            token=scenario.token,
            statistics=statistics,
            closed_loop_score=closed_loop_score(self._metrics, statistics),
            weights=tuple(float(m.weight) for m in self._metrics),
            multipliers=tuple(bool(m.multiplier) for m in self._metrics),
            runner_id=runner_id,
        )


def build_metric_engine(metric_names_or_targets: Sequence[str | AbstractMetric] | None = None) -> MetricEngine:
    """An engine of the given metrics (names, dotted class paths or instances); all built-ins when None."""
    if metric_names_or_targets is None:
        return MetricEngine([cls() for cls in BUILTIN_METRICS.values()])
    if isinstance(metric_names_or_targets, str):
        raise ConfigError(f"give a list of metrics, e.g. [{metric_names_or_targets!r}], not a single string")
    return MetricEngine([resolve_metric(spec) for spec in metric_names_or_targets])
