"""nuPlan's open-loop metrics: how far the planner's trajectories are from what the expert then drove.

Once per second of the history (``comparison_frequency`` 1 Hz), the trajectory planned at that step is
compared with the expert's logged poses 1, 2, ... ``max(comparison_horizon)`` seconds later, at the
vehicles' centres (nuPlan compares centres): displacement (m) and absolute heading difference (rad)
at each of those times. For each horizon h in ``comparison_horizon`` ([3, 5, 8] s, as nuPlan):
average displacement error (ADE: the mean over the first h comparisons), final displacement error
(FDE: the h-th), their heading counterparts (AHE, FHE), and the largest displacement (for the miss
rate). Definitions and thresholds are nuPlan's (``planner_expert_*_within_bound.py``,
``planner_miss_rate_within_bound.py`` and their ``simulation_metric/`` configs):

- ``planner_expert_average_l2_error_within_bound``: value = mean ADE over horizons and compared steps,
  score = max(0, 1 - value / 8 m);
- ``planner_expert_final_l2_error_within_bound``: the same with FDE, bound 8 m;
- ``planner_expert_average_heading_error_within_bound``: AHE, bound 0.8 rad;
- ``planner_expert_final_heading_error_within_bound``: FHE, bound 0.8 rad;
- ``planner_miss_rate_within_bound``: for each horizon, the share of compared steps whose largest
  displacement exceeds 6, 8, 16 m (3, 5, 8 s); value = the largest share, score = 1 when every share
  is at most 0.3, else 0.

Difference by design: nuPlan reads the expert beyond the scenario's end from its database; a scenario
here ends with its log, so only steps whose whole horizon lies within the log are compared (a 15 s
scenario compares the steps at 0..7 s). A log shorter than the longest horizon compares its first
step only, up to the log's end. The planned trajectory is interpolated at the expert's times and held
at its last state beyond its end.

One array pass per compared step (about eight per scenario, ``expert_comparison``), shared by the five
metrics through the :class:`MetricContext`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from dask_runner.errors import ConfigError
from dask_runner.metrics.abstract_metric import AbstractMetric
from dask_runner.metrics.expert_comparison import PlannerExpertErrors
from dask_runner.metrics.metric_statistic import MetricStatistic
from dask_runner.scenarios.state import FloatArray

if TYPE_CHECKING:
    from dask_runner.metrics.metric_context import MetricContext

COMPARISON_HORIZON = (3, 5, 8)  # s
COMPARISON_FREQUENCY = 1.0  # Hz
MAX_AVERAGE_L2_ERROR = 8.0  # m
MAX_FINAL_L2_ERROR = 8.0  # m
MAX_AVERAGE_HEADING_ERROR = 0.8  # rad
MAX_FINAL_HEADING_ERROR = 0.8  # rad
MAX_DISPLACEMENT = (6.0, 8.0, 16.0)  # m, one per horizon
MAX_MISS_RATE = 0.3


class _OpenLoopMetric(AbstractMetric):
    """Shared set-up: the horizons and frequency of the comparison (nuPlan's low-level metric's)."""

    category: ClassVar[str] = "Planning"

    def __init__(
        self, comparison_horizon: Sequence[int] = COMPARISON_HORIZON, comparison_frequency: float = COMPARISON_FREQUENCY
    ) -> None:
        horizons = tuple(int(h) for h in comparison_horizon)
        if not horizons or min(horizons) <= 0 or comparison_frequency <= 0:
            raise ConfigError(
                f"{self.name}: comparison_horizon must list horizons > 0 s and comparison_frequency must be > 0 Hz, "
                f"got {list(comparison_horizon)} and {comparison_frequency} (nuPlan's: [3, 5, 8] and 1)"
            )
        self.comparison_horizon = horizons
        self.comparison_frequency = float(comparison_frequency)

    def errors(self, ctx: MetricContext) -> PlannerExpertErrors:
        return ctx.planner_expert_errors(self.comparison_horizon, self.comparison_frequency)


class _BoundedMeanError(_OpenLoopMetric):
    """value = the mean of one error over horizons and compared steps; score = max(0, 1 - value / bound)."""

    unit: ClassVar[str]
    default_bound: ClassVar[float]

    def __init__(
        self,
        comparison_horizon: Sequence[int] = COMPARISON_HORIZON,
        comparison_frequency: float = COMPARISON_FREQUENCY,
        max_error_threshold: float | None = None,
    ) -> None:
        super().__init__(comparison_horizon, comparison_frequency)
        self.max_error_threshold = float(self.default_bound if max_error_threshold is None else max_error_threshold)

    def values(self, errors: PlannerExpertErrors) -> FloatArray:
        raise NotImplementedError

    def compute(self, ctx: MetricContext) -> MetricStatistic:
        value = float(np.mean(self.values(self.errors(ctx))))
        score = max(0.0, 1.0 - value / self.max_error_threshold)
        return MetricStatistic(self.name, self.category, score, value, self.unit)


class PlannerExpertAverageL2ErrorWithinBound(_BoundedMeanError):
    name: ClassVar[str] = "planner_expert_average_l2_error_within_bound"
    unit: ClassVar[str] = "m"
    default_bound: ClassVar[float] = MAX_AVERAGE_L2_ERROR

    def values(self, errors: PlannerExpertErrors) -> FloatArray:
        return errors.average_displacement


class PlannerExpertFinalL2ErrorWithinBound(_BoundedMeanError):
    name: ClassVar[str] = "planner_expert_final_l2_error_within_bound"
    unit: ClassVar[str] = "m"
    default_bound: ClassVar[float] = MAX_FINAL_L2_ERROR

    def values(self, errors: PlannerExpertErrors) -> FloatArray:
        return errors.final_displacement


class PlannerExpertAverageHeadingErrorWithinBound(_BoundedMeanError):
    name: ClassVar[str] = "planner_expert_average_heading_error_within_bound"
    unit: ClassVar[str] = "rad"
    default_bound: ClassVar[float] = MAX_AVERAGE_HEADING_ERROR

    def values(self, errors: PlannerExpertErrors) -> FloatArray:
        return errors.average_heading


class PlannerExpertFinalHeadingErrorWithinBound(_BoundedMeanError):
    name: ClassVar[str] = "planner_expert_final_heading_error_within_bound"
    unit: ClassVar[str] = "rad"
    default_bound: ClassVar[float] = MAX_FINAL_HEADING_ERROR

    def values(self, errors: PlannerExpertErrors) -> FloatArray:
        return errors.final_heading


class PlannerMissRateWithinBound(_OpenLoopMetric):
    """Per horizon, the share of compared steps whose largest displacement exceeds that horizon's bound."""

    name: ClassVar[str] = "planner_miss_rate_within_bound"

    def __init__(
        self,
        comparison_horizon: Sequence[int] = COMPARISON_HORIZON,
        comparison_frequency: float = COMPARISON_FREQUENCY,
        max_displacement_threshold: Sequence[float] = MAX_DISPLACEMENT,
        max_miss_rate_threshold: float = MAX_MISS_RATE,
    ) -> None:
        super().__init__(comparison_horizon, comparison_frequency)
        if len(max_displacement_threshold) != len(self.comparison_horizon):
            raise ConfigError(
                f"{self.name}: give one max_displacement_threshold per horizon of comparison_horizon "
                f"{list(self.comparison_horizon)}, e.g. [6.0, 8.0, 16.0]; got {list(max_displacement_threshold)}"
            )
        self.max_displacement_threshold = tuple(float(t) for t in max_displacement_threshold)
        self.max_miss_rate_threshold = float(max_miss_rate_threshold)

    def miss_rates(self, ctx: MetricContext) -> FloatArray:
        bounds = np.asarray(self.max_displacement_threshold)[:, None]
        rates: FloatArray = np.mean(self.errors(ctx).maximum_displacement > bounds, axis=1)
        return rates

    def compute(self, ctx: MetricContext) -> MetricStatistic:
        rates = self.miss_rates(ctx)
        score = 1.0 if bool(np.all(rates <= self.max_miss_rate_threshold)) else 0.0
        return MetricStatistic(self.name, self.category, score, float(np.max(rates)), "ratio")


OPEN_LOOP_METRICS: tuple[type[AbstractMetric], ...] = (
    PlannerExpertAverageL2ErrorWithinBound,
    PlannerExpertFinalL2ErrorWithinBound,
    PlannerMissRateWithinBound,
    PlannerExpertFinalHeadingErrorWithinBound,
    PlannerExpertAverageHeadingErrorWithinBound,
)
