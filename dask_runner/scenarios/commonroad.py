"""Real recorded scenarios: CommonRoad XML files (e.g. the NGSIM recordings) as :class:`Scenario`.

CommonRoad benchmark files give a lanelet map, the recorded traffic and a *planning problem*
(where an ego vehicle starts and a goal region), but no recorded ego: the vehicle that was
there has been taken out. A closed-loop simulation needs an expert drive to replay and to
compare against, so the loader promotes one recorded vehicle to ego:

* Ego choice (``ego_id=None``): among the recorded cars, trucks and buses, the one that best
  satisfies, in this order of importance, (1) its footprint stays inside the mapped lanelets
  (NGSIM maps are partial; a car that leaves them would be an expert driving off-road), (2) it
  is recorded for at least 90 % of the longest track, (3) its acceleration (from the recorded
  speed, smoothed over 0.5 s) stays within 4 m/s^2 (NGSIM tracks hold tracking artefacts of
  10 m/s^2 and more, which no comfortable expert drives), (4) it starts heading within 45
  degrees of the planning problem's initial orientation, (5) it moves at least 1 m; ties are
  broken by the distance of its first position to the planning problem's initial position. Of
  the ten best, the first whose recorded footprint never overlaps another recorded obstacle is
  taken (NGSIM boxes sometimes overlap; a log replay of the expert must not count as a crash).
  Pass ``ego_id`` to choose the vehicle yourself.
* Expert trajectory: that vehicle's recorded states, converted from its centre to the rear axle
  (the ego convention of :mod:`dask_runner.scenarios.state`) with ego dimensions scaled from
  the vehicle's recorded length and width. Velocity is the recorded speed; acceleration, yaw
  rate and steering angle (kinematic bicycle model, clipped to the steering limit) are derived
  from the recorded speed and heading, smoothed over 0.5 s. Positions are kept as recorded.
  The vehicle is removed from the traffic.
* The scenario spans the ego's recorded time steps: a shorter ego track trims the scenario.
* Mission goal: the expert's last pose. The planning problem's goal region belongs to the
  vehicle that was removed, which the promoted ego does not necessarily reach.
* Route: the lanelets whose polygon contains the expert's centre, in driving order (lane
  changes included), each lanelet once.
* Other traffic: dynamic obstacles at their recorded states, present only at the time steps
  where they are recorded (NaN elsewhere); a dynamic obstacle without a trajectory is present
  only at its initial time step, because extrapolating it would invent motion that was never
  observed. Static obstacles are ``AgentType.STATIC_OBJECT`` at their pose for every step.
  Velocities are the recorded speed along the recorded orientation.
* Map: one :class:`Lane` per lanelet (centre, left and right vertices; successors,
  predecessors; the stop line and a traffic light when given), the drivable area as the union of
  the lanelet polygons. Speed limits come from the MAX_SPEED traffic signs of a lanelet or, when
  it has none, of its nearest predecessor with one; else the default of the road kind
  (:data:`DEFAULT_SPEED_LIMITS_MPS`: 29 m/s, about 65 mph, on highways; 15 m/s elsewhere).
  Traffic lights follow their recorded cycles (red-yellow counts as red).
* Token: ``commonroad-<benchmark id>`` for the default ego, ``commonroad-<benchmark id>-ego<id>``
  for a chosen one, so it is known from the file's header without loading (lazy references).
* Names: ``scenario_name`` is the benchmark id (``USA_US101-3_1_T-1``), ``log_name`` the
  recording location (``USA_US101-3``), ``scenario_type`` ``ngsim_highway`` for US-101 and I-80,
  ``ngsim_urban`` for Lankershim Boulevard and Peachtree Street, and ``commonroad_highway`` or
  ``commonroad_urban`` (from the file's tags) for any other file.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, overload

import numpy as np

from dask_runner.errors import ScenarioError
from dask_runner.scenarios.abstract_map import Lane
from dask_runner.scenarios.data_fetch import FETCH_COMMAND, NGSIM_FILES, default_data_dir
from dask_runner.scenarios.state import (
    ACCELERATION,
    EGO_DIM,
    HEADING,
    STEERING,
    VELOCITY,
    YAW_RATE,
    AgentType,
    FloatArray,
    StateSE2,
    TrafficLightStatus,
    VehicleParameters,
    X,
    Y,
)
from dask_runner.scenarios.state import T as TIME

if TYPE_CHECKING:
    from dask_runner.scenarios.map import ArrayMap
    from dask_runner.scenarios.scenario import Scenario
    from dask_runner.scenarios.scenario_ref import LazyScenario

DEFAULT_SPEED_LIMITS_MPS: dict[str, float] = {
    "ngsim_highway": 29.0,
    "commonroad_highway": 29.0,
    "ngsim_urban": 15.0,
    "commonroad_urban": 15.0,
}
"""Speed limit of a lanelet without a MAX_SPEED sign, by scenario type."""

_HIGHWAY_MAPS = ("US101", "I80")
_URBAN_MAPS = ("Lanker", "Peach")
_VEHICLE_KINDS = ("CAR", "TRUCK", "BUS", "TAXI", "PRIORITY_VEHICLE")
_AGENT_TYPES: dict[str, AgentType] = {
    "CAR": AgentType.VEHICLE,
    "TRUCK": AgentType.VEHICLE,
    "BUS": AgentType.VEHICLE,
    "TAXI": AgentType.VEHICLE,
    "PRIORITY_VEHICLE": AgentType.VEHICLE,
    "MOTORCYCLE": AgentType.VEHICLE,
    "TRAIN": AgentType.VEHICLE,
    "UNKNOWN": AgentType.VEHICLE,
    "BICYCLE": AgentType.BICYCLE,
    "PEDESTRIAN": AgentType.PEDESTRIAN,
}
_LIGHT_STATUS: dict[str, TrafficLightStatus] = {
    "GREEN": TrafficLightStatus.GREEN,
    "YELLOW": TrafficLightStatus.YELLOW,
    "RED": TrafficLightStatus.RED,
    "RED_YELLOW": TrafficLightStatus.RED,
    "INACTIVE": TrafficLightStatus.UNKNOWN,
}
_PACIFICA = VehicleParameters()
_MIN_SPEED_FOR_STEERING = 1.0  # m/s; below it heading noise would make steering meaningless
_SMOOTHING_STEPS = 5  # moving-average window for derivatives of the noisy recorded speed and heading
_COLLISION_CHECKED_CANDIDATES = 10  # best-ranked ego candidates checked for overlaps with recorded traffic
_PLAUSIBLE_ACCELERATION = 4.0  # m/s^2; an ego candidate above it (after smoothing) is a tracking artefact


def _smooth(values: FloatArray, window: int = _SMOOTHING_STEPS) -> FloatArray:
    """Centred moving average with edge padding, so the ends are not pulled towards zero."""
    if len(values) < window:
        return values
    half = window // 2
    padded = np.pad(values, (half, window - 1 - half), mode="edge")
    return np.convolve(padded, np.full(window, 1.0 / window), mode="valid")


def _derivative(values: FloatArray, dt: float) -> FloatArray:
    """Time derivative of a recorded signal, smoothed first (NGSIM speeds and headings are noisy at 10 Hz)."""
    if len(values) < 2:
        return np.zeros_like(values)
    return np.asarray(np.gradient(_smooth(values), dt), dtype=np.float64)


def _wrap(angle: FloatArray) -> FloatArray:
    return np.asarray((angle + np.pi) % (2.0 * np.pi) - np.pi, dtype=np.float64)


def _missing_hint(path: Path) -> str:
    known = {Path(member).name for member in NGSIM_FILES}
    try:
        in_default = (
            path.resolve().parent == default_data_dir().resolve()
            or path.resolve() == default_data_dir().resolve()
        )
    except OSError:
        in_default = False
    if in_default or path.name in known:
        return f"; run `{FETCH_COMMAND}` (or `dask-runner fetch-data`) to download the NGSIM scenarios"
    return "; check the path"


def _read(path: Path) -> tuple[Any, Any]:
    """Open a CommonRoad file; every failure becomes a ScenarioError that names the file."""
    if not path.is_file():
        raise ScenarioError(f"CommonRoad scenario file {path} does not exist{_missing_hint(path)}")
    from commonroad.common.file_reader import CommonRoadFileReader

    # The NGSIM files use the 2020a intersection format; commonroad-io maps it correctly but logs a
    # warning per successor (25 lines for one file), which would drown the progress bar.
    reader_log = logging.getLogger("commonroad.common.reader")
    level = reader_log.level
    reader_log.setLevel(logging.ERROR)
    try:
        return CommonRoadFileReader(str(path)).open()
    except Exception as exc:  # the reader raises lxml, KeyError, ValueError, ... on bad input
        raise ScenarioError(
            f"cannot read CommonRoad scenario {path}: {type(exc).__name__}: {exc}; "
            "the file is corrupt or not a CommonRoad XML scenario (re-fetch it or fix the file)"
        ) from exc
    finally:
        reader_log.setLevel(level)


def _states(obstacle: Any) -> list[Any]:
    """All recorded states of an obstacle in time order (initial state first)."""
    states = [obstacle.initial_state]
    prediction = getattr(obstacle, "prediction", None)
    trajectory = getattr(prediction, "trajectory", None)
    if trajectory is not None:
        states.extend(s for s in trajectory.state_list if s.time_step > obstacle.initial_state.time_step)
    return states


def _track_arrays(obstacle: Any) -> tuple[np.ndarray, FloatArray]:
    """(time steps int[N], rows [N, 4] of centre x, y, orientation, speed) of an obstacle."""
    states = _states(obstacle)
    steps = np.fromiter((int(s.time_step) for s in states), dtype=np.int64, count=len(states))
    rows = np.array(
        [
            (
                s.position[0],
                s.position[1],
                float(getattr(s, "orientation", 0.0) or 0.0),
                float(getattr(s, "velocity", 0.0) or 0.0),
            )
            for s in states
        ],
        dtype=np.float64,
    ).reshape(-1, 4)
    return steps, rows


def _size(obstacle: Any) -> tuple[float, float]:
    """(length, width) of an obstacle's shape; circles and polygons by their extent."""
    shape = obstacle.obstacle_shape
    if hasattr(shape, "length") and hasattr(shape, "width"):
        return float(shape.length), float(shape.width)
    if hasattr(shape, "radius"):
        return 2.0 * float(shape.radius), 2.0 * float(shape.radius)
    minx, miny, maxx, maxy = shape.shapely_object.bounds
    return float(maxx - minx), float(maxy - miny)


