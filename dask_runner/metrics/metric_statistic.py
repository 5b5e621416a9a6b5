"""The result of one metric on one scenario: what the engine writes as one row."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MetricStatistic:
    """``score`` is in [0, 1] (1 is best); ``value`` is the measured quantity in ``unit``, for reading."""

    metric_name: str
    category: str
    score: float
    value: float
    unit: str = ""
