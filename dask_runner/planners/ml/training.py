"""Training the learned planner by imitation: features of the experts' drives, cached as parquet, then an MLP fit.

Three steps, as in nuPlan's training: extract (one task per scenario turns the expert's drive into
feature and target rows), cache (one parquet file per scenario and feature version; cached files are
reused, so a second training on the same scenarios skips extraction), fit (a few minutes of Adam on
the CPU). The job that runs the extraction on a pool and writes the checkpoint is
``dask_runner.experiment.training_job``. The training scenarios are generated with seeds from ``FIRST_TRAINING_SEED``
on; the evaluation scenarios (``scenario_filter`` with the default ``seed=0``) use seeds from 0, so
none of them is in a training set of fewer than 1000 scenarios per type.

torch is imported in ``fit`` only; extraction needs numpy and pandas.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from dask_runner.errors import ConfigError
from dask_runner.planners.ml.features import (
    EGO_FEATURES,
    FEATURE_COUNT,
    FEATURE_VERSION,
    HORIZON_STEPS,
    STEP_S,
    expert_targets,
    scene_features,
)
from dask_runner.planners.route_path import RoutePath
from dask_runner.scenarios.state import HEADING, VELOCITY, EgoState, VehicleParameters, X, Y

logger = logging.getLogger(__name__)

FIRST_TRAINING_SEED = 1000
HISTORY_S = 2.0  # the planner's history buffer: the features look back at most this far
PERTURB_STATION_M = 3.0
PERTURB_SPEED = 0.2


def training_pairs(scenarios_per_type: int, first_seed: int = FIRST_TRAINING_SEED,
                   scenario_types: list[str] | None = None) -> list[tuple[str, int]]:
    """The (scenario type, seed) pairs of a training set: ``scenarios_per_type`` seeds of every type."""
    from dask_runner.scenarios.synthetic import SCENARIO_TYPES

    types = list(scenario_types or SCENARIO_TYPES)
    return [(scenario_type, first_seed + k) for scenario_type in types for k in range(scenarios_per_type)]


def extract_rows(scenario_type: str, seed: int, stride_iterations: int = 3, perturbations: int = 2) -> pd.DataFrame:
    """Feature and target rows of one generated scenario's expert drive, every ``stride_iterations`` iterations.

    Each sampled state also gives ``perturbations`` copies moved along the path (up to
    ``PERTURB_STATION_M``) with the speed scaled (up to ``PERTURB_SPEED``), drawn from a generator
    seeded by the scenario, whose targets lead back to the expert's drive."""
    from dask_runner.scenarios.synthetic import SCENARIO_TYPES, generate_scenario

    scenario = generate_scenario(scenario_type, seed)
    path = RoutePath.from_route(scenario.map_api, scenario.get_route_lane_ids())
    expert = scenario.get_expert_ego_trajectory().states
    interval = scenario.database_interval
    stride = int(round(STEP_S / interval))
    history = int(round(HISTORY_S / interval)) + 1
    front = VehicleParameters().front_length
    stations = np.zeros(len(expert))
    previous = float(path.project(expert[:1, 1:3], 0, len(path.stations) - 1)[0][0])
    for i, row in enumerate(expert):
        previous = stations[i] = path.locate(float(row[X]), float(row[Y]), previous)[0]
    rng = np.random.default_rng([seed, SCENARIO_TYPES.index(scenario_type)])
    records = []
    for i in range(0, len(expert) - stride, stride_iterations):
        observation = scenario.get_tracked_objects_at_iteration(i)
        lights = scenario.get_traffic_light_status_at_iteration(i)
        first = max(0, i - history + 1)
        for copy in range(1 + perturbations):
            offset = 0.0 if copy == 0 else float(rng.uniform(-PERTURB_STATION_M, PERTURB_STATION_M))
            speed = 1.0 if copy == 0 else float(rng.uniform(1.0 - PERTURB_SPEED, 1.0 + PERTURB_SPEED))
            recent = _moved(path, expert[first:i + 1], stations[first:i + 1], offset, speed)
            features = scene_features(path, float(stations[i]) + offset, front, recent, observation, lights)
            advances, mask = expert_targets(stations, i, stride, offset)
            records.append((i, copy, features, advances, mask))
    frame = pd.DataFrame(np.array([np.concatenate([f, a, m]) for _, _, f, a, m in records]),
                         columns=feature_columns() + target_columns() + mask_columns())
    frame.insert(0, "perturbed", [copy > 0 for _, copy, _, _, _ in records])
    frame.insert(0, "iteration", [i for i, _, _, _, _ in records])
    frame.insert(0, "seed", seed)
    frame.insert(0, "scenario_type", scenario_type)
    return frame


def _moved(path: RoutePath, states: np.ndarray, stations: np.ndarray, offset: float, speed: float) -> list[EgoState]:
    """Expert states shifted ``offset`` metres along the path (keeping their offset from it), speeds scaled."""
    moved = states.copy()
    if offset:
        x0, y0, h0 = path.pose_columns(stations.astype(np.float64))
        x1, y1, h1 = path.pose_columns(stations.astype(np.float64) + offset)
        moved[:, X] += x1 - x0
        moved[:, Y] += y1 - y0
        moved[:, HEADING] += h1 - h0
    moved[:, VELOCITY] *= speed
    return [EgoState.from_array(row) for row in moved]