def _kind(obstacle: Any) -> str:
    return str(obstacle.obstacle_type.name)


def scenario_type_of(map_name: str, tags: Iterable[Any] = ()) -> str:
    """The scenario type of a recording location (``US101`` -> ``ngsim_highway``, ``Lanker`` ->
    ``ngsim_urban``); other maps by their tags. The loader and the lazy references both use it."""
    if any(map_name.startswith(name) for name in _HIGHWAY_MAPS):
        return "ngsim_highway"
    if any(map_name.startswith(name) for name in _URBAN_MAPS):
        return "ngsim_urban"
    tag_names = {str(getattr(tag, "name", tag)).upper() for tag in tags or ()}
    return "commonroad_highway" if tag_names & {"HIGHWAY", "INTERSTATE"} else "commonroad_urban"


def _footprint_corners(rows: FloatArray, length: float, width: float) -> FloatArray:
    """Corners [4, N, 2], in ring order, of boxes centred at rows[:, :2] with heading rows[:, 2]."""
    cos, sin = np.cos(rows[:, 2]), np.sin(rows[:, 2])
    half_l, half_w = length / 2.0, width / 2.0
    return np.stack(
        [
            rows[:, :2]
            + np.stack([a * half_l * cos - b * half_w * sin, a * half_l * sin + b * half_w * cos], 1)
            for a, b in ((1.0, 1.0), (1.0, -1.0), (-1.0, -1.0), (-1.0, 1.0))
        ]
    )


