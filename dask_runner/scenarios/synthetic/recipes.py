"""Deterministic generator of synthetic scenarios, so every part of dask_runner works with no dataset.

A scenario is 15 s at 10 Hz: ``NUM_ITERATIONS`` = 151 iterations, times 0.0 s to 15.0 s inclusive.
Maps are straight or curved one-way roads (2-4 lanes, split into 100 m sections) or a signalised
4-way intersection with split phasing (one approach green at a time, so movements never cross).
All vehicles, the expert ego included, are driven by one vectorised car-following simulation
(IDM with jerk limits, curve-speed anticipation and traffic-light stops) along lane paths; agents
that still come too close to the ego or to each other are dropped, so the expert's log replay is a
good, collision-free drive. Same (type, seed) gives the identical scenario on every machine.
"""

from __future__ import annotations

import dataclasses
import hashlib
import zlib
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from dask_runner.errors import ConfigError
from dask_runner.scenarios import polyline
from dask_runner.scenarios.abstract_map import Lane
from dask_runner.scenarios.map import ArrayMap
from dask_runner.scenarios.scenario import Scenario
from dask_runner.scenarios.scenario_ref import LazyScenario
from dask_runner.scenarios.state import (
    EGO_DIM,
    AgentType,
    FloatArray,
    StateSE2,
    TrafficLightStatus,
    VehicleParameters,
)

SCENARIO_TYPES: tuple[str, ...] = (
    "following_lane_with_lead",
    "stopping_with_lead",
    "changing_lane",
    "starting_left_turn",
    "traversing_traffic_light_intersection",
    "near_multiple_vehicles",
    "stationary_in_traffic",
)
NUM_ITERATIONS = 151  # 15 s at 10 Hz, both ends included
DT = 0.1
MAX_AGENTS = 40

_SECTION_M = 100.0
_N_SECTIONS = 8
_ROAD_SPACING_M = 4.0
_A_LAT = 2.0  # lateral acceleration the curve-speed profile allows, m/s^2
_B_PLAN = 1.0  # deceleration used to anticipate slower stretches ahead, m/s^2
_IDM_B = 2.0
_IDM_S0 = 2.0
_JERK_UP = 2.5
_JERK_DOWN = 3.5
_MAX_DECEL = 6.0
_SUBSTEPS = 2  # database intervals per step of the car-following model
_YELLOW_S = 3.0
_ALL_RED_S = 2.0
_EGO = VehicleParameters()
_TIMES: FloatArray = np.arange(NUM_ITERATIONS, dtype=np.float64) * DT
_ROAD_LANES: dict[str, tuple[int, int]] = {
    # (min, max) lanes each road type passes to _road_scene first; the other types are intersections.
    "following_lane_with_lead": (2, 4),
    "stopping_with_lead": (2, 4),
    "changing_lane": (2, 4),
    "near_multiple_vehicles": (3, 4),
}
_RED = int(TrafficLightStatus.RED)
_YELLOW = int(TrafficLightStatus.YELLOW)


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
# Scene description shared by the builders
# ---------------------------------------------------------------------------------------------------


@dataclass
class _Path:
    """A lane sequence a vehicle drives along; stations are along ``line``."""

    lane_ids: list[str]
    line: FloatArray
    lane_starts: FloatArray
    length: float
    v_allow: FloatArray  # allowed speed every 1 m of station
    stop_station: float = np.inf
    light: int = -1
    stations: FloatArray = field(default_factory=lambda: np.zeros(0))  # of the vertices of ``line``
    headings: FloatArray = field(default_factory=lambda: np.zeros(0))  # unwrapped, at the vertices
    curvature: FloatArray = field(default_factory=lambda: np.zeros(0))  # at the vertices


