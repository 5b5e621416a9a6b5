"""Small hand-built scenarios on a straight road, for tests that need a precise traffic situation."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dask_runner.scenarios.abstract_map import Lane
from dask_runner.scenarios.map import ArrayMap
from dask_runner.scenarios.scenario import Scenario
from dask_runner.scenarios.state import EGO_DIM, HEADING, VELOCITY, AgentType, StateSE2, T, X, Y

LANE_WIDTH = 3.5


@dataclass(frozen=True)
class StraightAgent:
    """An agent driving along the road (y = ``y``) from ``x0`` at constant ``speed``."""

    track_id: int
    x0: float
    speed: float
    y: float = 0.0
    length: float = 4.5
    width: float = 1.9


def _lane(lane_id: str, x_from: float, x_to: float, successors: tuple[str, ...] = (),
          light: str | None = None, speed_limit: float = 15.0) -> Lane:
    xs = np.linspace(x_from, x_to, int((x_to - x_from) / 5.0) + 1)
    centre = np.stack([xs, np.zeros_like(xs)], axis=1)
    half = LANE_WIDTH / 2.0
    stop_line = np.array([[x_to, -half], [x_to, half]]) if light is not None else None
    return Lane(lane_id, centre, centre + [0.0, half], centre - [0.0, half], speed_limit,
                successors=successors, traffic_light_id=light, stop_line=stop_line)


def straight_road_scenario(
    n_steps: int = 150,
    ego_speed: float = 10.0,
    agents: tuple[StraightAgent, ...] = (),
    light_state: int | None = None,
    light_at: float = 100.0,
    token: str = "straight",
) -> Scenario:
    """Ego (expert) at constant speed from x = 0 along +x; lane "a" ends at ``light_at`` (with a traffic
    light "tl" there, constantly ``light_state``, if given) and continues as lane "b" up to x = 600."""
    lanes = [
        _lane("a", -50.0, light_at, successors=("b",), light=None if light_state is None else "tl"),
        _lane("b", light_at, 600.0),
    ]
    times = 0.1 * np.arange(n_steps)
    ego = np.zeros((n_steps, EGO_DIM))
    ego[:, T] = times
    ego[:, X] = ego_speed * times
    ego[:, Y] = 0.0
    ego[:, HEADING] = 0.0
    ego[:, VELOCITY] = ego_speed
    n_agents = len(agents)
    poses = np.zeros((n_steps, n_agents, 3))
    velocities = np.zeros((n_steps, n_agents, 2))
    for k, agent in enumerate(agents):
        poses[:, k, 0] = agent.x0 + agent.speed * times
        poses[:, k, 1] = agent.y
        velocities[:, k, 0] = agent.speed
    light_ids: tuple[str, ...] = () if light_state is None else ("tl",)
    light_states = np.full((n_steps, len(light_ids)), light_state or 0, dtype=np.int8)
    return Scenario(
        token=token,
        scenario_name=f"{token}_scenario",
        log_name="handmade",
        scenario_type="handmade",
        map_api=ArrayMap("straight_road", lanes),
        expert_ego=ego,
        agent_track_ids=np.array([a.track_id for a in agents], dtype=np.int64),
        agent_types=np.full(n_agents, AgentType.VEHICLE, dtype=np.int8),
        agent_sizes=np.array([[a.length, a.width] for a in agents]).reshape(n_agents, 2),
        agent_poses=poses,
        agent_velocities=velocities,
        route_lane_ids=("a", "b"),
        mission_goal=StateSE2(float(ego[-1, X]), 0.0, 0.0),
        traffic_light_ids=light_ids,
        traffic_light_states=light_states,
    )