def _footprints(rows: FloatArray, size: tuple[float, float]) -> Any:
    """shapely boxes [N] of an obstacle's recorded states."""
    import shapely

    return shapely.polygons(np.ascontiguousarray(_footprint_corners(rows, *size).transpose(1, 0, 2)))


def _collides(
    candidate: int, tracks: dict[int, tuple[np.ndarray, FloatArray, tuple[float, float]]], static: list[Any]
) -> bool:
    """Whether the candidate's recorded boxes overlap any other recorded obstacle's box at the same step."""
    import shapely

    steps, rows, size = tracks[candidate]
    boxes = _footprints(rows, size)
    for other, (other_steps, other_rows, other_size) in tracks.items():
        if other == candidate:
            continue
        _, mine, theirs = np.intersect1d(steps, other_steps, assume_unique=True, return_indices=True)
        if len(mine) and shapely.intersects(boxes[mine], _footprints(other_rows[theirs], other_size)).any():
            return True
    return any(bool(shapely.intersects(boxes, box).any()) for box in static)


def _choose_ego(scenario: Any, planning_problem: Any | None, drivable_area: Any, dt: float) -> int:
    """Id of the recorded vehicle to promote to ego (see the module docstring for the criteria)."""
    import shapely

    vehicles = [o for o in scenario.dynamic_obstacles if _kind(o) in _VEHICLE_KINDS]
    if not vehicles:
        raise ScenarioError(
            f"scenario {scenario.scenario_id} has no recorded car, truck or bus that could serve as the ego"
        )
    tracks = {int(o.obstacle_id): (*_track_arrays(o), _size(o)) for o in scenario.dynamic_obstacles}
    static = [_footprints(_track_arrays(o)[1], _size(o))[0] for o in scenario.static_obstacles]
    longest = max(
        int(tracks[int(o.obstacle_id)][0][-1] - tracks[int(o.obstacle_id)][0][0] + 1) for o in vehicles
    )
    if planning_problem is not None:
        start_xy = np.asarray(planning_problem.initial_state.position, dtype=np.float64)
        start_heading = float(getattr(planning_problem.initial_state, "orientation", 0.0) or 0.0)
    ranked: list[tuple[tuple[Any, ...], int]] = []
    for obstacle in vehicles:
        obstacle_id = int(obstacle.obstacle_id)
        steps, rows, size = tracks[obstacle_id]
        corners = _footprint_corners(rows, *size).reshape(-1, 2)
        inside = float(np.mean(shapely.contains_xy(drivable_area, corners[:, 0], corners[:, 1])))
        duration = int(steps[-1] - steps[0] + 1)
        max_acceleration = float(np.max(np.abs(_derivative(rows[:, 3], dt))))
        travel = float(np.sum(np.hypot(*np.diff(rows[:, :2], axis=0).T))) if len(rows) > 1 else 0.0
        if planning_problem is not None:
            distance = float(np.hypot(*(rows[0, :2] - start_xy)))
            heading_off = abs(float(_wrap(np.array(rows[0, 2] - start_heading))))
        else:
            distance, heading_off = 0.0, 0.0
        key = (
            inside < 0.99,
            duration < 0.9 * longest,
            max_acceleration > _PLAUSIBLE_ACCELERATION,
            heading_off > math.pi / 4,
            travel < 1.0,
            -inside,
            distance,
            -travel,
        )
        ranked.append((key, obstacle_id))
    ranked.sort()
    # A replay of the expert must not drive through recorded traffic: take the best that touches nobody.
    for _, obstacle_id in ranked[:_COLLISION_CHECKED_CANDIDATES]:
        if not _collides(obstacle_id, tracks, static):
            return obstacle_id
    return ranked[0][1]


