"""An ML planner: IDM along the route, with the cruise speed chosen each step by a small torch MLP.

It is the reference workload for GPU batches: a network loaded once per worker process through
:func:`dask_runner.per_worker.per_worker` (so four simulations sharing a GPU at 0.25 each
share one copy), and a forward pass on the GPU every step. The MLP reads the ego state and the nearest
agents (positions and velocities in the ego frame) and outputs a factor in [min_speed_factor, 1] for the
IDM target speed: a real, deterministic (seeded) model, not a trained one. torch is imported only where
the model is built or run.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from dask_runner.errors import ConfigError
from dask_runner.per_worker import per_worker
from dask_runner.planners.abstract_planner import PlannerInput
from dask_runner.planners.idm_planner import IDMPlanner
from dask_runner.planners.route_path import RoutePath
from dask_runner.scenarios.state import Trajectory

if TYPE_CHECKING:
    from dask_runner.scenarios.state import TrackedObjects

AGENT_FEATURES = 4  # x, y, vx, vy in the ego frame
EGO_FEATURES = 4  # speed, acceleration, sin(heading), cos(heading)


def resolve_device(device: str) -> str:
    """``"auto"``: the GPU this process sees (Dask-CUDA workers see one), else the CPU."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def build_speed_mlp(num_agents: int, hidden: int, seed: int, device: str) -> Any:
    """The MLP, with weights drawn from ``seed`` so every worker builds the same network."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    layers = torch.nn.Sequential(
        torch.nn.Linear(EGO_FEATURES + AGENT_FEATURES * num_agents, hidden),
        torch.nn.ReLU(),
        torch.nn.Linear(hidden, hidden),
        torch.nn.ReLU(),
        torch.nn.Linear(hidden, 1),
    )
    with torch.no_grad():
        for parameter in layers.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.1)
    return layers.to(device).eval()


def scene_features(ego_x: float, ego_y: float, heading: float, velocity: float, acceleration: float,
                   observation: TrackedObjects, num_agents: int) -> np.ndarray:
    """Ego state plus the ``num_agents`` nearest agents in the ego frame (zero-padded), scaled to ~unit range."""
    features = np.zeros(EGO_FEATURES + AGENT_FEATURES * num_agents, dtype=np.float32)
    features[:EGO_FEATURES] = (velocity / 10.0, acceleration / 3.0, math.sin(heading), math.cos(heading))
    if len(observation) == 0:
        return features
    offsets = observation.poses[:, :2] - (ego_x, ego_y)
    nearest = np.argsort(np.einsum("ij,ij->i", offsets, offsets))[:num_agents]
    cos_h, sin_h = math.cos(heading), math.sin(heading)
    rotation = np.array([[cos_h, -sin_h], [sin_h, cos_h]])  # world → ego frame (applied on the right)
    local_xy = offsets[nearest] @ rotation / 50.0
    local_v = observation.velocities[nearest] @ rotation / 10.0
    agents = np.hstack([local_xy, local_v]).astype(np.float32)
    features[EGO_FEATURES:EGO_FEATURES + agents.size] = agents.ravel()
    return features


class TorchIDMPlanner(IDMPlanner):
    """IDMPlanner whose target speed each step comes from a torch MLP on the GPU (or CPU)."""

    def __init__(
        self,
        device: str = "auto",
        num_agents: int = 8,
        hidden: int = 64,
        seed: int = 0,
        min_speed_factor: float = 0.6,
        **idm_options: Any,
    ) -> None:
        super().__init__(**idm_options)
        if num_agents < 1 or hidden < 1:
            raise ConfigError(f"num_agents and hidden must be positive, got {num_agents} and {hidden}; "
                              "e.g. TorchIDMPlanner(num_agents=8, hidden=64)")
        if not 0.0 < min_speed_factor <= 1.0:
            raise ConfigError(f"min_speed_factor must be in (0, 1], got {min_speed_factor}; "
                              "e.g. TorchIDMPlanner(min_speed_factor=0.6)")
        self.device = device
        self.num_agents = num_agents
        self.hidden = hidden
        self.seed = seed
        self.min_speed_factor = min_speed_factor
        self.speed_factors: list[float] = []
        self._factor = 1.0

    def name(self) -> str:
        return "TorchIDMPlanner"

    def model_key(self, device: str) -> str:
        """The per-worker cache key: one network per architecture, seed and device."""
        return f"torch-speed-mlp:agents={self.num_agents}:hidden={self.hidden}:seed={self.seed}:{device}"

    def model(self) -> Any:
        """The shared network of this worker process, built on first use."""
        device = resolve_device(self.device)
        return per_worker(self.model_key(device),
                          lambda: build_speed_mlp(self.num_agents, self.hidden, self.seed, device))

    def speed_factor(self, features: np.ndarray) -> float:
        """One forward pass: a factor in [min_speed_factor, 1] for the cruise speed."""
        import torch

        network = self.model()
        device = next(network.parameters()).device
        with torch.no_grad():
            output = network(torch.from_numpy(features).to(device).unsqueeze(0))
            unit = float(torch.sigmoid(output).item())
        return self.min_speed_factor + (1.0 - self.min_speed_factor) * unit

    def compute_planner_trajectory(self, current_input: PlannerInput) -> Trajectory:
        ego = current_input.history.ego_states[-1]
        observation = current_input.history.observations[-1]
        features = scene_features(ego.x, ego.y, ego.heading, ego.velocity, ego.acceleration, observation,
                                  self.num_agents)
        self._factor = self.speed_factor(features)
        self.speed_factors.append(self._factor)
        return super().compute_planner_trajectory(current_input)

    def _rollout(self, path: RoutePath, time_s: float, station: float, velocity: float, target: float,
                 lead_gap: float, lead_speed: float) -> Trajectory:
        return super()._rollout(path, time_s, station, velocity, target * self._factor, lead_gap, lead_speed)