@dataclass
class _Scene:
    map_kind: str
    lanes: dict[str, Lane]
    drivable: Callable[[FloatArray, FloatArray], object]  # (rotation, shift) -> area, after the transform
    paths: list[_Path] = field(default_factory=list)
    path_of: list[int] = field(default_factory=list)  # per vehicle; vehicle 0 is the ego
    s0: list[float] = field(default_factory=list)
    v0: list[float] = field(default_factory=list)
    v_pref: list[float] = field(default_factory=list)
    length: list[float] = field(default_factory=list)
    width: list[float] = field(default_factory=list)
    a_max: list[float] = field(default_factory=list)
    headway: list[float] = field(default_factory=list)
    scripted: dict[int, FloatArray] = field(default_factory=dict)  # vehicle -> speed profile [T]
    keep: set[int] = field(default_factory=set)  # agents that must not be dropped (the lead)
    lights: np.ndarray = field(default_factory=lambda: np.zeros((NUM_ITERATIONS, 0), np.int8))
    light_ids: tuple[str, ...] = ()
    ego_lateral: Callable[[FloatArray, FloatArray], FloatArray] | None = None  # (t, s) -> offset
    _path_cache: dict[tuple[tuple[str, ...], int, bool], int] = field(default_factory=dict)

    def add_path(self, lane_ids: list[str], light: int = -1, line: FloatArray | None = None) -> int:
        key = (tuple(lane_ids), light, line is None)
        if line is None and key in self._path_cache:
            return self._path_cache[key]
        self.paths.append(_make_path(self.lanes, lane_ids, light, line))
        self._path_cache[key] = len(self.paths) - 1
        return len(self.paths) - 1

    def add_vehicle(
        self, rng: np.random.Generator, path: int, s: float, v: float, v_pref: float, ego: bool = False
    ) -> int:
        self.path_of.append(path)
        self.s0.append(s)
        self.v0.append(v)
        self.v_pref.append(v_pref)
        if ego:
            self.length.append(_EGO.length)
            self.width.append(_EGO.width)
            self.a_max.append(1.5)
            self.headway.append(1.5)
        else:
            self.length.append(float(rng.uniform(4.3, 5.1)))
            self.width.append(float(rng.uniform(1.8, 2.0)))
            self.a_max.append(float(rng.uniform(1.3, 1.8)))
            self.headway.append(float(rng.uniform(1.2, 1.7)))
        return len(self.path_of) - 1


def _make_path(lanes: dict[str, Lane], lane_ids: list[str], light: int, line: FloatArray | None) -> _Path:
    lengths = np.array([lanes[i].length for i in lane_ids])
    starts = np.concatenate([[0.0], np.cumsum(lengths)[:-1]])
    if line is None:
        line = polyline.concatenate([lanes[i].centerline for i in lane_ids])
    total = float(lengths.sum())
    # Allowed speed: lane limit and curve speed, then lowered ahead of slower stretches.
    cum = polyline.cumulative_stations(line)
    curvature = polyline.curvatures(line)
    kappa = np.abs(curvature)
    grid = np.arange(0.0, total + 2.0, 1.0)
    v_curve = np.sqrt(_A_LAT / np.maximum(np.interp(grid, cum, kappa), 1e-6))
    limits = np.array([lanes[i].speed_limit_mps for i in lane_ids])
    lane_at = np.clip(np.searchsorted(starts, grid, side="right") - 1, 0, len(lane_ids) - 1)
    v_cap = np.minimum(v_curve, 0.97 * limits[lane_at])
    g = v_cap**2 + 2.0 * _B_PLAN * grid
    v_allow = np.sqrt(np.maximum(np.minimum.accumulate(g[::-1])[::-1] - 2.0 * _B_PLAN * grid, 0.0))
    stop = np.inf
    if light >= 0:
        first = next(k for k, i in enumerate(lane_ids) if lanes[i].traffic_light_id is not None)
        stop = float(starts[first] + lengths[first])
    return _Path(list(lane_ids), line, starts, total, v_allow, stop, light, cum, polyline.vertex_headings(line),
                 curvature)


