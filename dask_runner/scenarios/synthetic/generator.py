"""From (type, seed) to a Scenario, or to a lazy reference with the same identity.

The identity (token, names, log name) is computed here without generating, so scenario filters and
lazy references stay cheap; generation seeds one random stream per (type, seed), runs the recipe and
the car-following simulation, and assembles the result in a seed-specific rigid frame.
"""

from __future__ import annotations

import dataclasses
import hashlib
import zlib

import numpy as np

from dask_runner.errors import ConfigError
from dask_runner.scenarios import polyline
from dask_runner.scenarios.map import ArrayMap
from dask_runner.scenarios.scenario import Scenario
from dask_runner.scenarios.scenario_ref import LazyScenario
from dask_runner.scenarios.state import EGO_DIM, AgentType, StateSE2
from dask_runner.scenarios.synthetic.agent_pruning import _colliding_agents, _unsafe_agents
from dask_runner.scenarios.synthetic.car_following import _simulate
from dask_runner.scenarios.synthetic.constants import _EGO, _TIMES, DT, MAX_AGENTS, NUM_ITERATIONS
from dask_runner.scenarios.synthetic.recipes import _BUILDERS, _ROAD_LANES, SCENARIO_TYPES
from dask_runner.scenarios.synthetic.road_geometry import _road_params
from dask_runner.scenarios.synthetic.scene import _Scene


def scenario_token(scenario_type: str, seed: int) -> str:
    """A stable token for (type, seed): the same on every machine and run, so batches can resume."""
    return hashlib.sha1(f"synthetic/{scenario_type}/{seed}".encode()).hexdigest()[:16]


def scenario_name(scenario_type: str, seed: int) -> str:
    return f"{scenario_type}-{seed:06d}"


def log_name(scenario_type: str, seed: int) -> str:
    """The log name of (type, seed), computed without generating: the map kind (straight, curved,
    intersection) comes from replaying the first random draws of the road."""
    _check(scenario_type, seed)
    lanes = _ROAD_LANES.get(scenario_type)
    if lanes is None:
        return _log_name("intersection", seed)
    road = _road_params(_rng(scenario_type, seed), *lanes)
    return _log_name("curved" if road.curved else "straight", seed)


def _log_name(map_kind: str, seed: int) -> str:
    return f"synthetic-{map_kind}-{seed % 16:02d}"


def _check(scenario_type: str, seed: int) -> None:
    if scenario_type not in _BUILDERS:
        raise ConfigError(f"unknown synthetic scenario type {scenario_type!r}; valid types: {', '.join(SCENARIO_TYPES)}")
    if seed < 0:
        raise ConfigError(f"scenario seed must be >= 0, got {seed}")


def _rng(scenario_type: str, seed: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), zlib.crc32(scenario_type.encode())])


def generate_scenario(scenario_type: str, seed: int) -> Scenario:
    """The synthetic scenario of ``scenario_type`` number ``seed`` (deterministic)."""
    _check(scenario_type, seed)
    rng = _rng(scenario_type, seed)
    scene = _BUILDERS[scenario_type](rng)
    return _assemble(scene, scenario_type, seed, rng)


def synthetic_scenario_ref(scenario_type: str, seed: int) -> LazyScenario:
    """A lazy reference to ``generate_scenario(scenario_type, seed)``: the same identity, generated
    where it is first used (a runner on it pickles to a few kB)."""
    return LazyScenario(
        generate_scenario,
        (scenario_type, int(seed)),
        token=scenario_token(scenario_type, seed),
        scenario_name=scenario_name(scenario_type, seed),
        log_name=log_name(scenario_type, seed),
        scenario_type=scenario_type,
        database_interval=DT,
        number_of_iterations=NUM_ITERATIONS,
        ego_vehicle_parameters=_EGO,
    )


# ---------------------------------------------------------------------------------------------------
# From the simulation to a Scenario
# ---------------------------------------------------------------------------------------------------


