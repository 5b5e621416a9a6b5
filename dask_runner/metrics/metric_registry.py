"""Metrics by name: the built-in ones, or any ``package.module.ClassName`` a user configures.

A user's metric joins by configuration alone: put the dotted path of an :class:`AbstractMetric`
subclass (constructible without arguments) in the metric list. Its ``multiplier``/``weight`` class
attributes decide how it enters the closed-loop score (see ``abstract_metric``).
"""

from __future__ import annotations

import importlib

from dask_runner.errors import ConfigError
from dask_runner.metrics.abstract_metric import AbstractMetric
from dask_runner.metrics.drivable_area_compliance import DrivableAreaCompliance
from dask_runner.metrics.driving_direction_compliance import DrivingDirectionCompliance
from dask_runner.metrics.ego_expert_l2_error import EgoExpertL2Error
from dask_runner.metrics.ego_is_comfortable import EgoIsComfortable
from dask_runner.metrics.ego_progress import EgoIsMakingProgress, EgoProgressAlongExpertRoute
from dask_runner.metrics.no_ego_at_fault_collisions import NoEgoAtFaultCollisions
from dask_runner.metrics.planner_expert_errors import OPEN_LOOP_METRICS
from dask_runner.metrics.speed_limit_compliance import SpeedLimitCompliance
from dask_runner.metrics.time_to_collision_within_bound import TimeToCollisionWithinBound

BUILTIN_METRICS: dict[str, type[AbstractMetric]] = {
    cls.name: cls
    for cls in (
        NoEgoAtFaultCollisions,
        DrivableAreaCompliance,
        DrivingDirectionCompliance,
        EgoIsMakingProgress,
        TimeToCollisionWithinBound,
        EgoProgressAlongExpertRoute,
        SpeedLimitCompliance,
        EgoIsComfortable,
    )
}


# The closed-loop metrics above (the default set), the open-loop ones of nuPlan's open_loop_boxes challenge, and
# ego_expert_l2_error (reported only).
_OTHER_METRICS: tuple[type[AbstractMetric], ...] = (*OPEN_LOOP_METRICS, EgoExpertL2Error)
METRICS_BY_NAME: dict[str, type[AbstractMetric]] = {**BUILTIN_METRICS, **{cls.name: cls for cls in _OTHER_METRICS}}


def resolve_metric(spec: str | AbstractMetric) -> AbstractMetric:
    """A metric instance from a built-in name, a dotted class path, or an instance (returned as is)."""
    if isinstance(spec, AbstractMetric):
        return spec
    if not isinstance(spec, str):
        raise ConfigError(f"a metric is a name, a dotted class path or an AbstractMetric, got {spec!r}")
    if spec in METRICS_BY_NAME:
        return METRICS_BY_NAME[spec]()
    valid = ", ".join(METRICS_BY_NAME)
    if "." not in spec:
        raise ConfigError(
            f"unknown metric {spec!r}; built-in metrics are: {valid}; "
            "or give the dotted path of your own class, e.g. 'my_package.my_module.MyMetric'"
        )
    module_name, _, class_name = spec.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(
            f"cannot import metric class {spec!r} ({exc}); check that {module_name!r} is importable "
            f"on the workers and defines {class_name!r}; built-in metrics are: {valid}"
        ) from exc
    if not (isinstance(cls, type) and issubclass(cls, AbstractMetric)):
        raise ConfigError(f"{spec!r} is not a subclass of dask_runner.metrics.AbstractMetric")
    try:
        return cls()
    except TypeError as exc:
        raise ConfigError(f"metric class {spec!r} must be constructible without arguments: {exc}") from exc
