"""The closed-loop simulation: loop, setup, clock, ego controllers, observations, history, callbacks.

Names are imported lazily, so ``import dask_runner.simulation.history`` stays light and free of cycles.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Simulation": "dask_runner.simulation.simulation",
    "SimulationSetup": "dask_runner.simulation.simulation_setup",
    "validate_planner_setup": "dask_runner.simulation.simulation_setup",
    "StepSimulationTimeController": "dask_runner.simulation.time_controller",
    "AbstractEgoController": "dask_runner.simulation.controller",
    "PerfectTrackingController": "dask_runner.simulation.controller",
    "TwoStageController": "dask_runner.simulation.controller",
    "KinematicBicycleModel": "dask_runner.simulation.controller",
    "TrajectoryTracker": "dask_runner.simulation.controller",
    "AbstractObservation": "dask_runner.simulation.observation",
    "TracksObservation": "dask_runner.simulation.observation",
    "IDMAgents": "dask_runner.simulation.observation",
    "SimulationHistory": "dask_runner.simulation.history",
    "SimulationHistoryBuffer": "dask_runner.simulation.history",
    "SimulationHistorySample": "dask_runner.simulation.history",
    "SimulationIteration": "dask_runner.simulation.history",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'dask_runner.simulation' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