def _make_lane(
    lane_id: str, center: FloatArray, width: float, limit: float, heading: float | None = None, **kw: object
) -> Lane:
    """A lane around ``center``; pass ``heading`` for a straight one (skips per-vertex headings)."""
    heading_at: FloatArray | float = polyline.vertex_headings(center) if heading is None else heading
    normal = (width / 2.0) * np.stack([-np.sin(heading_at), np.cos(heading_at)], axis=-1)
    return Lane(
        id=lane_id,
        centerline=center,
        left_boundary=center + normal,
        right_boundary=center - normal,
        speed_limit_mps=limit,
        **kw,  # type: ignore[arg-type]
    )


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


@dataclass
class _Road:
    n_lanes: int
    width: float
    limit: float
    curved: bool

    @staticmethod
    def lane_id(section: int, lane: int) -> str:
        return f"s{section}_l{lane}"

    def lane_path(self, lane: int, first_section: int = 0) -> list[str]:
        return [self.lane_id(k, lane) for k in range(first_section, _N_SECTIONS)]


def _road_params(rng: np.random.Generator, min_lanes: int, max_lanes: int) -> _Road:
    """The road's first random draws (``log_name`` replays them to know the map kind)."""
    return _Road(
        n_lanes=int(rng.integers(min_lanes, max_lanes + 1)),
        width=float(rng.uniform(3.5, 3.7)),
        limit=float(rng.uniform(13.0, 25.0)),
        curved=bool(rng.random() < 0.5),
    )


def _road_scene(rng: np.random.Generator, min_lanes: int, max_lanes: int) -> tuple[_Scene, _Road]:
    road = _road_params(rng, min_lanes, max_lanes)
    total = _SECTION_M * _N_SECTIONS
    s = np.arange(0.0, total + 0.5 * _ROAD_SPACING_M, _ROAD_SPACING_M)
    if road.curved:
        k_max = float(rng.uniform(0.5, 1.0)) * 1.5 / road.limit**2
        period = float(rng.uniform(300.0, 600.0))
        kappa = k_max * np.sin(2.0 * np.pi * s / period + float(rng.uniform(0.0, 2.0 * np.pi)))
    else:
        kappa = np.zeros_like(s)
    heading = np.concatenate([[0.0], np.cumsum(0.5 * (kappa[1:] + kappa[:-1]) * np.diff(s))])
    mid = 0.5 * (heading[1:] + heading[:-1])
    ref = np.zeros((s.shape[0], 2))
    ref[1:, 0] = np.cumsum(np.cos(mid) * _ROAD_SPACING_M)
    ref[1:, 1] = np.cumsum(np.sin(mid) * _ROAD_SPACING_M)
    per_section = round(_SECTION_M / _ROAD_SPACING_M)
    vertex_heading = polyline.vertex_headings(ref)
    normal = np.stack([-np.sin(vertex_heading), np.cos(vertex_heading)], axis=-1)
    lanes: dict[str, Lane] = {}
    for j in range(road.n_lanes):  # lane 0 is the leftmost; the reference line is the right edge
        offset = (road.n_lanes - 1 - j + 0.5) * road.width
        center, left, right = (ref + (offset + d) * normal for d in (0.0, road.width / 2.0, -road.width / 2.0))
        for k in range(_N_SECTIONS):
            cut = slice(k * per_section, (k + 1) * per_section + 1)
            lanes[road.lane_id(k, j)] = Lane(
                id=road.lane_id(k, j),
                centerline=np.ascontiguousarray(center[cut]),
                left_boundary=np.ascontiguousarray(left[cut]),
                right_boundary=np.ascontiguousarray(right[cut]),
                speed_limit_mps=road.limit,
                successors=(road.lane_id(k + 1, j),) if k + 1 < _N_SECTIONS else (),
                predecessors=(road.lane_id(k - 1, j),) if k > 0 else (),
            )
    def drivable(rot: FloatArray, shift: FloatArray) -> object:
        import shapely

        lanes_now = scene.lanes
        left = np.concatenate([lanes_now[road.lane_id(k, 0)].left_boundary[(1 if k else 0):] for k in range(_N_SECTIONS)])
        right = np.concatenate(
            [lanes_now[road.lane_id(k, road.n_lanes - 1)].right_boundary[(1 if k else 0):] for k in range(_N_SECTIONS)]
        )
        return shapely.Polygon(np.concatenate([left, right[::-1]])).buffer(0.05)

    scene = _Scene(map_kind="curved" if road.curved else "straight", lanes=lanes, drivable=drivable)
    return scene, road