def _speed_limits(network: Any, default: float) -> dict[int, float]:
    """Lanelet id -> speed limit from MAX_SPEED signs, inherited along successors, else ``default``."""
    sign_limit: dict[int, float] = {}
    for sign in network.traffic_signs:
        for element in sign.traffic_sign_elements:
            if (
                getattr(element.traffic_sign_element_id, "name", "") == "MAX_SPEED"
                and element.additional_values
            ):
                try:
                    sign_limit[int(sign.traffic_sign_id)] = float(element.additional_values[0])
                except (TypeError, ValueError):
                    continue
    limits: dict[int, float] = {}
    for lanelet in network.lanelets:
        values = [sign_limit[s] for s in lanelet.traffic_signs if s in sign_limit]
        if values:
            limits[lanelet.lanelet_id] = min(values)
    by_id = {lanelet.lanelet_id: lanelet for lanelet in network.lanelets}
    changed = True
    while changed:
        changed = False
        for lanelet_id, lanelet in by_id.items():
            if lanelet_id in limits:
                continue
            inherited = [limits[p] for p in lanelet.predecessor if p in limits]
            if inherited:
                limits[lanelet_id] = min(inherited)
                changed = True
    return {lanelet_id: limits.get(lanelet_id, default) for lanelet_id in by_id}


def _pick_light(lanelet: Any, lights: dict[int, Any]) -> str | None:
    """The light that governs a lanelet; with several, the one for straight-on traffic first."""
    ids = [i for i in lanelet.traffic_lights if i in lights]
    if not ids:
        return None
    straight = {"ALL", "STRAIGHT", "LEFT_STRAIGHT", "STRAIGHT_RIGHT"}
    ids.sort(key=lambda i: (getattr(lights[i].direction, "name", "ALL") not in straight, i))
    return str(ids[0])


