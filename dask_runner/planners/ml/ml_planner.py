"""``planner=ml_planner``: a trajectory planner learned from the generated scenarios' expert drives.

nuPlan's MLPlanner takes ``model_config`` and ``checkpoint_path``, builds the model for every
runner and runs one forward pass per step. Here the planner object carries only the path: the
checkpoint is checked once where the planners are built (a missing or corrupt file fails the job
before any simulation), the network is loaded once per worker process (``per_worker``) onto the
worker's GPU when it has one, and a lockstep group asks for one step of all its simulations in one
forward pass (``BatchPlanner``).

The network predicts how far to advance along the route path in each of the next 16 half-seconds;
the planner lays those stations onto the path (as the IDM planner lays its rollout), so the
trajectory has 16 poses over 8 s plus the current one.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from dask_runner.errors import ConfigError, DaskRunnerError
from dask_runner.per_worker import per_worker
from dask_runner.planners.abstract_planner import PlannerInitialization, PlannerInput
from dask_runner.planners.batch_planner import BatchPlanner
from dask_runner.planners.ml.features import HORIZON_STEPS, STEP_S, advances_to_stations, scene_features
from dask_runner.planners.route_path import RoutePath
from dask_runner.scenarios.state import (
    ACCELERATION,
    EGO_DIM,
    HEADING,
    VELOCITY,
    FloatArray,
    T,
    TrackedObjects,
    Trajectory,
    VehicleParameters,
    X,
    Y,
)

if TYPE_CHECKING:
    from dask_runner.planners.ml.model import TrajectoryMLP

SHIPPED_CHECKPOINT = os.path.join(os.path.dirname(__file__), "checkpoints", "ml_planner.pt")
INSTALL_HINT = "pip install 'dask_runner[ml]'"
MAX_ACCEL = 2.3  # m/s^2 (nuPlan's comfort bound: 2.40)
MIN_ACCEL = -5.0  # m/s^2: hard braking stays available
MAX_JERK = 4.0  # m/s^3 (nuPlan's comfort bound: 4.13)


def require_torch() -> None:
    """ConfigError naming the extra to install when torch is missing."""
    try:
        import torch  # noqa: F401
    except ImportError as exc:
        raise ConfigError(f"planner=ml_planner needs PyTorch, which is not installed here: {INSTALL_HINT}") from exc


@functools.lru_cache(maxsize=16)
def _checked(path: str, stamp: tuple[float, int], model_config_json: str) -> None:
    """Load the checkpoint once per (file version, config) in this process: the driver checks it before any run."""
    from dask_runner.planners.ml.model import load_model

    load_model(path, json.loads(model_config_json), "cpu")


def check_checkpoint(path: str, model_config: dict[str, Any] | None) -> None:
    require_torch()
    if not os.path.isfile(path):
        from dask_runner.planners.ml.model import read_checkpoint

        read_checkpoint(path)  # raises the ConfigError that names the fix
    status = os.stat(path)
    _checked(path, (status.st_mtime, status.st_size), json.dumps(model_config, sort_keys=True))


def drivable_profile(stations: FloatArray, velocity: float, acceleration: float) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(stations, speeds, accelerations) that follow the network's stations within a car's limits.

    The network gives 16 positions; read as they are, their speeds jump from one step's plan to the
    next by a few tenths of a m/s, which the controller turns into jerk. The profile instead starts
    at the ego's speed and acceleration and steers each half-second towards the network's speed at
    its end, with acceleration and jerk bounded (nuPlan's comfort bounds, with some braking reserve)."""
    mean_speeds = np.diff(stations) / STEP_S
    wanted = np.empty(HORIZON_STEPS)
    wanted[:-1] = 0.5 * (mean_speeds[:-1] + mean_speeds[1:])
    wanted[-1] = mean_speeds[-1]
    out_stations = np.empty(HORIZON_STEPS + 1)
    speeds = np.empty(HORIZON_STEPS + 1)
    accelerations = np.empty(HORIZON_STEPS + 1)
    out_stations[0], speeds[0] = stations[0], velocity
    accel = acceleration
    for k in range(HORIZON_STEPS):
        v = speeds[k]
        desired = (wanted[k] - v) / STEP_S
        accel = min(max(desired, accel - MAX_JERK * STEP_S, MIN_ACCEL), accel + MAX_JERK * STEP_S, MAX_ACCEL)
        new_v = max(v + accel * STEP_S, 0.0)
        accelerations[k] = (new_v - v) / STEP_S
        out_stations[k + 1] = out_stations[k] + 0.5 * (v + new_v) * STEP_S
        speeds[k + 1] = new_v
    accelerations[-1] = accelerations[-2]
    return out_stations, speeds, accelerations


