"""dask_runner: nuPlan's simulation-runner API on Dask distributed.

Public names are imported lazily (PEP 562), so ``import dask_runner`` stays cheap and optional
backends (dask-cuda, dask-jobqueue) are only imported when used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    # runner API (nuPlan's names)
    "AbstractRunner": "dask_runner.runner.abstract_runner",
    "SimulationRunner": "dask_runner.runner.simulation_runner",
    "MetricRunner": "dask_runner.runner.metric_runner",
    "RunnerReport": "dask_runner.runner.report",
    "run_simulation": "dask_runner.runner.run_simulation",
    "execute_runners": "dask_runner.execution.executor",
    "build_simulation_runners": "dask_runner.runner.simulation_builder",
    "save_runner_reports": "dask_runner.io.runner_report",
    "PlannerReport": "dask_runner.planners.planner_report",
    # worker pools
    "WorkerPool": "dask_runner.execution.worker_pool",
    "Task": "dask_runner.execution.worker_pool",
    "WorkerResources": "dask_runner.execution.worker_pool",
    "Sequential": "dask_runner.execution.sequential",
    "SingleMachineParallelExecutor": "dask_runner.execution.parallel",
    "DaskDistributed": "dask_runner.dask.pool",
    "RayDistributed": "dask_runner.dask.ray_shim",
    "per_worker": "dask_runner.per_worker",
    # callbacks
    "AbstractCallback": "dask_runner.simulation.callback.abstract_callback",
    "MultiCallback": "dask_runner.simulation.callback.abstract_callback",
    "CallbackWork": "dask_runner.simulation.callback.abstract_callback",
    "defer": "dask_runner.simulation.callback.abstract_callback",
    # errors
    "DaskRunnerError": "dask_runner.errors",
    "ConfigError": "dask_runner.errors",
    "ResourceUnavailableError": "dask_runner.errors",
    "SimulationFailedError": "dask_runner.errors",
    "ScenarioError": "dask_runner.errors",
    "SimulationLogError": "dask_runner.errors",
    "OutputDirError": "dask_runner.errors",
    "ClusterError": "dask_runner.errors",
    "RunnerTimeoutError": "dask_runner.errors",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'dask_runner' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from dask_runner.dask.pool import DaskDistributed  # noqa: F401
    from dask_runner.dask.ray_shim import RayDistributed  # noqa: F401
    from dask_runner.errors import (  # noqa: F401
        ClusterError,
        ConfigError,
        DaskRunnerError,
        OutputDirError,
        ResourceUnavailableError,
        RunnerTimeoutError,
        ScenarioError,
        SimulationFailedError,
        SimulationLogError,
    )
    from dask_runner.execution.executor import execute_runners  # noqa: F401
    from dask_runner.execution.parallel import SingleMachineParallelExecutor  # noqa: F401
    from dask_runner.execution.sequential import Sequential  # noqa: F401
    from dask_runner.execution.worker_pool import Task, WorkerPool, WorkerResources  # noqa: F401
    from dask_runner.io.runner_report import save_runner_reports  # noqa: F401
    from dask_runner.per_worker import per_worker  # noqa: F401
    from dask_runner.planners.planner_report import PlannerReport  # noqa: F401
    from dask_runner.runner.abstract_runner import AbstractRunner  # noqa: F401
    from dask_runner.runner.metric_runner import MetricRunner  # noqa: F401
    from dask_runner.runner.report import RunnerReport  # noqa: F401
    from dask_runner.runner.run_simulation import run_simulation  # noqa: F401
    from dask_runner.runner.simulation_builder import build_simulation_runners  # noqa: F401
    from dask_runner.runner.simulation_runner import SimulationRunner  # noqa: F401
    from dask_runner.simulation.callback.abstract_callback import (  # noqa: F401
        AbstractCallback,
        CallbackWork,
        MultiCallback,
        defer,
    )