def _build_map(network: Any, map_name: str, default_speed: float) -> tuple[ArrayMap, list[Lane], list[Any]]:
    """(ArrayMap of the lanelet network, its lanes, their polygons in the same order for route look-ups)."""
    from dask_runner.scenarios.map import ArrayMap

    limits = _speed_limits(network, default_speed)
    lights = {int(light.traffic_light_id): light for light in network.traffic_lights}
    ids = {lanelet.lanelet_id for lanelet in network.lanelets}
    lanes = []
    for lanelet in network.lanelets:
        stop_line = None
        line = lanelet.stop_line
        if line is not None and line.start is not None and line.end is not None:
            stop_line = np.array([line.start, line.end], dtype=np.float64)
        lanes.append(
            Lane(
                id=str(lanelet.lanelet_id),
                centerline=np.asarray(lanelet.center_vertices, dtype=np.float64),
                left_boundary=np.asarray(lanelet.left_vertices, dtype=np.float64),
                right_boundary=np.asarray(lanelet.right_vertices, dtype=np.float64),
                speed_limit_mps=limits[lanelet.lanelet_id],
                successors=tuple(str(i) for i in lanelet.successor if i in ids),
                predecessors=tuple(str(i) for i in lanelet.predecessor if i in ids),
                traffic_light_id=_pick_light(lanelet, lights),
                stop_line=stop_line,
            )
        )
    # The drivable area is the union of the lanelet polygons, which ArrayMap builds from the lanes.
    map_api = ArrayMap(map_name, lanes)
    return map_api, lanes, [map_api.lane_polygon(lane.id) for lane in lanes]


def _route(lanes: Sequence[Lane], polygons: Sequence[Any], centres: FloatArray) -> tuple[str, ...]:
    """Lanelets that contain the expert's centre, in driving order, each once; the best-aligned one where they overlap."""
    import shapely

    tree = shapely.STRtree(polygons)
    point_idx, lane_idx = tree.query(shapely.points(centres[:, :2]), predicate="within")
    chosen: dict[int, tuple[float, int]] = {}
    for p, li in zip(point_idx.tolist(), lane_idx.tolist()):
        line = lanes[li].centerline
        nearest = int(np.argmin(np.hypot(line[:, 0] - centres[p, 0], line[:, 1] - centres[p, 1])))
        a, b = (nearest, nearest + 1) if nearest + 1 < len(line) else (nearest - 1, nearest)
        direction = math.atan2(line[b, 1] - line[a, 1], line[b, 0] - line[a, 0])
        misalignment = abs(float(_wrap(np.array(direction - centres[p, 2]))))
        if p not in chosen or misalignment < chosen[p][0]:
            chosen[p] = (misalignment, li)
    return tuple(dict.fromkeys(lanes[chosen[p][1]].id for p in sorted(chosen)))


def _ego_parameters(length: float, width: float) -> VehicleParameters:
    """Ego geometry of the recorded vehicle: the default's proportions scaled to its length."""
    scale = length / _PACIFICA.length
    return VehicleParameters(
        width=width,
        front_length=_PACIFICA.front_length * scale,
        rear_length=_PACIFICA.rear_length * scale,
        wheel_base=_PACIFICA.wheel_base * scale,
        max_steering_angle=_PACIFICA.max_steering_angle,
        max_acceleration=_PACIFICA.max_acceleration,
        max_deceleration=_PACIFICA.max_deceleration,
    )


def _resample(steps: np.ndarray, rows: FloatArray, grid: np.ndarray) -> FloatArray:
    """Rows at every step of ``grid`` (linear across gaps in the recording; heading unwrapped)."""
    if len(steps) == len(grid) and np.array_equal(steps, grid):
        return rows
    out = np.empty((len(grid), rows.shape[1]))
    for col in range(rows.shape[1]):
        values = np.unwrap(rows[:, col]) if col == 2 else rows[:, col]
        out[:, col] = np.interp(grid, steps, values)
    out[:, 2] = _wrap(out[:, 2])
    return out


