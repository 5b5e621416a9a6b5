"""One simulation log as a replay: what the viewer draws at every step, as compact JSON-ready lists.

The per-step tracks and violation markers come from the metric modules' own per-step functions on one
:class:`MetricContext` (the same geometry the metrics scored), so a marker sits where the metric saw the
violation. Coordinates are rounded to a centimetre, finer than a view shows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from dask_runner.scenarios.state import HEADING, X, Y

if TYPE_CHECKING:
    from dask_runner.metrics.metric_context import MetricContext
    from dask_runner.simulation.simulation_log import SimulationLog

DECIMALS = 2
# The map is cut to the box around where the ego and the expert drove, grown by this much: a recorded
# map can be kilometres wide, and a replay shows the surroundings of the ego only.
MAP_MARGIN_M = 60.0
# Planned trajectories: every other point (0.2 s at 10 Hz), enough to see the plan, half the bytes.
TRAJECTORY_STRIDE = 2
# Violation markers: the metric whose per-step quantity is drawn, and the step test that makes a marker.
MARKER_METRICS = ("no_ego_at_fault_collisions", "drivable_area_compliance", "driving_direction_compliance",
                  "speed_limit_compliance", "time_to_collision_within_bound", "ego_is_comfortable")


def _round(values: Any) -> list[Any]:
    """Rounded numbers as JSON-ready lists; a non-finite one becomes null (JSON has no NaN or infinity)."""
    array = np.round(np.asarray(values, dtype=float), DECIMALS)
    if np.isfinite(array).all():
        return array.tolist()
    return [float(v) if np.isfinite(v) else None for v in array.ravel()]


def _xy(points: Any) -> list[list[Any]]:
    array = np.asarray(points, dtype=float).reshape(-1, 2)
    return [_round(array[:, 0]), _round(array[:, 1])]


def _box(low: np.ndarray, high: np.ndarray) -> Any:
    import shapely

    return shapely.box(low[0], low[1], high[0], high[1])


def _map_layers(log: SimulationLog, view: Any) -> dict[str, Any]:
    """Lanes (centreline and boundaries), the drivable area, stop lines and traffic-lit lanes inside ``view``."""
    import shapely

    map_api = log.scenario.map_api
    lanes, lights, stops = [], [], []
    for lane in map_api.lanes.values():
        centerline = np.asarray(lane.centerline, dtype=float)
        if not shapely.intersects(view, shapely.linestrings(centerline)):
            continue
        lanes.append({"c": _xy(centerline), "l": _xy(lane.left_boundary), "r": _xy(lane.right_boundary)})
        if lane.stop_line is not None:
            stops.append(_xy(lane.stop_line))
        if lane.traffic_light_id is not None:  # drawn at the lane's end, coloured by the light's state
            lights.append({"id": str(lane.traffic_light_id), "at": _xy(centerline[-2:])})
    area: list[list[list[list[Any]]]] = []
    clipped = shapely.intersection(map_api.drivable_area, view) if map_api.drivable_area is not None else None
    if clipped is not None and not clipped.is_empty:
        for polygon in getattr(clipped, "geoms", [clipped]):
            if polygon.geom_type != "Polygon":
                continue
            rings = [polygon.exterior, *polygon.interiors]
            area.append([_xy(np.asarray(ring.coords)) for ring in rings])
    return {"lanes": lanes, "area": area, "stop_lines": stops, "lights": lights}


def _agents(ctx: MetricContext) -> dict[str, Any]:
    """All agents of all steps as flat columns, split per step by ``count``."""
    agents = ctx.agents
    counts = np.bincount(agents.step, minlength=ctx.num_steps) if len(agents) else np.zeros(ctx.num_steps, int)
    return {"count": counts.tolist(), "id": agents.track_ids.tolist(), "type": agents.agent_types.tolist(),
            "x": _round(agents.poses[:, 0]), "y": _round(agents.poses[:, 1]), "h": _round(agents.poses[:, 2]),
            "length": _round(agents.sizes[:, 0]), "width": _round(agents.sizes[:, 1])}


def _trajectories(log: SimulationLog) -> dict[str, Any]:
    counts, xs, ys = [], [], []
    for sample in log.simulation_history.samples:
        states = sample.trajectory.states[::TRAJECTORY_STRIDE]
        counts.append(int(states.shape[0]))
        xs.append(states[:, X])
        ys.append(states[:, Y])
    return {"count": counts, "x": _round(np.concatenate(xs)) if xs else [],
            "y": _round(np.concatenate(ys)) if ys else []}


def _traffic_lights(log: SimulationLog) -> dict[str, list[int]]:
    """Light id -> its state at every step (TrafficLightStatus values; 3, unknown, where the step has none)."""
    samples = log.simulation_history.samples
    ids = sorted({str(k) for s in samples for k in s.traffic_light_status})
    return {light: [int(s.traffic_light_status.get(light, 3)) for s in samples] for light in ids}


def _tracks_and_markers(ctx: MetricContext) -> tuple[dict[str, list[Any]], dict[str, list[int]]]:
    """Per-step speed, acceleration, jerk, progress and time to collision; the steps of each metric's violations."""
    from dask_runner.metrics.drivable_area_compliance import MAX_VIOLATION_M, drivable_area_excess_per_step
    from dask_runner.metrics.driving_direction_compliance import (
        COMPLIANCE_THRESHOLD_M,
        backwards_progress_per_step,
    )
    from dask_runner.metrics.ego_is_comfortable import BOUNDS, MIN_STEPS, history_comfort_signals
    from dask_runner.metrics.no_ego_at_fault_collisions import at_fault_collision_rows
    from dask_runner.metrics.speed_limit_compliance import overspeed_per_step
    from dask_runner.metrics.time_to_collision_within_bound import LEAST_MIN_TTC_S, time_to_collision_per_step

    n = ctx.num_steps
    ttc = time_to_collision_per_step(ctx)
    stations = ctx.route.stations_of(ctx.ego_xy) if n else np.zeros(0)
    tracks: dict[str, list[Any]] = {
        "speed": _round(ctx.ego_speed),
        "progress": _round(stations - stations[0]) if n else [],
        "ttc": _round(ttc),
    }
    comfort_broken = np.zeros(n, dtype=bool)
    if n >= MIN_STEPS and bool(np.all(np.diff(ctx.ego[:, 0]) > 0)):
        signals = history_comfort_signals(ctx)
        tracks["acceleration"] = _round(signals["ego_lon_acceleration"])
        tracks["jerk"] = _round(signals["ego_lon_jerk"])
        for name, (low, high) in BOUNDS.items():
            comfort_broken |= ~((signals[name] > low) & (signals[name] < high))
    else:
        tracks["acceleration"] = _round(ctx.ego[:, 5])
        tracks["jerk"] = [None] * n
    collision_steps = ctx.agents.step[at_fault_collision_rows(ctx)]
    markers = {
        "no_ego_at_fault_collisions": sorted(set(collision_steps.tolist())),
        "drivable_area_compliance": np.flatnonzero(drivable_area_excess_per_step(ctx) > MAX_VIOLATION_M).tolist(),
        "driving_direction_compliance": np.flatnonzero(
            backwards_progress_per_step(ctx) >= COMPLIANCE_THRESHOLD_M).tolist(),
        "speed_limit_compliance": np.flatnonzero(overspeed_per_step(ctx) > 0.0).tolist(),
        "time_to_collision_within_bound": np.flatnonzero(ttc < LEAST_MIN_TTC_S).tolist(),
        "ego_is_comfortable": np.flatnonzero(comfort_broken).tolist(),
    }
    return tracks, markers


