"""Checks a user (or the metrics) would run on a generated scenario; shared by the tests."""

from __future__ import annotations

import numpy as np
import shapely

from dask_runner.scenarios.scenario import Scenario
from dask_runner.scenarios.state import rear_axle_to_center


def box_polygons(poses: np.ndarray, length: np.ndarray | float, width: np.ndarray | float) -> np.ndarray:
    """Shapely polygons of boxes centred at poses [N, 3]."""
    length = np.broadcast_to(length, poses.shape[:1])
    width = np.broadcast_to(width, poses.shape[:1])
    c, s = np.cos(poses[:, 2]), np.sin(poses[:, 2])
    corners = []
    for fl, fw in ((1, 1), (1, -1), (-1, -1), (-1, 1)):
        dx, dy = fl * length / 2, fw * width / 2
        corners.append(np.stack([poses[:, 0] + dx * c - dy * s, poses[:, 1] + dx * s + dy * c], -1))
    return shapely.polygons(np.stack(corners, 1))


def ego_boxes(scenario: Scenario) -> np.ndarray:
    params = scenario.ego_vehicle_parameters
    centre = rear_axle_to_center(scenario.expert_ego_states, params)
    return box_polygons(centre, params.length, params.width)


def expert_agent_overlaps(scenario: Scenario) -> list[tuple[int, int]]:
    """(iteration, track id) pairs where the expert's box intersects an agent's box."""
    egos = ego_boxes(scenario)
    hits = []
    for i in range(scenario.get_number_of_iterations()):
        objs = scenario.get_tracked_objects_at_iteration(i)
        if len(objs) == 0:
            continue
        boxes = box_polygons(objs.poses, objs.sizes[:, 0], objs.sizes[:, 1])
        for tid in objs.track_ids[shapely.intersects(egos[i], boxes)]:
            hits.append((i, int(tid)))
    return hits


def agent_agent_overlaps(scenario: Scenario) -> list[tuple[int, int, int]]:
    hits = []
    for i in range(scenario.get_number_of_iterations()):
        objs = scenario.get_tracked_objects_at_iteration(i)
        boxes = box_polygons(objs.poses, objs.sizes[:, 0], objs.sizes[:, 1])
        tree = shapely.STRtree(boxes)
        a, b = tree.query(boxes, predicate="intersects")
        for x, y in zip(a, b):
            if x < y:
                hits.append((i, int(objs.track_ids[x]), int(objs.track_ids[y])))
    return hits


def expert_corners_outside(scenario: Scenario, tolerance: float = 0.3) -> int:
    """How many ego box corners lie more than ``tolerance`` outside the drivable area."""
    egos = ego_boxes(scenario)
    corners = shapely.get_coordinates(egos).reshape(-1, 5, 2)[:, :4].reshape(-1, 2)
    area = scenario.map_api.drivable_area.buffer(tolerance)
    return int((~shapely.contains_xy(area, corners[:, 0], corners[:, 1])).sum())


def comfort(scenario: Scenario) -> dict[str, float]:
    e = scenario.expert_ego_states
    dt = scenario.database_interval
    jerk = np.diff(e[:, 5]) / dt
    return {
        "max_abs_acceleration": float(np.abs(e[:, 5]).max()),
        "max_abs_jerk": float(np.abs(jerk).max()),
        "max_abs_yaw_rate": float(np.abs(e[:, 7]).max()),
        "max_abs_lateral_acceleration": float(np.abs(e[:, 4] * e[:, 7]).max()),
    }


def speed_over_limit(scenario: Scenario) -> float:
    """Largest expert speed above the speed limit of the lane it drives in (m/s, <= 0 when compliant)."""
    e = scenario.expert_ego_states
    m = scenario.map_api
    worst = -np.inf
    for row in e:
        lane_id, _, _ = m.closest_lane(row[1], row[2], row[3])
        worst = max(worst, row[4] - m.get_lane(lane_id).speed_limit_mps)
    return float(worst)


def min_time_to_collision(scenario: Scenario, horizon: float = 3.0, step: float = 0.1) -> float:
    """Smallest time at which the moving expert, projected at constant velocity with every agent in front
    of it, would hit one (inf when never within ``horizon``)."""
    params = scenario.ego_vehicle_parameters
    e = scenario.expert_ego_states
    centre = rear_axle_to_center(e, params)
    poses = scenario.agent_poses
    vel = scenario.agent_velocities
    if poses.shape[1] == 0:
        return float("inf")
    sizes = np.broadcast_to(scenario.agent_sizes, poses.shape[:2] + (2,))
    heading = e[:, 3]
    forward = np.stack([np.cos(heading), np.sin(heading)], -1)
    ahead = np.einsum("tad,td->ta", poses[..., :2] - centre[:, None, :2], forward) > 0.0
    relevant = ahead & ~np.isnan(poses[..., 0]) & (e[:, 4:5] >= 0.1)
    t_idx, a_idx = np.nonzero(relevant)
    for tau in np.arange(step, horizon + 1e-9, step):
        ego = centre[t_idx].copy()
        ego[:, :2] += tau * e[t_idx, 4:5] * forward[t_idx]
        agent = poses[t_idx, a_idx].copy()
        agent[:, :2] += tau * vel[t_idx, a_idx]
        hits = shapely.intersects(
            box_polygons(ego, params.length, params.width),
            box_polygons(agent, sizes[t_idx, a_idx, 0], sizes[t_idx, a_idx, 1]),
        )
        if hits.any():
            return float(tau)
    return float("inf")