def _expert(rows: FloatArray, grid: np.ndarray, dt: float, params: VehicleParameters) -> FloatArray:
    """Ego rows [T, EGO_DIM] at the rear axle from centre rows [T, 4] (x, y, heading, speed)."""
    heading = np.unwrap(rows[:, 2])
    speed = rows[:, 3]
    expert = np.zeros((len(grid), EGO_DIM))
    d = params.rear_axle_to_center
    expert[:, TIME] = grid * dt
    expert[:, X] = rows[:, 0] - d * np.cos(heading)
    expert[:, Y] = rows[:, 1] - d * np.sin(heading)
    expert[:, HEADING] = _wrap(heading)
    expert[:, VELOCITY] = speed
    expert[:, ACCELERATION] = _derivative(speed, dt)
    expert[:, YAW_RATE] = _derivative(heading, dt)
    steering = np.arctan(
        params.wheel_base * expert[:, YAW_RATE] / np.maximum(np.abs(speed), _MIN_SPEED_FOR_STEERING)
    )
    expert[:, STEERING] = np.clip(steering, -params.max_steering_angle, params.max_steering_angle)
    return expert


def _agents(
    scenario: Any, ego_id: int, grid: np.ndarray
) -> tuple[np.ndarray, np.ndarray, FloatArray, FloatArray, FloatArray]:
    """(track ids, types, sizes, poses [T, A, 3], velocities [T, A, 2]) of every obstacle but the ego."""
    n_steps = len(grid)
    first = int(grid[0])
    ids: list[int] = []
    types: list[int] = []
    sizes: list[tuple[float, float]] = []
    pose_cols: list[FloatArray] = []
    vel_cols: list[FloatArray] = []
    for obstacle in scenario.dynamic_obstacles:
        if int(obstacle.obstacle_id) == ego_id:
            continue
        steps, rows = _track_arrays(obstacle)
        keep = (steps >= first) & (steps <= grid[-1])
        if not keep.any():
            continue
        steps, rows = steps[keep] - first, rows[keep]
        poses = np.full((n_steps, 3), np.nan)
        velocities = np.full((n_steps, 2), np.nan)
        heading = _wrap(rows[:, 2])
        poses[steps] = np.stack([rows[:, 0], rows[:, 1], heading], axis=1)
        velocities[steps] = rows[:, 3:4] * np.stack([np.cos(heading), np.sin(heading)], axis=1)
        ids.append(int(obstacle.obstacle_id))
        types.append(int(_AGENT_TYPES.get(_kind(obstacle), AgentType.STATIC_OBJECT)))
        sizes.append(_size(obstacle))
        pose_cols.append(poses)
        vel_cols.append(velocities)
    for obstacle in scenario.static_obstacles:
        state = obstacle.initial_state
        pose = np.array(
            [state.position[0], state.position[1], float(getattr(state, "orientation", 0.0) or 0.0)]
        )
        ids.append(int(obstacle.obstacle_id))
        types.append(int(AgentType.STATIC_OBJECT))
        sizes.append(_size(obstacle))
        pose_cols.append(np.broadcast_to(pose, (n_steps, 3)).copy())
        vel_cols.append(np.zeros((n_steps, 2)))
    if not ids:
        return (
            np.zeros(0, np.int64),
            np.zeros(0, np.int8),
            np.zeros((0, 2)),
            np.zeros((n_steps, 0, 3)),
            np.zeros((n_steps, 0, 2)),
        )
    return (
        np.array(ids, dtype=np.int64),
        np.array(types, dtype=np.int8),
        np.array(sizes, dtype=np.float64),
        np.stack(pose_cols, axis=1),
        np.stack(vel_cols, axis=1),
    )


def _traffic_lights(network: Any, grid: np.ndarray) -> tuple[tuple[str, ...], np.ndarray]:
    """(light ids, int8 [T, L] TrafficLightStatus) from the recorded light cycles."""
    lights = sorted(network.traffic_lights, key=lambda light: int(light.traffic_light_id))
    states = np.full((len(grid), len(lights)), int(TrafficLightStatus.UNKNOWN), dtype=np.int8)
    for j, light in enumerate(lights):
        if light.traffic_light_cycle is None or not getattr(light, "active", True):
            continue
        for i, step in enumerate(grid.tolist()):
            state = light.get_state_at_time_step(int(step))
            states[i, j] = int(_LIGHT_STATUS.get(getattr(state, "name", ""), TrafficLightStatus.UNKNOWN))
    return tuple(str(light.traffic_light_id) for light in lights), states


