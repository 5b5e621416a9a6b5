"""Ego controllers: how the ego moves given the trajectory the planner asked for."""

from dask_runner.simulation.controller.abstract_controller import AbstractEgoController
from dask_runner.simulation.controller.kinematic_bicycle import KinematicBicycleModel
from dask_runner.simulation.controller.log_playback import LogPlaybackController
from dask_runner.simulation.controller.perfect_tracking import PerfectTrackingController
from dask_runner.simulation.controller.tracker import TrajectoryTracker
from dask_runner.simulation.controller.two_stage import TwoStageController

__all__ = [
    "AbstractEgoController",
    "KinematicBicycleModel",
    "LogPlaybackController",
    "PerfectTrackingController",
    "TrajectoryTracker",
    "TwoStageController",
]
