"""no_ego_at_fault_collisions: nuPlan's at-fault collision rule, simplified but with the same outcomes.

Each track counts once, at its first overlap with the ego, classified as nuPlan does:
the ego stopped → not at fault; the track stopped (ego moving) → at fault; the ego's front bumper
in the track's box → at fault (the ego ran into it); the ego's rear bumper in it → not at fault
(the ego was rear-ended while slower); any other overlap is lateral → at fault. (nuPlan counts a
lateral collision only when the ego straddles lanes or leaves the road; we count all of them.)
Score: 0 with an at-fault collision with a vehicle, pedestrian or bicycle; with static objects only,
0.5 for one and 0 for more; else 1. Value: the number of at-fault collisions.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import shapely

from dask_runner.metrics.abstract_metric import AbstractMetric
from dask_runner.metrics.geometry import box_polygons
from dask_runner.metrics.metric_context import STOPPED_SPEED_THRESHOLD, MetricContext
from dask_runner.metrics.metric_statistic import MetricStatistic
from dask_runner.scenarios.state import AgentType, IntArray

# nuPlan: at most this many at-fault collisions with static objects keep a non-zero score.
MAX_STATIC_OBJECT_COLLISIONS = 1


def at_fault_collision_rows(ctx: MetricContext) -> IntArray:
    """Agent rows (into ``ctx.agents``) of the ego's at-fault collisions, one per track."""
    collisions = ctx.collisions
    rows = collisions.rows[collisions.first]
    if rows.size == 0:
        return rows
    agents = ctx.agents
    steps = agents.step[rows]
    ego_moving = ctx.ego_speed[steps] >= STOPPED_SPEED_THRESHOLD
    track_stopped = agents.speeds[rows] < STOPPED_SPEED_THRESHOLD
    corners = ctx.ego_corners[steps]  # [K, 4, 2]: front-left, rear-left, rear-right, front-right
    front = shapely.linestrings(corners[:, [0, 3]])
    rear = shapely.linestrings(corners[:, [1, 2]])
    boxes = box_polygons(agents.corners(rows))
    front_hit = shapely.intersects(front, boxes)
    rear_hit = shapely.intersects(rear, boxes) & ~front_hit
    at_fault = ego_moving & (track_stopped | ~rear_hit)
    return rows[at_fault]


class NoEgoAtFaultCollisions(AbstractMetric):
    name: ClassVar[str] = "no_ego_at_fault_collisions"
    category: ClassVar[str] = "Dynamics"
    multiplier: ClassVar[bool] = True

    def compute(self, ctx: MetricContext) -> MetricStatistic:
        rows = at_fault_collision_rows(ctx)
        types = ctx.agents.agent_types[rows]
        static = int(np.count_nonzero(types == AgentType.STATIC_OBJECT))
        moving = int(rows.size) - static
        if moving > 0 or static > MAX_STATIC_OBJECT_COLLISIONS:
            score = 0.0
        elif static > 0:
            score = 0.5
        else:
            score = 1.0
        return MetricStatistic(self.name, self.category, score, float(rows.size), "collisions")
