"""The learned planner's network and its checkpoint file. Imports torch: import this module only where torch is used.

The network maps a feature row (``features.py``) to 16 path advances. Inference runs in chunks of
exactly ``INFERENCE_ROWS`` rows (zero-padded): a matrix product's kernel, and so the last bits of
its result, depend on the number of rows, and measured on this project's torch CPU build a row's
output differed between batches of 1 to 5 rows and batches of 16. With one chunk shape every row
gets the same numbers whether it is computed alone or with 15 neighbours, which is what makes a
lockstep group's results identical to one-at-a-time runs.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch

from dask_runner.errors import ConfigError
from dask_runner.planners.ml.features import FEATURE_COUNT, FEATURE_VERSION, HORIZON_STEPS

CHECKPOINT_FORMAT = "dask_runner.ml_planner/1"
INFERENCE_ROWS = 16
DEFAULT_MODEL_CONFIG: dict[str, Any] = {"hidden": [128, 128]}


class TrajectoryMLP(torch.nn.Module):
    """Normalised features -> hidden layers with ReLU -> 16 path advances (scaled)."""

    feature_mean: torch.Tensor
    feature_std: torch.Tensor

    def __init__(self, hidden: list[int]) -> None:
        super().__init__()
        self.register_buffer("feature_mean", torch.zeros(FEATURE_COUNT))
        self.register_buffer("feature_std", torch.ones(FEATURE_COUNT))
        layers: list[torch.nn.Module] = []
        width = FEATURE_COUNT
        for size in hidden:
            layers += [torch.nn.Linear(width, size), torch.nn.ReLU()]
            width = size
        layers.append(torch.nn.Linear(width, HORIZON_STEPS))
        self.layers = torch.nn.Sequential(*layers)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.layers((features - self.feature_mean) / self.feature_std)


def validate_model_config(model_config: Any) -> dict[str, Any]:
    """The architecture as a plain dict; ConfigError showing a correct one otherwise."""
    if not isinstance(model_config, dict) or set(model_config) != {"hidden"}:
        raise ConfigError(f"model_config must be a mapping with the single key 'hidden', got {model_config!r}; "
                          "e.g. planner.ml_planner.model_config='{hidden: [128, 128]}'")
    hidden = model_config["hidden"]
    if not isinstance(hidden, list) or not hidden or not all(isinstance(h, int) and h > 0 for h in hidden):
        raise ConfigError(f"model_config.hidden must be a non-empty list of positive layer widths, got {hidden!r}; "
                          "e.g. [128, 128]")
    return {"hidden": list(hidden)}


def build_model(model_config: dict[str, Any]) -> TrajectoryMLP:
    return TrajectoryMLP(validate_model_config(model_config)["hidden"])


def save_checkpoint(path: str, model: TrajectoryMLP, model_config: dict[str, Any], metadata: dict[str, Any]) -> None:
    """Weights, architecture and how they were made, in one file written atomically."""
    payload = {
        "format": CHECKPOINT_FORMAT,
        "feature_version": FEATURE_VERSION,
        "model_config": validate_model_config(model_config),
        "state_dict": {name: tensor.detach().cpu().float() for name, tensor in model.state_dict().items()},
        "metadata": metadata,
    }
    temporary = f"{path}.tmp-{os.getpid()}"
    torch.save(payload, temporary)
    os.replace(temporary, path)


def read_checkpoint(path: str) -> dict[str, Any]:
    """The checkpoint's contents, checked; ConfigError naming the file and the fix for a missing or bad one."""
    if not os.path.isfile(path):
        raise ConfigError(f"ML planner checkpoint {path!r} does not exist; pass planner.ml_planner.checkpoint_path="
                          "<file written by `dask-runner train`>, or null for the model shipped with dask_runner")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for truncated or foreign files
        raise ConfigError(f"ML planner checkpoint {path!r} cannot be read ({type(exc).__name__}: "
                          f"{' '.join(str(exc).split())[:200]}); it is corrupt or not a checkpoint: retrain with "
                          "`dask-runner train`") from exc
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise ConfigError(f"ML planner checkpoint {path!r} is not a {CHECKPOINT_FORMAT} checkpoint; "
                          "write one with `dask-runner train`")
    if payload.get("feature_version") != FEATURE_VERSION:
        raise ConfigError(f"ML planner checkpoint {path!r} was trained on features of version "
                          f"{payload.get('feature_version')}, this dask_runner computes version {FEATURE_VERSION}; "
                          "retrain with `dask-runner train`")
    return payload


def load_model(path: str, model_config: dict[str, Any] | None, device: str) -> TrajectoryMLP:
    """The checkpoint's network on ``device``, in eval mode; ``model_config`` (if given) must match the file's."""
    payload = read_checkpoint(path)
    config = payload["model_config"] if model_config is None else validate_model_config(model_config)
    model = build_model(config)
    try:
        model.load_state_dict(payload["state_dict"])
    except RuntimeError as exc:
        raise ConfigError(f"ML planner checkpoint {path!r} does not fit model_config {config!r} (the file was trained "
                          f"with {payload['model_config']!r}); pass model_config=null to use the file's") from exc
    return model.to(device).eval()


def resolve_device(device: str) -> str:
    """``"auto"``: the GPU this process sees (a Dask-CUDA worker sees its own), else the CPU."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def predict(model: TrajectoryMLP, rows: np.ndarray) -> np.ndarray:
    """The network's outputs for ``rows`` (one per simulation), computed in fixed chunks of ``INFERENCE_ROWS``."""
    parameter = next(model.parameters())
    outputs = []
    with torch.inference_mode():
        for start in range(0, rows.shape[0], INFERENCE_ROWS):
            chunk = rows[start:start + INFERENCE_ROWS]
            padded = np.zeros((INFERENCE_ROWS, FEATURE_COUNT), dtype=np.float32)
            padded[:chunk.shape[0]] = chunk
            result = model(torch.from_numpy(padded).to(parameter.device))
            outputs.append(result[:chunk.shape[0]].double().cpu().numpy())
    return np.concatenate(outputs) if outputs else np.zeros((0, HORIZON_STEPS))