def feature_columns() -> list[str]:
    return [f"feature_{k}" for k in range(FEATURE_COUNT)]


def target_columns() -> list[str]:
    return [f"advance_{k}" for k in range(HORIZON_STEPS)]


def mask_columns() -> list[str]:
    return [f"mask_{k}" for k in range(HORIZON_STEPS)]


def cache_file(cache_dir: str, scenario_type: str, seed: int) -> str:
    return os.path.join(cache_dir, f"v{FEATURE_VERSION}", f"{scenario_type}-{seed:06d}.parquet")


def extract_to_cache(scenario_type: str, seed: int, cache_dir: str) -> str:
    """The task each Dask worker runs: extract one scenario's rows and write them (atomically) to the cache."""
    target = cache_file(cache_dir, scenario_type, seed)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    temporary = f"{target}.tmp-{os.getpid()}"
    extract_rows(scenario_type, seed).to_parquet(temporary, index=False)
    os.replace(temporary, target)
    return target


@dataclass(frozen=True)
class TrainingSettings:
    """Everything that decides the trained weights (recorded in the checkpoint)."""

    scenarios_per_type: int = 60
    first_seed: int = FIRST_TRAINING_SEED
    scenario_types: list[str] | None = None
    hidden: list[int] = field(default_factory=lambda: [128, 128])
    epochs: int = 40
    batch_size: int = 512
    learning_rate: float = 2e-3
    validation_fraction: float = 0.1
    weight_decay: float = 1e-4
    ignore_ego_past: bool = False
    torch_seed: int = 0

    def __post_init__(self) -> None:
        if self.scenarios_per_type < 1 or self.epochs < 1 or self.batch_size < 1:
            raise ConfigError("scenarios_per_type, epochs and batch_size must be positive; "
                              "e.g. dask-runner train --scenarios-per-type 40 --epochs 60")
        if not 0.0 <= self.validation_fraction < 1.0:
            raise ConfigError(f"validation_fraction must be in [0, 1), got {self.validation_fraction}")


def _masked_mse(prediction: Any, target: Any, mask: Any) -> Any:
    return ((prediction - target) ** 2 * mask).sum() / mask.sum().clamp(min=1.0)


def fit(frame: pd.DataFrame, settings: TrainingSettings) -> tuple[Any, float, float]:
    """(network, final training loss, validation loss): masked mean squared error of the scaled advances."""
    import torch

    from dask_runner.planners.ml.model import build_model

    torch.manual_seed(settings.torch_seed)
    torch.use_deterministic_algorithms(True)
    scenario_ids = frame["scenario_type"] + "-" + frame["seed"].astype(str)
    names = sorted(set(scenario_ids))
    rng = np.random.default_rng(settings.torch_seed)
    held = set(rng.choice(names, size=int(len(names) * settings.validation_fraction), replace=False).tolist())
    is_validation = scenario_ids.isin(held).to_numpy()

    def tensors(rows: np.ndarray) -> tuple[Any, Any, Any]:
        part = frame[rows]
        return (torch.tensor(part[feature_columns()].to_numpy(), dtype=torch.float32),
                torch.tensor(part[target_columns()].to_numpy(), dtype=torch.float32),
                torch.tensor(part[mask_columns()].to_numpy(), dtype=torch.float32))

    x, y, m = tensors(~is_validation)
    vx, vy, vm = tensors(is_validation)
    model = build_model({"hidden": list(settings.hidden)})
    model.feature_mean.copy_(x.mean(dim=0))
    model.feature_std.copy_(x.std(dim=0).clamp(min=1e-2))
    if settings.ignore_ego_past:  # an infinite scale makes the network blind to these columns
        model.feature_std[1:EGO_FEATURES] = float("inf")
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.learning_rate, weight_decay=settings.weight_decay)
    steps_per_epoch = max(1, (len(x) + settings.batch_size - 1) // settings.batch_size)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=settings.epochs * steps_per_epoch)
    generator = torch.Generator().manual_seed(settings.torch_seed)
    train_loss = float("nan")
    for epoch in range(settings.epochs):
        order = torch.randperm(len(x), generator=generator)
        total, count = 0.0, 0
        model.train()
        for start in range(0, len(x), settings.batch_size):
            index = order[start:start + settings.batch_size]
            loss = _masked_mse(model(x[index]), y[index], m[index])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            total += float(loss.detach()) * len(index)
            count += len(index)
        train_loss = total / count
        if epoch % 10 == 0 or epoch == settings.epochs - 1:
            logger.info("epoch %d: training loss %.5f", epoch, train_loss)
    model.eval()
    with torch.no_grad():
        train_loss = float(_masked_mse(model(x), y, m))
        validation_loss = float(_masked_mse(model(vx), vy, vm)) if len(vx) else float("nan")
    return model, train_loss, validation_loss
