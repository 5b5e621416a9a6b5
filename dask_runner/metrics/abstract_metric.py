"""The metric interface: one score per scenario from the shared, precomputed :class:`MetricContext`.

How a metric joins the closed-loop score is declared on the class, so a user's metric needs no
registration: ``multiplier = True`` multiplies the score (a hard rule such as "no collision"); a
positive ``weight`` joins the weighted average (nuPlan's soft metrics); neither (the default) means
the metric is computed and written but leaves the score alone.
"""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from dask_runner.metrics.metric_context import MetricContext
    from dask_runner.metrics.metric_statistic import MetricStatistic


class AbstractMetric(abc.ABC):
    """Subclasses set ``name`` and ``category`` and implement ``compute``; they must pickle."""

    name: ClassVar[str]
    category: ClassVar[str] = "custom"
    weight: ClassVar[float] = 0.0
    multiplier: ClassVar[bool] = False

    @abc.abstractmethod
    def compute(self, ctx: MetricContext) -> MetricStatistic:
        """Score the whole history at once; read the geometry from ``ctx`` rather than recomputing it."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