def _assemble(scene: _Scene, scenario_type: str, seed: int, rng: np.random.Generator) -> Scenario:
    s, v, a = _simulate(scene)
    t = _TIMES
    n = len(scene.path_of)
    # Rigid transform so that seeds differ in orientation and position too.
    angle = float(rng.uniform(-np.pi, np.pi))
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    shift = rng.uniform(-300.0, 300.0, size=2)

    # Agents: centre poses along their paths.
    poses = np.full((NUM_ITERATIONS, n, 3), np.nan)
    for i in range(1, n):
        path = scene.paths[scene.path_of[i]]
        present = (s[:, i] < path.length) & (s[:, i] >= 0.0)
        si = s[present, i]
        xy = np.stack([np.interp(si, path.stations, path.line[:, 0]), np.interp(si, path.stations, path.line[:, 1])], 1)
        poses[present, i, :2] = xy @ rot.T + shift
        poses[present, i, 2] = np.interp(si, path.stations, path.headings) + angle
    poses[..., 2] = polyline.wrap_angle(poses[..., 2])
    speeds = v[:, 1:]
    agent_poses = poses[:, 1:]
    velocities = np.stack([speeds * np.cos(agent_poses[..., 2]), speeds * np.sin(agent_poses[..., 2])], axis=-1)

    # The expert ego (rear axle) along its path, plus the lane-change offset where there is one.
    ego_path = scene.paths[scene.path_of[0]]
    xy = polyline.points_at_stations(ego_path.line, s[:, 0])
    heading = polyline.headings_at_stations(ego_path.line, s[:, 0])
    if scene.ego_lateral is not None:
        lat = scene.ego_lateral(t, s[:, 0])
        xy = xy + lat[:, None] * np.stack([-np.sin(heading), np.cos(heading)], axis=-1)
        heading = heading + np.arctan2(np.gradient(lat, DT), np.maximum(v[:, 0], 0.5))
    heading = np.unwrap(heading)
    yaw_rate = np.gradient(heading, DT)
    curvature = np.interp(s[:, 0], ego_path.stations, ego_path.curvature)
    steering = np.where(v[:, 0] > 0.5, np.arctan(_EGO.wheel_base * yaw_rate / np.maximum(v[:, 0], 0.5)),
                        np.arctan(_EGO.wheel_base * curvature))
    ego = np.empty((NUM_ITERATIONS, EGO_DIM))
    ego[:, 0] = t
    ego[:, 1:3] = xy @ rot.T + shift
    ego[:, 3] = polyline.wrap_angle(heading + angle)
    ego[:, 4] = v[:, 0]
    ego[:, 5] = a[:, 0]
    ego[:, 6] = steering
    ego[:, 7] = yaw_rate

    sizes = np.stack([np.asarray(scene.length[1:]), np.asarray(scene.width[1:])], axis=-1).reshape(-1, 2)
    d = _EGO.rear_axle_to_center
    ego_box = np.stack([ego[:, 1] + d * np.cos(ego[:, 3]), ego[:, 2] + d * np.sin(ego[:, 3]), ego[:, 3]], axis=-1)
    drop = _unsafe_agents(ego_box, ego[:, 4], agent_poses, velocities, sizes)
    keep_ids = np.array([i - 1 for i in scene.keep], dtype=np.int64)
    drop[keep_ids] = False
    keep = ~drop
    keep[keep] &= ~_colliding_agents(agent_poses[:, keep], sizes[keep])
    keep &= ~np.isnan(agent_poses[..., 0]).all(axis=0)
    # Keep the closest ones if there are too many.
    if keep.sum() > MAX_AGENTS:
        dist = np.hypot(agent_poses[0, :, 0] - ego[0, 1], agent_poses[0, :, 1] - ego[0, 2])
        dist[~keep] = np.inf
        keep = np.zeros_like(keep)
        keep[np.argsort(dist)[:MAX_AGENTS]] = True

    lanes = [
        dataclasses.replace(
            lane,
            centerline=lane.centerline @ rot.T + shift,
            left_boundary=lane.left_boundary @ rot.T + shift,
            right_boundary=lane.right_boundary @ rot.T + shift,
            stop_line=None if lane.stop_line is None else lane.stop_line @ rot.T + shift,
        )
        for lane in scene.lanes.values()
    ]
    scene.lanes = {lane.id: lane for lane in lanes}
    map_api = ArrayMap(f"synthetic-{scene.map_kind}-{seed:06d}-{scenario_type}", lanes, scene.drivable(rot, shift))

    # Route: the lanes the expert drives through, plus the next one so a faster planner has road ahead.
    k_first = int(np.searchsorted(ego_path.lane_starts, s[0, 0], side="right") - 1)
    k_last = int(np.searchsorted(ego_path.lane_starts, s[-1, 0], side="right") - 1)
    route = tuple(ego_path.lane_ids[k_first : min(k_last + 2, len(ego_path.lane_ids))])

    n_kept = int(keep.sum())
    return Scenario(
        token=scenario_token(scenario_type, seed),
        scenario_name=scenario_name(scenario_type, seed),
        log_name=_log_name(scene.map_kind, seed),
        scenario_type=scenario_type,
        map_api=map_api,
        expert_ego=ego,
        agent_track_ids=np.arange(1, n, dtype=np.int64)[keep],
        agent_types=np.full(n_kept, AgentType.VEHICLE, dtype=np.int8),
        agent_sizes=sizes[keep],
        agent_poses=np.ascontiguousarray(agent_poses[:, keep]),
        agent_velocities=np.ascontiguousarray(velocities[:, keep]),
        route_lane_ids=route,
        mission_goal=StateSE2(float(ego[-1, 1]), float(ego[-1, 2]), float(ego[-1, 3])),
        traffic_light_ids=scene.light_ids,
        traffic_light_states=scene.lights.astype(np.int8),
        ego_vehicle_parameters=_EGO,
        database_interval=DT,
    )