def _lane_paths(scene: _Scene, road: _Road) -> list[int]:
    return [scene.add_path(road.lane_path(j)) for j in range(road.n_lanes)]


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


@dataclass
class _Junction:
    width: float
    limit: float
    half: float  # the junction box is [-half, half]^2; stop lines lie on its edges
    arm: float
    green: float
    green_start: float  # when approach 0 turns green (approaches follow in order 0, 1, 2, 3)
    n: int = 2

    @property
    def period(self) -> float:
        return 4.0 * (self.green + _YELLOW_S + _ALL_RED_S)

    def status(self, approach: int, t: FloatArray) -> np.ndarray:
        local = (t - self.green_start - approach * (self.green + _YELLOW_S + _ALL_RED_S)) % self.period
        out = np.full(t.shape, TrafficLightStatus.RED, dtype=np.int8)
        out[local < self.green + _YELLOW_S] = TrafficLightStatus.YELLOW
        out[local < self.green] = TrafficLightStatus.GREEN
        return out


def _rot(a: int) -> FloatArray:
    c, s = np.cos(a * np.pi / 2.0), np.sin(a * np.pi / 2.0)
    return np.array([[c, -s], [s, c]])


def _bezier(p0: FloatArray, h0: float, p3: FloatArray, h3: float, n: int = 16) -> FloatArray:
    d = float(np.hypot(*(p3 - p0)))
    p1 = p0 + 0.39 * d * np.array([np.cos(h0), np.sin(h0)])
    p2 = p3 - 0.39 * d * np.array([np.cos(h3), np.sin(h3)])
    u = np.linspace(0.0, 1.0, n)[:, None]
    return np.asarray((1 - u) ** 3 * p0 + 3 * (1 - u) ** 2 * u * p1 + 3 * (1 - u) * u**2 * p2 + u**3 * p3)


_MOVES = {"S": 2, "L": 3, "R": 1}  # movement -> arm offset of the exit


