"""Planners: the interface (nuPlan's AbstractPlanner) and the built-in simple, IDM and log-replay planners."""

from dask_runner.planners.abstract_planner import AbstractPlanner, PlannerInitialization, PlannerInput
from dask_runner.planners.idm_planner import IDMPlanner
from dask_runner.planners.log_future_planner import LogFuturePlanner
from dask_runner.planners.planner_report import PlannerReport
from dask_runner.planners.simple_planner import SimplePlanner

__all__ = [
    "AbstractPlanner",
    "IDMPlanner",
    "LogFuturePlanner",
    "PlannerInitialization",
    "PlannerInput",
    "PlannerReport",
    "SimplePlanner",
]
