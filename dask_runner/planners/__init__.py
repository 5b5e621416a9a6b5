"""Planners: the interface (nuPlan's AbstractPlanner) and the built-in simple, IDM and log-replay planners.

Names are imported lazily (PEP 562): ``dask_runner.planners.planner_report``, which every runner report uses,
then comes without numpy and the planners, so composing a job's configuration stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "AbstractPlanner": "dask_runner.planners.abstract_planner",
    "PlannerInitialization": "dask_runner.planners.abstract_planner",
    "PlannerInput": "dask_runner.planners.abstract_planner",
    "IDMPlanner": "dask_runner.planners.idm_planner",
    "LogFuturePlanner": "dask_runner.planners.log_future_planner",
    "PlannerReport": "dask_runner.planners.planner_report",
    "SimplePlanner": "dask_runner.planners.simple_planner",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'dask_runner.planners' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from dask_runner.planners.abstract_planner import AbstractPlanner, PlannerInitialization, PlannerInput  # noqa: F401
    from dask_runner.planners.idm_planner import IDMPlanner  # noqa: F401
    from dask_runner.planners.log_future_planner import LogFuturePlanner  # noqa: F401
    from dask_runner.planners.planner_report import PlannerReport  # noqa: F401
    from dask_runner.planners.simple_planner import SimplePlanner  # noqa: F401