def _junction_scene(rng: np.random.Generator, green_start: float, green: float) -> tuple[_Scene, _Junction]:
    width = float(rng.uniform(3.5, 3.7))
    junction = _Junction(
        width=width, limit=float(rng.uniform(13.0, 16.0)), half=2.0 * width + float(rng.uniform(5.0, 7.0)),
        arm=float(rng.uniform(135.0, 150.0)), green=green, green_start=green_start,
    )
    h, w, n = junction.half, width, junction.n
    lanes: dict[str, Lane] = {}
    steps = max(2, int(junction.arm / 5.0))
    for a in range(4):
        rot = _rot(a)
        for k in range(n):
            x = (k + 0.5) * w
            incoming = np.stack([np.full(steps + 1, x), np.linspace(-h - junction.arm, -h, steps + 1)], 1) @ rot.T
            outgoing = np.stack([np.full(steps + 1, -x), np.linspace(-h, -h - junction.arm, steps + 1)], 1) @ rot.T
            stop = np.array([[n * w, -h], [0.0, -h]]) @ rot.T
            lanes[f"in_{a}_{k}"] = _make_lane(f"in_{a}_{k}", incoming, w, junction.limit, a * np.pi / 2.0 + np.pi / 2.0,
                                              traffic_light_id=f"tl_{a}", stop_line=stop)
            lanes[f"out_{a}_{k}"] = _make_lane(f"out_{a}_{k}", outgoing, w, junction.limit, a * np.pi / 2.0 - np.pi / 2.0)
    succ: dict[str, list[str]] = defaultdict(list)
    pred: dict[str, list[str]] = defaultdict(list)
    for a in range(4):
        for k in range(n):
            moves = ["S"] + (["L"] if k == 0 else []) + (["R"] if k == n - 1 else [])
            for move in moves:
                b = (a + _MOVES[move]) % 4
                src, dst = lanes[f"in_{a}_{k}"].centerline, lanes[f"out_{b}_{k}"].centerline
                h0 = a * np.pi / 2.0 + np.pi / 2.0
                h3 = b * np.pi / 2.0 - np.pi / 2.0
                if move == "S":
                    center = np.linspace(src[-1], dst[0], 8)
                else:
                    center = _bezier(src[-1], h0, dst[0], h3)
                conn = f"conn_{a}_{k}_{move}"
                lanes[conn] = _make_lane(conn, center, w, junction.limit, predecessors=(f"in_{a}_{k}",),
                                         successors=(f"out_{b}_{k}",))
                succ[f"in_{a}_{k}"].append(conn)
                pred[f"out_{b}_{k}"].append(conn)
    for lane_id in list(lanes):
        if succ[lane_id] or pred[lane_id]:
            lanes[lane_id] = dataclasses.replace(
                lanes[lane_id], successors=lanes[lane_id].successors + tuple(succ[lane_id]),
                predecessors=lanes[lane_id].predecessors + tuple(pred[lane_id]),
            )

    def drivable(rot: FloatArray, shift: FloatArray) -> object:
        import shapely

        # The arms (in and out lanes side by side) and the junction box form a cross: its outline
        # directly, instead of a union of the lane polygons.
        half_arms = n * w
        arm0 = np.array([[-half_arms, -h], [-half_arms, -h - junction.arm], [half_arms, -h - junction.arm],
                         [half_arms, -h], [h, -h]])
        outline = np.concatenate([arm0 @ _rot(a).T for a in range(4)])
        return shapely.Polygon(outline @ rot.T + shift).buffer(0.05)

    scene = _Scene(map_kind="intersection", lanes=lanes, drivable=drivable)
    scene.light_ids = tuple(f"tl_{a}" for a in range(4))
    t = _TIMES
    scene.lights = np.stack([junction.status(a, t) for a in range(4)], axis=1)
    return scene, junction


def _movement_path(scene: _Scene, a: int, k: int, move: str) -> int:
    b = (a + _MOVES[move]) % 4
    return scene.add_path([f"in_{a}_{k}", f"conn_{a}_{k}_{move}", f"out_{b}_{k}"], light=a)


def _random_move(rng: np.random.Generator, k: int, n: int) -> str:
    moves = ["S"] + (["L"] if k == 0 else []) + (["R"] if k == n - 1 else [])
    return moves[int(rng.integers(len(moves)))]


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


# ---------------------------------------------------------------------------------------------------
# The car-following simulation
# ---------------------------------------------------------------------------------------------------