def replay_data(log: SimulationLog) -> dict[str, Any]:
    """What the viewer draws of one simulation (the keys the viewer's page reads)."""
    from dask_runner.metrics.metric_context import MetricContext

    scenario = log.scenario
    history = log.simulation_history
    ctx = MetricContext(scenario, history)
    expert = ctx.expert
    both = np.concatenate([expert[:, [X, Y]], ctx.ego_xy]) if ctx.num_steps else expert[:, [X, Y]]
    low, high = both.min(axis=0), both.max(axis=0)
    params = ctx.params
    tracks, markers = _tracks_and_markers(ctx)
    expert_steps = np.minimum(np.arange(ctx.num_steps), expert.shape[0] - 1)
    return {
        "planner": log.planner_name, "scenario": scenario.scenario_name, "scenario_type": scenario.scenario_type,
        "log": scenario.log_name, "steps": ctx.num_steps,
        "time": _round(ctx.ego[:, 0] - ctx.ego[0, 0]) if ctx.num_steps else [],
        "bounds": _round(np.concatenate([low, high])),
        "ego": {"x": _round(ctx.ego_centers[:, 0]), "y": _round(ctx.ego_centers[:, 1]),
                "h": _round(ctx.ego_centers[:, 2]), "length": params.length, "width": params.width},
        "expert": {"x": _round(expert[:, X]), "y": _round(expert[:, Y]),
                   # the expert's pose at each step, as its rear axle (drawn as a ghost footprint)
                   "step_x": _round(expert[expert_steps, X]), "step_y": _round(expert[expert_steps, Y]),
                   "step_h": _round(expert[expert_steps, HEADING]),
                   "rear_to_center": params.rear_axle_to_center},
        "agents": _agents(ctx),
        "trajectories": _trajectories(log),
        "map": _map_layers(log, _box(low - MAP_MARGIN_M, high + MAP_MARGIN_M)),
        "lights": _traffic_lights(log),
        "tracks": tracks,
        "markers": markers,
    }