def load_commonroad_scenario(path: Path | str, ego_id: int | None = None) -> Scenario:
    """Load one CommonRoad XML file as a :class:`Scenario` whose ego is a recorded vehicle.

    ``ego_id`` picks the recorded vehicle (an obstacle id of the file) to promote to ego;
    ``None`` chooses one as the module docstring describes.
    """
    from dask_runner.scenarios.scenario import Scenario

    path = Path(path)
    requested_ego = ego_id
    cr_scenario, problem_set = _read(path)
    try:
        problems = list(problem_set.planning_problem_dict.values()) if problem_set is not None else []
        planning_problem = problems[0] if problems else None
        scenario_id = cr_scenario.scenario_id
        benchmark_id = str(scenario_id)
        map_name = str(scenario_id.map_name)
        log_name = f"{scenario_id.country_id}_{map_name}-{scenario_id.map_id}"
        scenario_type = scenario_type_of(map_name, getattr(cr_scenario, "tags", None) or ())
        dt = float(cr_scenario.dt)
        network = cr_scenario.lanelet_network
        if not network.lanelets:
            raise ScenarioError(f"CommonRoad scenario {path} has no lanelets; a map is needed to simulate it")
        map_api, lanes, polygons = _build_map(network, log_name, DEFAULT_SPEED_LIMITS_MPS[scenario_type])
        drivable_area = map_api.drivable_area
        if ego_id is None:
            ego_id = _choose_ego(cr_scenario, planning_problem, drivable_area, dt)
        ego = {int(o.obstacle_id): o for o in cr_scenario.dynamic_obstacles}.get(int(ego_id))
        if ego is None:
            available = sorted(int(o.obstacle_id) for o in cr_scenario.dynamic_obstacles)
            raise ScenarioError(
                f"ego_id {ego_id} is not a dynamic obstacle of {path}; choose one of {available} or pass ego_id=None"
            )
        steps, rows = _track_arrays(ego)
        grid = np.arange(int(steps[0]), int(steps[-1]) + 1, dtype=np.int64)
        if len(grid) < 2:
            raise ScenarioError(
                f"the ego vehicle {ego_id} of {path} is recorded at a single time step; pass another ego_id"
            )
        rows = _resample(steps, rows, grid)
        params = _ego_parameters(*_size(ego))
        expert = _expert(rows, grid, dt, params)
        track_ids, agent_types, agent_sizes, agent_poses, agent_velocities = _agents(
            cr_scenario, ego_id, grid
        )
        light_ids, light_states = _traffic_lights(network, grid)
        route = _route(lanes, polygons, rows)
        goal = StateSE2(float(expert[-1, X]), float(expert[-1, Y]), float(expert[-1, HEADING]))
    except ScenarioError:
        raise
    except Exception as exc:  # malformed but parseable content: name the file, keep the cause
        raise ScenarioError(
            f"cannot convert CommonRoad scenario {path}: {type(exc).__name__}: {exc}; "
            "the file is incomplete or uses features the loader does not support"
        ) from exc
    return Scenario(
        token=scenario_token(benchmark_id, requested_ego),
        scenario_name=benchmark_id,
        log_name=log_name,
        scenario_type=scenario_type,
        map_api=map_api,
        expert_ego=expert,
        agent_track_ids=track_ids,
        agent_types=agent_types,
        agent_sizes=agent_sizes,
        agent_poses=agent_poses,
        agent_velocities=agent_velocities,
        route_lane_ids=route,
        mission_goal=goal,
        traffic_light_ids=light_ids,
        traffic_light_states=light_states,
        ego_vehicle_parameters=params,
        database_interval=dt,
    )


def scenario_token(benchmark_id: str, ego_id: int | None = None) -> str:
    """Stable and unique per (file, ego choice); computable without loading the file."""
    return f"commonroad-{benchmark_id}" if ego_id is None else f"commonroad-{benchmark_id}-ego{int(ego_id)}"


