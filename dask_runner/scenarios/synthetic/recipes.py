"""The seven nuPlan-like scenario types, each a recipe that puts the ego and its traffic on a map.

A recipe fixes the order of a scenario's random draws (its own, and those of the map and the vehicles
it asks for): reordering or adding a draw changes every scenario of that type for a given seed, so the
recipes are kept together, apart from the geometry and the solver they call.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from dask_runner.scenarios import polyline
from dask_runner.scenarios.state import FloatArray, TrafficLightStatus
from dask_runner.scenarios.synthetic.car_following import _IDM_S0
from dask_runner.scenarios.synthetic.constants import _EGO, _TIMES, DT, MAX_AGENTS
from dask_runner.scenarios.synthetic.road_geometry import (
    _N_SECTIONS,
    _SECTION_M,
    _Junction,
    _junction_scene,
    _lane_paths,
    _movement_path,
    _random_move,
    _Road,
    _road_scene,
)
from dask_runner.scenarios.synthetic.scene import _Scene

SCENARIO_TYPES: tuple[str, ...] = (
    "following_lane_with_lead",
    "stopping_with_lead",
    "changing_lane",
    "starting_left_turn",
    "traversing_traffic_light_intersection",
    "near_multiple_vehicles",
    "stationary_in_traffic",
)
_ROAD_LANES: dict[str, tuple[int, int]] = {
    # (min, max) lanes each road type passes to _road_scene first; the other types are intersections.
    "following_lane_with_lead": (2, 4),
    "stopping_with_lead": (2, 4),
    "changing_lane": (2, 4),
    "near_multiple_vehicles": (3, 4),
}


def _fill_lane(
    rng: np.random.Generator, scene: _Scene, path: int, s_lo: float, s_hi: float, speed: float,
    extra_gap: tuple[float, float], max_count: int,
) -> None:
    """Vehicles from ``s_hi`` back to ``s_lo`` at ``speed``, spaced so that IDM needs no hard braking."""
    s = s_hi - float(rng.uniform(0.0, extra_gap[1]))
    count = 0
    while s > s_lo and count < max_count and len(scene.path_of) <= MAX_AGENTS:
        scene.add_vehicle(rng, path, s, speed, speed * float(rng.uniform(0.98, 1.04)))
        count += 1
        s -= 5.5 + _IDM_S0 + 1.8 * speed + float(rng.uniform(*extra_gap))


# ---------------------------------------------------------------------------------------------------
# Roads
# ---------------------------------------------------------------------------------------------------


def _populate_other_lanes(
    rng: np.random.Generator, scene: _Scene, road: _Road, paths: list[int], skip: set[int], s_ego: float,
    gap: tuple[float, float], speed_frac: tuple[float, float], per_lane: int,
) -> None:
    for j in range(road.n_lanes):
        if j in skip:
            continue
        speed = float(rng.uniform(*speed_frac)) * road.limit
        _fill_lane(rng, scene, paths[j], max(10.0, s_ego - 120.0), s_ego + float(rng.uniform(60.0, 200.0)),
                   speed, gap, per_lane)


def _with_lead(rng: np.random.Generator, stopping: bool) -> _Scene:
    scene, road = _road_scene(rng, *_ROAD_LANES["stopping_with_lead" if stopping else "following_lane_with_lead"])
    paths = _lane_paths(scene, road)
    j = int(rng.integers(road.n_lanes))
    gap = float(rng.uniform(15.0, 40.0))
    v_ego = min(0.8 * road.limit, (gap - _IDM_S0) / 1.45)
    s_ego = float(rng.uniform(130.0, 180.0))
    scene.add_vehicle(rng, paths[j], s_ego, v_ego, 0.9 * road.limit, ego=True)
    v_lead = min(v_ego * float(rng.uniform(1.0, 1.08)), 0.88 * road.limit)
    lead_len = float(rng.uniform(4.3, 5.1))
    s_lead = s_ego + _EGO.front_length + gap + lead_len / 2.0
    lead = scene.add_vehicle(rng, paths[j], s_lead, v_lead, v_lead)
    scene.length[lead] = lead_len
    scene.keep.add(lead)
    if stopping:
        t = _TIMES
        t_brake = float(rng.uniform(1.5, 4.0))
        decel = float(rng.uniform(1.2, 2.2))
        scene.scripted[lead] = _braking_profile(t, v_lead, t_brake, decel)
    # Traffic ahead of the lead, behind the ego, and in the other lanes.
    _fill_lane(rng, scene, paths[j], s_lead + 40.0, s_lead + 260.0, v_lead, (25.0, 60.0), 3)
    _fill_lane(rng, scene, paths[j], 10.0, s_ego - 30.0, v_ego, (10.0, 40.0), 3)
    _populate_other_lanes(rng, scene, road, paths, {j}, s_ego, (10.0, 50.0), (0.55, 0.85), 6)
    return scene


def _braking_profile(t: FloatArray, v0: float, t_brake: float, decel: float) -> FloatArray:
    """Speed [T]: cruise at ``v0``, then brake at ``decel`` to a stop with a jerk of at most 2 m/s^3."""
    a = np.zeros_like(t)
    v = np.empty_like(t)
    v[0] = v0
    for i in range(1, t.shape[0]):
        target = -decel if t[i] >= t_brake and v[i - 1] > 0.0 else 0.0
        if v[i - 1] < decel * 0.6 and v[i - 1] > 0.0:
            target = -max(0.4, v[i - 1] / 0.6 * 0.9)
        a[i] = a[i - 1] + min(max(target - a[i - 1], -2.0 * DT), 2.0 * DT)
        v[i] = max(0.0, v[i - 1] + a[i] * DT)
        if v[i] == 0.0:
            a[i] = 0.0
    return v


def _following_lane_with_lead(rng: np.random.Generator) -> _Scene:
    return _with_lead(rng, stopping=False)


def _stopping_with_lead(rng: np.random.Generator) -> _Scene:
    return _with_lead(rng, stopping=True)


def _changing_lane(rng: np.random.Generator) -> _Scene:
    scene, road = _road_scene(rng, *_ROAD_LANES["changing_lane"])
    paths = _lane_paths(scene, road)
    j = int(rng.integers(road.n_lanes))
    target = j + 1 if j == 0 or (j + 1 < road.n_lanes and rng.random() < 0.5) else j - 1
    v_ego = float(rng.uniform(0.7, 0.85)) * road.limit
    t_change = float(rng.uniform(4.5, 7.5))
    boundary = max(2, round((150.0 + v_ego * t_change) / _SECTION_M))
    s_ego = boundary * _SECTION_M - v_ego * t_change
    ego_lanes = [road.lane_id(k, j) for k in range(boundary)] + [road.lane_id(k, target) for k in range(boundary, _N_SECTIONS)]
    line = polyline.concatenate([scene.lanes[road.lane_id(k, j)].centerline for k in range(_N_SECTIONS)])
    ego_path = scene.add_path(ego_lanes, line=line)
    scene.add_vehicle(rng, ego_path, s_ego, v_ego, v_ego * 1.03, ego=True)
    shift = (j - target) * road.width  # left positive; lane 0 is leftmost
    duration = float(rng.uniform(4.0, 6.0))
    boundary_station = boundary * _SECTION_M

    def lateral(t: FloatArray, s: FloatArray) -> FloatArray:
        t_mid = float(np.interp(boundary_station, s, t)) if s[-1] > boundary_station else t[-1]
        u = np.clip((t - t_mid) / duration + 0.5, 0.0, 1.0)
        return np.asarray(shift * u**3 * (10.0 - 15.0 * u + 6.0 * u**2), dtype=np.float64)

    scene.ego_lateral = lateral
    _fill_lane(rng, scene, paths[j], s_ego + 60.0 + 2.0 * v_ego, s_ego + 300.0, v_ego * 1.05, (20.0, 60.0), 3)
    _fill_lane(rng, scene, paths[j], 10.0, s_ego - 35.0, v_ego * 0.95, (10.0, 40.0), 2)
    speed_t = v_ego * float(rng.uniform(0.95, 1.05))
    _fill_lane(rng, scene, paths[target], s_ego + v_ego * 12.0 + 40.0, s_ego + v_ego * 12.0 + 200.0, speed_t, (20.0, 60.0), 3)
    _fill_lane(rng, scene, paths[target], 10.0, s_ego - 70.0, min(speed_t, v_ego * 0.95), (20.0, 60.0), 2)
    _populate_other_lanes(rng, scene, road, paths, {j, target}, s_ego, (10.0, 50.0), (0.55, 0.85), 5)
    return scene


def _near_multiple_vehicles(rng: np.random.Generator) -> _Scene:
    scene, road = _road_scene(rng, *_ROAD_LANES["near_multiple_vehicles"])
    paths = _lane_paths(scene, road)
    j = int(rng.integers(1, road.n_lanes - 1)) if road.n_lanes > 2 else 0
    speed = float(rng.uniform(0.35, 0.6)) * road.limit
    s_ego = float(rng.uniform(140.0, 180.0))
    scene.add_vehicle(rng, paths[j], s_ego, speed, 0.8 * road.limit, ego=True)
    gap_ahead = _IDM_S0 + 1.8 * speed + float(rng.uniform(3.0, 10.0))
    _fill_lane(rng, scene, paths[j], s_ego + 10.0, s_ego + _EGO.front_length + gap_ahead + 2.5 + 120.0, speed,
               (2.0, 10.0), 0)
    # The ego's lane: a platoon ahead (closest at a safe gap) and one behind.
    s_front = s_ego + _EGO.front_length + gap_ahead + 2.5
    _fill_lane(rng, scene, paths[j], s_front - 1.0, s_front, speed, (0.0, 0.1), 1)
    _fill_lane(rng, scene, paths[j], s_front + 5.0, s_front + 120.0, speed, (3.0, 12.0), 5)
    _fill_lane(rng, scene, paths[j], 10.0, s_ego - _EGO.rear_length - 2.5 - 1.8 * speed - 3.0, speed, (3.0, 12.0), 4)
    for k in range(road.n_lanes):
        if k != j:
            lane_speed = float(rng.uniform(0.35, 0.65)) * road.limit
            _fill_lane(rng, scene, paths[k], s_ego - 90.0, s_ego + float(rng.uniform(80.0, 140.0)), lane_speed,
                       (2.0, 12.0), 12)
    return scene


# ---------------------------------------------------------------------------------------------------
# The signalised intersection
# ---------------------------------------------------------------------------------------------------


def _junction_traffic(
    rng: np.random.Generator, scene: _Scene, junction: _Junction, skip_lane: tuple[int, int]
) -> None:
    """Queues on red approaches, moving traffic on green ones, and vehicles leaving on exit lanes."""
    t0 = np.zeros(1)
    arm_len = scene.lanes["in_0_0"].length
    for a in range(4):
        status = int(junction.status(a, t0)[0])
        for k in range(junction.n):
            if (a, k) == skip_lane:
                continue
            count = int(rng.integers(0, 4))
            speed = float(rng.uniform(0.5, 0.7)) * junction.limit
            for q in range(count):
                path = _movement_path(scene, a, k, _random_move(rng, k, junction.n))
                if status == TrafficLightStatus.GREEN:
                    s = arm_len - 25.0 - q * (7.5 + 1.8 * speed + float(rng.uniform(5.0, 20.0)))
                    if s < 10.0:
                        break
                    scene.add_vehicle(rng, path, s, speed, speed)
                else:
                    i = scene.add_vehicle(rng, path, 0.0, 0.0, speed)
                    scene.s0[i] = arm_len - _IDM_S0 - scene.length[i] / 2.0 - q * (5.3 + _IDM_S0)
    for b in range(4):
        for k in range(junction.n):
            for _ in range(int(rng.integers(0, 2))):
                path = scene.add_path([f"out_{b}_{k}"])
                speed = float(rng.uniform(0.6, 0.8)) * junction.limit
                scene.add_vehicle(rng, path, float(rng.uniform(20.0, 60.0)), speed, speed)


def _traversing_intersection(rng: np.random.Generator) -> _Scene:
    limit_guess = 14.0
    d0 = float(rng.uniform(30.0, 70.0))
    v0 = float(rng.uniform(0.6, 0.75)) * limit_guess
    t_arrive = d0 / v0
    green_start = -float(rng.uniform(1.0, 6.0))
    green = t_arrive + float(rng.uniform(4.0, 7.0)) - green_start
    scene, junction = _junction_scene(rng, green_start, green)
    k = int(rng.integers(junction.n))
    path = _movement_path(scene, 0, k, "S")
    s_ego = scene.paths[path].stop_station - d0 - _EGO.front_length
    scene.add_vehicle(rng, path, s_ego, v0, 0.8 * junction.limit, ego=True)
    ahead = scene.paths[path].stop_station - 10.0
    _fill_lane(rng, scene, path, s_ego + _EGO.front_length + 8.0 + 1.8 * v0, ahead, v0, (8.0, 25.0), 2)
    _fill_lane(rng, scene, _movement_path(scene, 0, k, _random_move(rng, k, junction.n)), 10.0,
               s_ego - _EGO.rear_length - 6.0 - 1.8 * v0, v0, (8.0, 25.0), 2)
    _junction_traffic(rng, scene, junction, (0, k))
    return scene


def _queued_ego(rng: np.random.Generator, move: str, lane: int | None, max_queue: int) -> _Scene:
    green_start = float(rng.uniform(1.0, 3.0)) if max_queue == 0 else float(rng.uniform(2.0, 5.0))
    scene, junction = _junction_scene(rng, green_start, float(rng.uniform(10.0, 14.0)))
    k = int(rng.integers(junction.n)) if lane is None else lane
    path = _movement_path(scene, 0, k, move)
    stop = scene.paths[path].stop_station
    scene.add_vehicle(rng, path, 0.0, 0.0, 0.8 * junction.limit, ego=True)
    n_ahead = int(rng.integers(1, max_queue + 1)) if max_queue else 0
    front = stop - _IDM_S0
    for _ in range(n_ahead):
        i = scene.add_vehicle(rng, path, 0.0, 0.0, float(rng.uniform(0.6, 0.75)) * junction.limit)
        scene.s0[i] = front - scene.length[i] / 2.0
        front -= scene.length[i] + _IDM_S0
    scene.s0[0] = front - _EGO.front_length
    rear = scene.s0[0] - _EGO.rear_length - _IDM_S0
    for _ in range(int(rng.integers(0, 3))):
        behind = _movement_path(scene, 0, k, _random_move(rng, k, junction.n))
        i = scene.add_vehicle(rng, behind, 0.0, 0.0, float(rng.uniform(0.6, 0.75)) * junction.limit)
        scene.s0[i] = rear - scene.length[i] / 2.0
        rear -= scene.length[i] + _IDM_S0
    _junction_traffic(rng, scene, junction, (0, k))
    return scene


def _starting_left_turn(rng: np.random.Generator) -> _Scene:
    return _queued_ego(rng, "L", 0, 0)


def _stationary_in_traffic(rng: np.random.Generator) -> _Scene:
    return _queued_ego(rng, "S", None, 3)


_BUILDERS: dict[str, Callable[[np.random.Generator], _Scene]] = {
    "following_lane_with_lead": _following_lane_with_lead,
    "stopping_with_lead": _stopping_with_lead,
    "changing_lane": _changing_lane,
    "starting_left_turn": _starting_left_turn,
    "traversing_traffic_light_intersection": _traversing_intersection,
    "near_multiple_vehicles": _near_multiple_vehicles,
    "stationary_in_traffic": _stationary_in_traffic,
}
