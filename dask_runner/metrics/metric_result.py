"""The metrics of one (scenario, planner) run: the statistics, the closed-loop score, and their rows.

Columns of :meth:`MetricResult.to_dataframe` (one row per metric plus one score row, category ``score``,
named ``closed_loop_score`` or, under a challenge's aggregator, ``<challenge>_score``):
``scenario_name, log_name, scenario_type, planner_name, token, runner_id, metric_name, category,
score, value, unit, weight, multiplier``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dask_runner.metrics.closed_loop_score import CLOSED_LOOP_SCORE
from dask_runner.metrics.metric_statistic import MetricStatistic

if TYPE_CHECKING:
    import pandas as pd

SCORE_CATEGORY = "score"  # the category of the score row (one per runner), whatever the score's name

METRIC_COLUMNS: tuple[str, ...] = (
    "scenario_name", "log_name", "scenario_type", "planner_name", "token", "runner_id",
    "metric_name", "category", "score", "value", "unit", "weight", "multiplier",
)


@dataclass(frozen=True)
class MetricResult:
    scenario_name: str
    log_name: str
    scenario_type: str
    planner_name: str
    token: str
    statistics: tuple[MetricStatistic, ...]
    closed_loop_score: float
    weights: tuple[float, ...] = field(default=())  # per statistic
    multipliers: tuple[bool, ...] = field(default=())  # per statistic
    runner_id: str = ""
    score_name: str = CLOSED_LOOP_SCORE  # the name of the score row: closed_loop_score, or <challenge>_score

    def score_of(self, metric_name: str) -> float:
        """The score of one metric (``score_name`` for the combined score); KeyError if absent."""
        if metric_name == self.score_name:
            return self.closed_loop_score
        for stat in self.statistics:
            if stat.metric_name == metric_name:
                return stat.score
        raise KeyError(f"no metric {metric_name!r}; have {[s.metric_name for s in self.statistics]}")

    @property
    def scores(self) -> dict[str, float]:
        out = {s.metric_name: s.score for s in self.statistics}
        out[self.score_name] = self.closed_loop_score
        return out

    def rows(self) -> list[dict[str, Any]]:
        common = {
            "scenario_name": self.scenario_name, "log_name": self.log_name,
            "scenario_type": self.scenario_type, "planner_name": self.planner_name,
            "token": self.token, "runner_id": self.runner_id,
        }
        weights = self.weights or (0.0,) * len(self.statistics)
        multipliers = self.multipliers or (False,) * len(self.statistics)
        rows = [
            {**common, "metric_name": s.metric_name, "category": s.category, "score": float(s.score),
             "value": float(s.value), "unit": s.unit, "weight": float(w), "multiplier": bool(m)}
            for s, w, m in zip(self.statistics, weights, multipliers)
        ]
        rows.append({**common, "metric_name": self.score_name, "category": SCORE_CATEGORY,
                     "score": float(self.closed_loop_score), "value": float(self.closed_loop_score),
                     "unit": "", "weight": 0.0, "multiplier": False})
        return rows

    def to_dataframe(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame(self.rows(), columns=list(METRIC_COLUMNS))
