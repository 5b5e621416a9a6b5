"""MetricEngine: all metrics of one scenario on one shared :class:`MetricContext`, and the scenario's score.

The score is the closed-loop score by default; an aggregator (``WeightedAverageScore``, from the
``metric_aggregator=`` group) replaces the weights and names the score after its challenge.
"""

from __future__ import annotations

from typing import Sequence

from dask_runner.errors import ConfigError
from dask_runner.metrics.abstract_metric import AbstractMetric
from dask_runner.metrics.closed_loop_score import CLOSED_LOOP_SCORE, weighted_score
from dask_runner.metrics.metric_context import MetricContext
from dask_runner.metrics.metric_registry import BUILTIN_METRICS, resolve_metric
from dask_runner.metrics.metric_result import MetricResult
from dask_runner.metrics.weighted_average_score import WeightedAverageScore
from dask_runner.scenarios.abstract_scenario import AbstractScenario
from dask_runner.simulation.history import SimulationHistory


class MetricEngine:
    """Holds metric instances only, so it pickles cheaply and travels with the deferred callback work."""

    def __init__(self, metrics: Sequence[AbstractMetric], score: WeightedAverageScore | None = None) -> None:
        names = [m.name for m in metrics]
        self._score = score or WeightedAverageScore()
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ConfigError(f"metrics {duplicates} are listed more than once; list each metric once")
        for score_name in {CLOSED_LOOP_SCORE, self._score.score_name}:
            if score_name in names:
                raise ConfigError(f"{score_name!r} is the combined score; name your metric differently")
        self._score.check_metrics(names)
        self._metrics = list(metrics)
        self._weights, self._multipliers = self._score.weights_of(self._metrics)

    @property
    def metrics(self) -> list[AbstractMetric]:
        return list(self._metrics)

    @property
    def score(self) -> WeightedAverageScore:
        """The aggregator that combines the metrics into the scenario's score."""
        return self._score

    def compute(
        self, scenario: AbstractScenario, history: SimulationHistory, planner_name: str, runner_id: str = ""
    ) -> MetricResult:
        """Every metric on ``history`` and the scenario's score (nuPlan's MetricsEngine.compute)."""
        ctx = MetricContext(scenario, history)
        statistics = tuple(metric.compute(ctx) for metric in self._metrics)
        return MetricResult(
            scenario_name=scenario.scenario_name,
            log_name=scenario.log_name,
            scenario_type=scenario.scenario_type,
            planner_name=planner_name,
            token=scenario.token,
            statistics=statistics,
            closed_loop_score=weighted_score(self._weights, self._multipliers, [s.score for s in statistics]),
            weights=self._weights,
            multipliers=self._multipliers,
            runner_id=runner_id,
            score_name=self._score.score_name,
        )


def build_metric_engine(
    metric_names_or_targets: Sequence[str | AbstractMetric] | None = None, score: WeightedAverageScore | None = None
) -> MetricEngine:
    """An engine of the given metrics (names, dotted class paths or instances); the closed-loop built-ins when None.

    ``score``: a challenge's aggregator (the ``metric_aggregator=`` group); the closed-loop score when None.
    """
    if metric_names_or_targets is None:
        return MetricEngine([cls() for cls in BUILTIN_METRICS.values()], score)
    if isinstance(metric_names_or_targets, str):
        raise ConfigError(f"give a list of metrics, e.g. [{metric_names_or_targets!r}], not a single string")
    return MetricEngine([resolve_metric(spec) for spec in metric_names_or_targets], score)