class MLPlanner(BatchPlanner):
    """The learned planner; ``checkpoint_path=None`` uses the model shipped with dask_runner."""

    def __init__(
        self,
        model_config: dict[str, Any] | None = None,
        checkpoint_path: str | None = None,
        device: str = "auto",
        vehicle: VehicleParameters | None = None,
    ) -> None:
        if device not in ("auto", "cpu") and not device.startswith("cuda"):
            raise ConfigError(f"device must be 'auto', 'cpu' or 'cuda[:n]', got {device!r}")
        self.model_config = None if model_config is None else dict(model_config)
        self.checkpoint_path = os.path.abspath(checkpoint_path) if checkpoint_path else SHIPPED_CHECKPOINT
        self.device = device
        self.vehicle = vehicle or VehicleParameters()
        check_checkpoint(self.checkpoint_path, self.model_config)
        self._path: RoutePath | None = None
        self._station: float | None = None
        self._key: str | None = None  # the per-worker model key, resolved where the planner runs

    def __getstate__(self) -> dict[str, object]:
        state = self.__dict__.copy()
        state.update(_path=None, _station=None, _key=None)  # rebuilt where the planner runs
        return state

    def name(self) -> str:
        return "MLPlanner"

    def observation_type(self) -> type:
        return TrackedObjects

    def initialize(self, initialization: PlannerInitialization) -> None:
        self._path = RoutePath.from_route(initialization.map_api, initialization.route_lane_ids)
        self._station = None

    def batch_key(self) -> str:
        return self._model_key()

    def _model_key(self) -> str:
        """One network per checkpoint file version, model_config and device (looked up once per planner)."""
        if self._key is None:
            from dask_runner.planners.ml.model import resolve_device

            self._key = (f"ml-planner:{self.checkpoint_path}:{os.path.getmtime(self.checkpoint_path)}:"
                         f"{json.dumps(self.model_config, sort_keys=True)}:{resolve_device(self.device)}")
        return self._key

    def model(self) -> TrajectoryMLP:
        """This worker process's copy of the network, loaded by the first simulation that asks."""
        from dask_runner.planners.ml.model import load_model, resolve_device

        device = resolve_device(self.device)
        return per_worker(self._model_key(), lambda: load_model(self.checkpoint_path, self.model_config, device))

    def _features(self, current_input: PlannerInput) -> tuple[FloatArray, float]:
        """(feature row, ego station); pure: the planner's state changes only in ``_decode``."""
        path = self._path
        if path is None:
            raise DaskRunnerError("MLPlanner.compute_trajectory called before initialize(); initialize it first")
        history = current_input.history
        ego = history.ego_states[-1]
        previous = self._station
        if previous is None:
            stations, _ = path.project(np.array([[ego.x, ego.y]]), 0, len(path.stations) - 1)
            previous = float(stations[0])
        station, _, _ = path.locate(ego.x, ego.y, previous)
        row = scene_features(path, station, self.vehicle.front_length, history.ego_states,
                             history.observations[-1], current_input.traffic_light_data)
        return row, station

    def _decode(self, advances: FloatArray, station: float, current_input: PlannerInput) -> Trajectory:
        path = self._path
        assert path is not None  # _features checked it
        ego = current_input.history.ego_states[-1]
        stations, velocities, accelerations = drivable_profile(advances_to_stations(advances, station),
                                                               ego.velocity, ego.acceleration)
        states = np.zeros((HORIZON_STEPS + 1, EGO_DIM))
        states[:, T] = ego.time_s + np.arange(HORIZON_STEPS + 1) * STEP_S
        states[:, X], states[:, Y], states[:, HEADING] = path.pose_columns(stations)
        states[:, VELOCITY] = velocities
        states[:, ACCELERATION] = accelerations
        self._station = station
        return Trajectory(states)

    def compute_planner_trajectory(self, current_input: PlannerInput) -> Trajectory:
        from dask_runner.planners.ml.model import predict

        row, station = self._features(current_input)
        advances = predict(self.model(), row[None, :])[0]
        return self._decode(advances, station, current_input)

    @classmethod
    def compute_planner_trajectories(cls, planners: Sequence[BatchPlanner],
                                     inputs: Sequence[PlannerInput]) -> list[Trajectory]:
        """Features per simulation, one forward pass for all, then each trajectory laid onto its own route."""
        from dask_runner.planners.ml.model import predict

        members = [planner for planner in planners if isinstance(planner, MLPlanner)]
        if len(members) != len(planners):
            raise DaskRunnerError("MLPlanner.compute_planner_trajectories got planners of another class")
        prepared = [planner._features(current_input) for planner, current_input in zip(members, inputs)]
        outputs = predict(members[0].model(), np.stack([row for row, _ in prepared]))
        return [planner._decode(advances, station, current_input)
                for planner, advances, (_, station), current_input in zip(members, outputs, prepared, inputs)]
