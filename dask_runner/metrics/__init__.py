"""nuPlan-style metrics and the closed-loop score, computed vectorised over a whole history."""

from dask_runner.metrics.abstract_metric import AbstractMetric
from dask_runner.metrics.closed_loop_score import CLOSED_LOOP_SCORE, closed_loop_score
from dask_runner.metrics.metric_aggregation import aggregate_metrics, aggregate_scores, save_aggregates
from dask_runner.metrics.metric_context import MetricContext
from dask_runner.metrics.metric_engine import MetricEngine, build_metric_engine
from dask_runner.metrics.metric_file import metric_file_path, save_metric_result
from dask_runner.metrics.metric_registry import BUILTIN_METRICS, resolve_metric
from dask_runner.metrics.metric_result import METRIC_COLUMNS, MetricResult
from dask_runner.metrics.metric_statistic import MetricStatistic
from dask_runner.metrics.weighted_average_score import WeightedAverageScore

__all__ = [
    "AbstractMetric",
    "BUILTIN_METRICS",
    "CLOSED_LOOP_SCORE",
    "METRIC_COLUMNS",
    "MetricContext",
    "MetricEngine",
    "MetricResult",
    "MetricStatistic",
    "WeightedAverageScore",
    "aggregate_metrics",
    "aggregate_scores",
    "build_metric_engine",
    "closed_loop_score",
    "metric_file_path",
    "resolve_metric",
    "save_aggregates",
    "save_metric_result",
]
