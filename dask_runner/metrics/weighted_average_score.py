"""How a scenario's metrics combine into one score: nuPlan's weighted-average metric aggregator.

The score is the product of the multiplier metrics' scores times the weighted average of the others'
(``closed_loop_score.weighted_score``). Who multiplies and who weighs how much comes either from the
metrics themselves (their ``multiplier`` and ``weight`` class attributes: the default, the closed-loop
score) or, as in nuPlan's ``metric_aggregator=`` configs, from this object: ``metric_weights`` maps
metric names to weights (``default`` for the others) and ``multiple_metrics`` lists the multipliers.
Each challenge has its own aggregator, and its score is named after it (``<challenge_name>_score``),
so scores of different challenges never mix in one table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from dask_runner.errors import ConfigError
from dask_runner.metrics.abstract_metric import AbstractMetric
from dask_runner.metrics.closed_loop_score import CLOSED_LOOP_SCORE

DEFAULT_WEIGHT_KEY = "default"


@dataclass(frozen=True)
class WeightedAverageScore:
    """One metric aggregator. With neither ``metric_weights`` nor ``multiple_metrics`` it uses the metrics' own."""

    name: str = "weighted_average_metric_aggregator"
    metric_weights: Mapping[str, float] | None = None
    multiple_metrics: Sequence[str] | None = None
    challenge_name: str | None = None
    _weights: tuple[tuple[str, float], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        weights = dict(self.metric_weights or {})
        for key, value in weights.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ConfigError(
                    f"metric_aggregator {self.name}: the weight of {key!r} must be a number >= 0, got {value!r} "
                    f"(e.g. metric_weights: {{ego_is_comfortable: 2.0, default: 1.0}})"
                )
        if isinstance(self.multiple_metrics, str):
            raise ConfigError(f"metric_aggregator {self.name}: multiple_metrics is a list of metric names, "
                              f"e.g. [{self.multiple_metrics}]")
        object.__setattr__(self, "_weights", tuple((str(k), float(v)) for k, v in weights.items()))

    @property
    def score_name(self) -> str:
        """``closed_loop_score`` for the default aggregator, ``<challenge_name>_score`` for a challenge's."""
        return f"{self.challenge_name}_score" if self.challenge_name else CLOSED_LOOP_SCORE

    @property
    def named_metrics(self) -> list[str]:
        """The metrics this aggregator names (weights other than ``default``, and multipliers)."""
        names = [k for k, _ in self._weights if k != DEFAULT_WEIGHT_KEY]
        return names + [m for m in (self.multiple_metrics or ()) if m not in names]

    def check_metrics(self, metric_names: Sequence[str]) -> None:
        """ConfigError when the aggregator weighs metrics that the metric set does not compute."""
        missing = [m for m in self.named_metrics if m not in metric_names]
        if missing:
            raise ConfigError(
                f"metric_aggregator {self.name} scores with {missing}, which simulation_metric does not compute "
                f"(it computes {list(metric_names)}); choose the matching pair, e.g. +simulation=open_loop_boxes "
                "sets simulation_metric=simulation_open_loop_boxes and metric_aggregator=open_loop_boxes_weighted_average"
            )

    def weights_of(self, metrics: Sequence[AbstractMetric]) -> tuple[tuple[float, ...], tuple[bool, ...]]:
        """(weight, multiplier) of each metric, in order."""
        if self.metric_weights is None and self.multiple_metrics is None:
            return tuple(float(m.weight) for m in metrics), tuple(bool(m.multiplier) for m in metrics)
        multipliers = tuple(
            m.name in self.multiple_metrics if self.multiple_metrics is not None else bool(m.multiplier)
            for m in metrics
        )
        if self.metric_weights is None:
            weights = tuple(float(m.weight) for m in metrics)
        else:
            table = dict(self._weights)
            default = table.get(DEFAULT_WEIGHT_KEY, 1.0)
            # A multiplier is not in the average: its weight is 0, as the closed-loop metrics declare theirs.
            weights = tuple(0.0 if multiplier else table.get(m.name, default) for m, multiplier in zip(metrics, multipliers))
        return weights, multipliers