def _simulate(scene: _Scene) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Stations, speeds and accelerations [T, N] of every vehicle along its path (vehicle 0 is the ego)."""
    lane_index = {lane_id: g for g, lane_id in enumerate(scene.lanes)}
    n = len(scene.path_of)
    paths = scene.paths
    path_of = np.asarray(scene.path_of)
    k_max = max(len(p.lane_ids) for p in paths)
    starts = np.full((n, k_max), np.inf)
    lanes_mat = np.zeros((n, k_max), np.int64)
    offsets = np.full((n, len(lane_index)), np.nan)
    for i, p in enumerate(path_of):
        path = paths[p]
        idx = [lane_index[lane_id] for lane_id in path.lane_ids]
        starts[i, : len(idx)] = path.lane_starts
        lanes_mat[i, : len(idx)] = idx
        offsets[i, idx] = path.lane_starts
    s_max = max(p.v_allow.shape[0] for p in paths)
    v_allow = np.stack([np.pad(p.v_allow, (0, s_max - p.v_allow.shape[0]), mode="edge") for p in paths])[path_of]
    path_len = np.array([paths[p].length for p in path_of])
    stop_station = np.array([paths[p].stop_station for p in path_of])
    lights = np.concatenate([scene.lights, np.zeros((NUM_ITERATIONS, 1), np.int8)], axis=1)
    light_col = np.array([paths[p].light for p in path_of])
    length = np.asarray(scene.length)
    front = length / 2.0
    rear = length / 2.0
    front[0] = _EGO.front_length
    rear[0] = _EGO.rear_length
    v_pref = np.asarray(scene.v_pref)
    a_max = np.asarray(scene.a_max)
    headway = np.asarray(scene.headway)
    sqrt_ab = 2.0 * np.sqrt(a_max * _IDM_B)
    rows = np.arange(n)
    # Only vehicles whose paths share a lane can ever follow one another. For a pair (i follows j),
    # j's station on i's path is s_j + delta[pair, k_j] while j is on its lane k_j (NaN: not on i's path).
    on_path = ~np.isnan(offsets)
    share = (on_path.astype(np.float64) @ on_path.T.astype(np.float64)) > 0.0
    np.fill_diagonal(share, False)
    pair_i, pair_j = np.nonzero(share)
    n_pairs = pair_i.size
    delta = (offsets[pair_i[:, None], lanes_mat[pair_j]] - starts[pair_j]).ravel()
    pair_row = np.arange(n_pairs) * k_max
    reach = rear[pair_j] + front[pair_i]  # centre-to-centre distance of bumper contact
    end_j = path_len[pair_j]
    flat = pair_i * n + pair_j
    gap_full = np.full((n, n), np.inf)
    gap_flat = gap_full.reshape(-1)
    scripted = np.zeros(n, dtype=bool)
    scripted_v = np.zeros((NUM_ITERATIONS, n))
    for i, profile in scene.scripted.items():
        scripted[i] = True
        scripted_v[:, i] = profile
    any_scripted = bool(scripted.any())
    has_stop = np.isfinite(stop_station)
    any_stop = bool(has_stop.any())
    light_state = lights[:, light_col]  # [T, N]
    v_allow_flat = v_allow.reshape(-1)
    v_allow_row = rows * s_max
    no_gap = np.full(n, np.inf)
    no_lead = np.zeros(n)

    # The model steps _SUBSTEPS database intervals at a time (half the work); the samples in between
    # follow each step's constant acceleration exactly, with the acceleration interpolated so that
    # the jerk at 10 Hz stays within the limits. Scripted vehicles follow their speed profiles.
    n_steps = (NUM_ITERATIONS - 1) // _SUBSTEPS
    h = DT * _SUBSTEPS
    jerk_down, jerk_up = -_JERK_DOWN * h, _JERK_UP * h
    s = np.asarray(scene.s0, dtype=np.float64).copy()
    v = np.asarray(scene.v0, dtype=np.float64).copy()
    a = np.zeros(n)
    scripted_s = np.zeros((NUM_ITERATIONS, n))
    scripted_a = np.zeros((NUM_ITERATIONS, n))
    if any_scripted:
        sv = scripted_v[:, scripted]
        sv[0] = v[scripted]
        scripted_s[:, scripted] = s[scripted] + np.concatenate(
            [np.zeros((1, sv.shape[1])), np.cumsum(0.5 * (sv[1:] + sv[:-1]) * DT, axis=0)]
        )
        scripted_a[1:, scripted] = np.diff(sv, axis=0) / DT
        scripted_v[0, scripted] = v[scripted]
    start_s = np.empty((n_steps, n))
    start_v = np.empty((n_steps, n))
    start_a = np.empty((n_steps, n))
    step_a = np.empty((n_steps, n))
    with np.errstate(invalid="ignore"):
        for m in range(n_steps):
            step = m * _SUBSTEPS
            g_min, v_lead = no_gap, no_lead
            if n_pairs:
                k = np.maximum((s[:, None] >= starts).sum(axis=1) - 1, 0)
                s_j = s[pair_j]
                rel = s_j + delta[pair_row + k[pair_j]] - s[pair_i]  # station of j ahead of i, on i's path
                gap_full.fill(np.inf)
                gap_flat[flat] = np.where((rel > 0.0) & (s_j < end_j), rel - reach, np.inf)
                lead = gap_full.argmin(axis=1)
                g_min = gap_full[rows, lead]
                v_lead = v[lead]
            if any_stop:
                d_stop = stop_station - s - front
                state = light_state[step]
                must_stop = (d_stop > 0.0) & (
                    (state == _RED) | ((state == _YELLOW) & (v * v <= 6.0 * np.maximum(d_stop, 0.01)))
                )
                use_stop = must_stop & (d_stop < g_min)
                g_min = np.where(use_stop, d_stop, g_min)
                v_lead = np.where(use_stop, 0.0, v_lead)
            cell = np.minimum(np.maximum(s, 0.0).astype(np.int64), s_max - 1)
            v_des = np.minimum(v_pref, v_allow_flat[v_allow_row + cell])
            s_star = _IDM_S0 + np.maximum(0.0, v * headway + v * (v - v_lead) / sqrt_ab)
            ratio = v / np.maximum(v_des, 0.1)
            ratio *= ratio
            interaction = s_star / np.maximum(g_min, 0.05)
            a_cmd = np.maximum(a_max * (1.0 - ratio * ratio - interaction * interaction), -_MAX_DECEL)
            a_new = a + np.minimum(np.maximum(np.minimum(a_cmd, a_max) - a, jerk_down), jerk_up)
            start_s[m], start_v[m], start_a[m], step_a[m] = s, v, a, a_new
            v_new = v + a_new * h
            s = s + (v + 0.5 * a_new * h) * h
            stopped = v_new <= 0.0
            if stopped.any():
                s[stopped] = start_s[m, stopped] + v[stopped] ** 2 / np.maximum(-2.0 * a_new[stopped], 1e-9)
                v_new[stopped] = 0.0
                a_new = np.where(stopped, 0.0, a_new)
            if any_scripted:
                row = step + _SUBSTEPS
                s[scripted] = scripted_s[row, scripted]
                v_new[scripted] = scripted_v[row, scripted]
                a_new[scripted] = scripted_a[row, scripted]
            v, a = v_new, a_new
    # Every database interval from the steps, in one vectorised pass.
    s_out = np.empty((NUM_ITERATIONS, n))
    v_out = np.empty((NUM_ITERATIONS, n))
    a_out = np.empty((NUM_ITERATIONS, n))
    s_out[0], v_out[0], a_out[0] = start_s[0], start_v[0], start_a[0]
    stop_s = start_v**2 / np.maximum(-2.0 * step_a, 1e-9)
    for sub in range(1, _SUBSTEPS + 1):
        tau = sub * DT
        v_sub = start_v + step_a * tau
        s_sub = start_s + (start_v + 0.5 * step_a * tau) * tau
        stopped = v_sub <= 0.0
        s_out[sub::_SUBSTEPS] = np.where(stopped, start_s + stop_s, s_sub)
        v_out[sub::_SUBSTEPS] = np.where(stopped, 0.0, v_sub)
        a_out[sub::_SUBSTEPS] = np.where(stopped, 0.0, start_a + (step_a - start_a) * (sub / _SUBSTEPS))
    if any_scripted:
        s_out[:, scripted] = scripted_s[:, scripted]
        v_out[:, scripted] = scripted_v[:, scripted]
        a_out[:, scripted] = scripted_a[:, scripted]
    return s_out, v_out, a_out


# ---------------------------------------------------------------------------------------------------
# From the simulation to a Scenario
# ---------------------------------------------------------------------------------------------------


def _boxes_overlap(a: FloatArray, size_a: FloatArray, b: FloatArray, size_b: FloatArray) -> np.ndarray:
    """Separating-axis test for oriented boxes (centre x, y, heading; length, width), broadcasting."""
    dx = b[..., 0] - a[..., 0]
    dy = b[..., 1] - a[..., 1]
    ca, sa = np.cos(a[..., 2]), np.sin(a[..., 2])
    cb, sb = np.cos(b[..., 2]), np.sin(b[..., 2])
    c = np.abs(ca * cb + sa * sb)
    s = np.abs(sa * cb - ca * sb)
    la, wa = size_a[..., 0] / 2.0, size_a[..., 1] / 2.0
    lb, wb = size_b[..., 0] / 2.0, size_b[..., 1] / 2.0
    sep = (np.abs(dx * ca + dy * sa) > la + lb * c + wb * s)
    sep |= np.abs(-dx * sa + dy * ca) > wa + lb * s + wb * c
    sep |= np.abs(dx * cb + dy * sb) > lb + la * c + wa * s
    sep |= np.abs(-dx * sb + dy * cb) > wb + la * s + wa * c
    out: np.ndarray = ~sep & np.isfinite(dx)
    return out


def _unsafe_agents(ego_box: FloatArray, ego_v: FloatArray, poses: FloatArray, vel: FloatArray,
                   sizes: FloatArray) -> np.ndarray:
    """Agents [A] that overlap the ego (with a margin) or would within 1.5 s at constant velocity."""
    n_agents = poses.shape[1]
    if n_agents == 0:
        return np.zeros(0, dtype=bool)
    ego_size = np.array([_EGO.length + 1.0, _EGO.width + 0.4])
    bad = np.asarray(_boxes_overlap(ego_box[:, None, :], ego_size, poses, sizes).any(axis=0), dtype=bool)
    moving = ego_v > 0.3
    heading = ego_box[:, 2]
    ego_vel = np.stack([ego_v * np.cos(heading), ego_v * np.sin(heading)], axis=-1)
    for tau in (0.5, 1.0, 1.5):
        e = ego_box.copy()
        e[:, :2] += tau * ego_vel
        p = poses.copy()
        p[..., :2] += tau * vel
        hit = _boxes_overlap(e[:, None, :], np.array([_EGO.length, _EGO.width]), p, sizes) & moving[:, None]
        bad = np.asarray(bad | hit.any(axis=0), dtype=bool)
    return np.asarray(bad, dtype=bool)


def _colliding_agents(poses: FloatArray, sizes: FloatArray) -> np.ndarray:
    """Agents [A] to drop so that no two remaining agents' boxes ever overlap (the later one goes)."""
    n_agents = poses.shape[1]
    drop = np.zeros(n_agents, dtype=bool)
    if n_agents < 2:
        return drop
    reach = np.hypot(sizes[:, 0], sizes[:, 1]) / 2.0
    d = np.hypot(poses[:, :, None, 0] - poses[:, None, :, 0], poses[:, :, None, 1] - poses[:, None, :, 1])
    with np.errstate(invalid="ignore"):
        near = d < reach[:, None] + reach[None, :]
    near &= np.triu(np.ones((n_agents, n_agents), dtype=bool), 1)[None]
    t_idx, i_idx, j_idx = np.nonzero(near)
    if t_idx.size == 0:
        return drop
    hit = _boxes_overlap(poses[t_idx, i_idx], sizes[i_idx], poses[t_idx, j_idx], sizes[j_idx])
    for i, j in sorted(set(zip(i_idx[hit].tolist(), j_idx[hit].tolist()))):
        if not drop[i] and not drop[j]:
            drop[j] = True
    return drop


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