def _read_header(path: Path) -> tuple[str, str, float, list[str]]:
    """(benchmark id, CommonRoad version, time step, tags) from the start of the file only.

    Stops at the first lanelet, so it costs microseconds where a full parse costs up to a second."""
    from xml.etree.ElementTree import ParseError, iterparse

    if not path.is_file():
        raise ScenarioError(f"CommonRoad scenario file {path} does not exist{_missing_hint(path)}")
    root: Any = None
    tags: list[str] = []
    in_tags = False
    try:
        with path.open("rb") as stream:
            for event, element in iterparse(stream, events=("start", "end")):
                if root is None:
                    root = element
                    tags = str(element.get("tags") or "").split()
                elif event == "start" and element.tag == "scenarioTags":
                    in_tags = True
                elif event == "end" and element.tag == "scenarioTags":
                    break
                elif event == "start" and in_tags:
                    tags.append(str(element.tag))
                elif event == "start" and element.tag in ("lanelet", "obstacle", "dynamicObstacle"):
                    break
    except (ParseError, OSError) as exc:
        raise ScenarioError(
            f"cannot read CommonRoad scenario {path}: {type(exc).__name__}: {exc}; "
            "the file is corrupt or not a CommonRoad XML scenario (re-fetch it or fix the file)"
        ) from exc
    benchmark_id = None if root is None else root.get("benchmarkID")
    step = None if root is None else root.get("timeStepSize")
    if root is None or root.tag != "commonRoad" or not benchmark_id or step is None:
        raise ScenarioError(
            f"{path} is not a CommonRoad XML scenario (its root must be <commonRoad benchmarkID=... "
            "timeStepSize=...>); re-fetch it or fix the file"
        )
    return str(benchmark_id), str(root.get("commonRoadVersion") or "2020a"), float(step), tags


def commonroad_scenario_ref(path: Path | str, ego_id: int | None = None) -> LazyScenario:
    """A lazy reference to ``load_commonroad_scenario(path, ego_id)``: its identity comes from the
    file's header (a missing or unreadable file fails here, in the driver), the map and traffic
    are parsed where the scenario is first used."""
    from commonroad.scenario.scenario import ScenarioID

    from dask_runner.scenarios.scenario_ref import LazyScenario

    path = Path(path).expanduser().absolute()  # workers may run in another directory
    benchmark_id, version, dt, tags = _read_header(path)
    try:
        scenario_id = ScenarioID.from_benchmark_id(benchmark_id, version)
    except Exception as exc:  # the id parser raises IndexError, ValueError, ... on odd ids
        raise ScenarioError(
            f"CommonRoad scenario {path} has benchmark id {benchmark_id!r}, which is not of the form "
            f"COUNTRY_MAP-ID_..._T-N: {type(exc).__name__}: {exc}; fix the file's benchmarkID"
        ) from exc
    map_name = str(scenario_id.map_name)
    return LazyScenario(
        load_commonroad_scenario,
        (str(path), None if ego_id is None else int(ego_id)),
        token=scenario_token(str(scenario_id), ego_id),
        scenario_name=str(scenario_id),
        log_name=f"{scenario_id.country_id}_{map_name}-{scenario_id.map_id}",
        scenario_type=scenario_type_of(map_name, tags),
        database_interval=dt,
    )


@overload
def load_commonroad_scenarios(
    paths_or_dir: Path | str | Iterable[Path | str] | None = ..., lazy: Literal[False] = ...
) -> list[Scenario]: ...


@overload
def load_commonroad_scenarios(
    paths_or_dir: Path | str | Iterable[Path | str] | None = ..., *, lazy: Literal[True]
) -> list[LazyScenario]: ...


@overload
def load_commonroad_scenarios(
    paths_or_dir: Path | str | Iterable[Path | str] | None = ..., lazy: bool = ...
) -> list[Scenario] | list[LazyScenario]: ...


def load_commonroad_scenarios(
    paths_or_dir: Path | str | Iterable[Path | str] | None = None, lazy: bool = False
) -> list[Scenario] | list[LazyScenario]:
    """Load every ``*.xml`` of a folder (default: the NGSIM data folder), or the given files, sorted by name.

    ``lazy=True`` reads only each file's header here and returns references that load the
    file where the scenario is first used (every file must still exist now)."""
    from dask_runner.optional_dependencies import COMMONROAD

    COMMONROAD.require("Reading CommonRoad scenarios")
    if paths_or_dir is None:
        paths_or_dir = default_data_dir()
    if isinstance(paths_or_dir, (str, Path)):
        root = Path(paths_or_dir)
        if root.is_dir():
            paths = sorted(root.glob("*.xml"))
            if not paths:
                raise ScenarioError(f"no CommonRoad *.xml scenario in {root}{_missing_hint(root / 'x.xml')}")
        elif root.suffix.lower() == ".xml" or root.exists():
            paths = [root]
        else:
            raise ScenarioError(f"CommonRoad scenario folder {root} does not exist{_missing_hint(root)}")
    else:
        paths = [Path(p) for p in paths_or_dir]
    if lazy:
        return [commonroad_scenario_ref(p) for p in paths]
    return [load_commonroad_scenario(p) for p in paths]
