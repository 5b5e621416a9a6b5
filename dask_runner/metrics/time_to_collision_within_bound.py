"""time_to_collision_within_bound: the ego never comes within 0.95 s of hitting a lead agent (nuPlan).

At every step where the ego moves, the ego box and the boxes of the agents ahead of it (the leads in
its path) are projected at constant velocity over 1 s in 0.1 s steps; the first projected overlap
gives the time to collision. Agents already overlapping the ego are left to the collision metric.
All (step, agent, horizon) boxes are built and tested in one vectorised shapely call.
Score: 0 if any time to collision is below 0.95 s, else 1. Value: the least time to collision in s
(the horizon when none was found).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import shapely

from dask_runner.metrics.abstract_metric import AbstractMetric
from dask_runner.metrics.geometry import box_corners
from dask_runner.metrics.metric_context import MetricContext
from dask_runner.metrics.metric_statistic import MetricStatistic
from dask_runner.scenarios.state import FloatArray

LEAST_MIN_TTC_S = 0.95
TIME_STEP_SIZE_S = 0.1
TIME_HORIZON_S = 1.0
STOPPED_SPEED_THRESHOLD = 5e-3


def min_time_to_collision(ctx: MetricContext, horizon: float = TIME_HORIZON_S, step: float = TIME_STEP_SIZE_S) -> float:
    """The least projected time to collision with a lead agent over the history (``inf`` if none)."""
    per_step = time_to_collision_per_step(ctx, horizon, step)
    return float(per_step.min()) if per_step.size else float("inf")


def time_to_collision_per_step(ctx: MetricContext, horizon: float = TIME_HORIZON_S,
                               step: float = TIME_STEP_SIZE_S) -> FloatArray:
    """The least projected time to collision with a lead agent at each step [T] (``inf`` where none)."""
    agents = ctx.agents
    per_step = np.full(ctx.num_steps, np.inf)
    if len(agents) == 0:
        return per_step
    params = ctx.params
    centres = ctx.ego_centers
    steps = agents.step
    speed = ctx.ego_speed[steps]
    step_cos, step_sin = np.cos(centres[:, 2]), np.sin(centres[:, 2])  # per step, not per agent row
    cos, sin = step_cos[steps], step_sin[steps]
    rel = agents.poses[:, :2] - centres[steps, :2]
    lon = rel[:, 0] * cos + rel[:, 1] * sin
    # Leads within reach: the longitudinal test below with the agent's extent and closing speed bounded by
    # its half diagonal and speed (plus 1 m for rounding), so the exact tests run on a few rows only.
    reach = agents.half_diagonals + params.length / 2.0 + (speed + agents.speeds) * horizon + 1.0
    ahead = (lon > 0.0) & (speed > STOPPED_SPEED_THRESHOLD) & (lon <= reach)
    ahead[ctx.collisions.rows] = False  # agents already overlapping the ego are the collision metric's
    rows = np.flatnonzero(ahead)
    if rows.size == 0:
        return per_step
    cos, sin, rel, lon, speed = cos[rows], sin[rows], rel[rows], lon[rows], speed[rows]
    # The agent in the ego's frame: lateral position, velocity and the half extents of its box on both axes.
    lat = -rel[:, 0] * sin + rel[:, 1] * cos
    velocities = agents.velocities[rows]
    v_lon = velocities[:, 0] * cos + velocities[:, 1] * sin
    v_lat = -velocities[:, 0] * sin + velocities[:, 1] * cos
    d_heading = agents.poses[rows, 2] - centres[steps[rows], 2]
    half_l, half_w = agents.sizes[rows, 0] / 2.0, agents.sizes[rows, 1] / 2.0
    ext_lon = np.abs(np.cos(d_heading)) * half_l + np.abs(np.sin(d_heading)) * half_w
    ext_lat = np.abs(np.sin(d_heading)) * half_l + np.abs(np.cos(d_heading)) * half_w
    # A necessary condition for the swept boxes to meet within the horizon (separating axes of the ego).
    lateral_reach = params.width / 2.0 + ext_lat + np.abs(v_lat) * horizon
    closing = np.maximum(speed - v_lon, 0.0) * horizon
    rows = rows[(np.abs(lat) <= lateral_reach) & (lon - ext_lon - params.length / 2.0 <= closing)]
    if rows.size == 0:
        return per_step
    times = np.arange(1, int(round(horizon / step)) + 1) * step  # [H]
    n, h = rows.size, times.size
    # Ego boxes moved along their heading, agents along their velocity: [n, H] poses.
    ego_c, ego_v = centres[steps[rows]], ctx.ego_speed[steps[rows]]
    ego_poses = np.empty((n, h, 3))
    ego_poses[..., 0] = ego_c[:, None, 0] + (ego_v * np.cos(ego_c[:, 2]))[:, None] * times
    ego_poses[..., 1] = ego_c[:, None, 1] + (ego_v * np.sin(ego_c[:, 2]))[:, None] * times
    ego_poses[..., 2] = ego_c[:, None, 2]
    ag_poses = np.repeat(agents.poses[rows][:, None, :], h, axis=1)
    ag_poses[..., :2] += agents.velocities[rows][:, None, :] * times[None, :, None]
    ego_boxes = shapely.polygons(
        box_corners(ego_poses.reshape(-1, 3), np.full(n * h, params.length), np.full(n * h, params.width))
    )
    sizes = np.repeat(agents.sizes[rows], h, axis=0)
    ag_boxes = shapely.polygons(box_corners(ag_poses.reshape(-1, 3), sizes[:, 0], sizes[:, 1]))
    hit = shapely.intersects(ego_boxes, ag_boxes).reshape(n, h)
    colliding = hit.any(axis=1)
    np.minimum.at(per_step, steps[rows[colliding]], times[np.argmax(hit[colliding], axis=1)])
    return per_step


class TimeToCollisionWithinBound(AbstractMetric):
    name: ClassVar[str] = "time_to_collision_within_bound"
    category: ClassVar[str] = "Dynamics"
    weight: ClassVar[float] = 5.0

    def __init__(self, least_min_ttc_s: float = LEAST_MIN_TTC_S) -> None:
        self.least_min_ttc_s = least_min_ttc_s

    def compute(self, ctx: MetricContext) -> MetricStatistic:
        ttc = min_time_to_collision(ctx)
        score = 0.0 if ttc < self.least_min_ttc_s else 1.0
        return MetricStatistic(self.name, self.category, score, min(ttc, TIME_HORIZON_S), "s")
