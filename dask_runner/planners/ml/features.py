"""What the learned planner sees and what it is taught: one feature row per step, one target row per expert step.

Shared by training (rows extracted from the expert's drive through a scenario) and by the planner
(rows built from the simulation's history buffer), so both see exactly the same numbers. numpy only:
the feature code runs without torch.

Features, in the ego's frame and along the route path (the lane centrelines of the route, as the IDM
planner drives them), scaled to about unit range:

- ego: speed, acceleration, and speed 0.5 s and 1.0 s ago (the history buffer's past);
- route: lateral offset and heading error to the path, the path's heading 5, 10, 20 and 40 m ahead
  (sine and cosine, relative to the ego's heading), the speed limit here, the distance to a road end;
- lead: bumper gap to the nearest agent in the lane ahead, its speed along the path, the closing speed,
  the time gap and the deceleration that would avoid contact;
- traffic light: the gap to the next stop line on the route and whether its light is red or yellow;
- the ``NEAREST_AGENTS`` nearest agents: position and velocity in the ego frame, and a presence flag.

Target: how far the expert advances along the path in each of the next 16 half-seconds (nuPlan's
16 poses over 8 s), with a mask where the scenario ends before the horizon. Training also sees
perturbed copies of the expert's state (moved along the path, faster or slower), taught to lead back
to the expert's drive: a planner trained only on the expert's own states never learns to recover
from its own small errors, which closed loop then compounds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from dask_runner.planners.route_path import RoutePath
from dask_runner.scenarios.state import EgoState, FloatArray, TrackedObjects, TrafficLightStatus

FEATURE_VERSION = 3  # bump when a feature changes: cached training rows of another version are not reused
NEAREST_AGENTS = 4
HORIZON_STEPS = 16  # poses in the planned trajectory
STEP_S = 0.5  # time between planned poses [s]
LOOKAHEAD_M = (5.0, 10.0, 20.0, 40.0)
GAP_SCALE_M = 60.0  # gaps beyond this read as "free road"
AGENT_RADIUS_M = 40.0  # the lead is searched within this distance ahead
ADVANCE_SCALE_M = 5.0  # targets are divided by this (a half-second at 10 m/s)
PAST_S = (0.5, 1.0)
RECOVER_S = 4.0  # a perturbed training state is led back to the expert's drive within this time

EGO_FEATURES = 2 + len(PAST_S)
ROUTE_FEATURES = 3 + 2 * len(LOOKAHEAD_M) + 2
LEAD_FEATURES = 6
LIGHT_FEATURES = 3
AGENT_FEATURES = 5
FEATURE_COUNT = EGO_FEATURES + ROUTE_FEATURES + LEAD_FEATURES + LIGHT_FEATURES + AGENT_FEATURES * NEAREST_AGENTS

_STOP = (TrafficLightStatus.RED, TrafficLightStatus.YELLOW)


def lead_on_path(path: RoutePath, station: float, front: float, ego: EgoState,
                 observation: TrackedObjects) -> tuple[float, float]:
    """Bumper gap to the nearest agent whose centre is on the path ahead (inf if none) and its speed along the path."""
    if len(observation) == 0:
        return math.inf, 0.0
    cos_h, sin_h = math.cos(ego.heading), math.sin(ego.heading)
    best_gap, best_speed = math.inf, 0.0
    for k, (x, y, _) in enumerate(observation.poses.tolist()):
        dx, dy = x - ego.x, y - ego.y
        along = dx * cos_h + dy * sin_h
        if not 0.0 < along < AGENT_RADIUS_M or abs(dy * cos_h - dx * sin_h) > 0.5 * AGENT_RADIUS_M:
            continue
        agent_station, lateral, heading = path.locate(x, y, station + along)
        if agent_station <= station or abs(lateral) >= path.half_lane_width:
            continue
        gap = agent_station - 0.5 * float(observation.sizes[k, 0]) - front
        if gap < best_gap:
            vx, vy = observation.velocities[k].tolist()
            best_gap, best_speed = gap, max(vx * math.cos(heading) + vy * math.sin(heading), 0.0)
    return best_gap, best_speed


def _gap_feature(gap: float) -> float:
    return min(max(gap, 0.0), GAP_SCALE_M) / GAP_SCALE_M


def scene_features(
    path: RoutePath, station: float, front_length: float, recent: Sequence[EgoState],
    observation: TrackedObjects, traffic_lights: dict[str, TrafficLightStatus],
) -> FloatArray:
    """The feature row of the current step; ``recent`` ends with the current ego state (oldest first)."""
    ego = recent[-1]
    row = np.zeros(FEATURE_COUNT)
    row[0], row[1] = ego.velocity / 10.0, ego.acceleration / 3.0
    for k, past_s in enumerate(PAST_S):
        # the latest state at least past_s old; the oldest one while the history is shorter
        wanted = ego.time_s - past_s + 1e-6
        past = next((state for state in reversed(recent) if state.time_s <= wanted), recent[0])
        row[2 + k] = past.velocity / 10.0
    i = EGO_FEATURES

    _, lateral, path_heading = path.locate(ego.x, ego.y, station)
    error = ego.heading - path_heading
    row[i], row[i + 1], row[i + 2] = lateral / 2.0, math.sin(error), math.cos(error)
    i += 3
    for distance in LOOKAHEAD_M:
        relative = path.heading_at(station + distance) - ego.heading
        row[i], row[i + 1] = math.sin(relative), math.cos(relative)
        i += 2
    row[i] = path.speed_limit_at(station) / 10.0
    front = station + front_length
    row[i + 1] = 1.0 if path.open_end else _gap_feature(path.length - front)
    i += 2

    lead_gap, lead_speed = lead_on_path(path, station, front, ego, observation)
    row[i], row[i + 1], row[i + 2] = _gap_feature(lead_gap), lead_speed / 10.0, float(lead_gap < GAP_SCALE_M)
    if lead_gap < GAP_SCALE_M:
        gap = max(lead_gap, 0.1)
        closing = ego.velocity - lead_speed
        row[i + 3] = closing / 5.0
        row[i + 4] = min(gap / max(ego.velocity, 0.5), 10.0) / 5.0  # time gap [s]
        row[i + 5] = min(max(closing, 0.0) ** 2 / (2.0 * gap), 10.0) / 3.0  # deceleration that avoids contact
    else:
        row[i + 4] = 2.0
    i += LEAD_FEATURES

    for stop in path.stop_points:
        gap = stop.station - front
        if gap > -1.0:
            status = traffic_lights.get(stop.traffic_light_id)
            row[i] = _gap_feature(gap)
            row[i + 1] = float(status == TrafficLightStatus.RED)
            row[i + 2] = float(status == TrafficLightStatus.YELLOW)
            break
    else:
        row[i] = 1.0
    i += LIGHT_FEATURES

    if len(observation):
        offsets = observation.poses[:, :2] - (ego.x, ego.y)
        nearest = np.argsort(np.einsum("ij,ij->i", offsets, offsets), kind="stable")[:NEAREST_AGENTS]
        cos_h, sin_h = math.cos(ego.heading), math.sin(ego.heading)
        rotation = np.array([[cos_h, -sin_h], [sin_h, cos_h]])  # world -> ego frame, applied on the right
        local_xy = offsets[nearest] @ rotation / AGENT_RADIUS_M
        local_v = observation.velocities[nearest] @ rotation / 10.0
        agents = np.hstack([local_xy, local_v, np.ones((len(nearest), 1))])
        row[i:i + agents.size] = agents.ravel()
    return row


def advances_to_stations(advances: FloatArray, station: float) -> FloatArray:
    """The path stations of the current pose and the 16 planned ones, from (scaled) per-step advances."""
    steps = np.maximum(np.asarray(advances, dtype=np.float64), 0.0) * ADVANCE_SCALE_M
    return station + np.concatenate([[0.0], np.cumsum(steps)])


def expert_targets(expert_stations: FloatArray, index: int, stride: int,
                   offset_m: float = 0.0) -> tuple[FloatArray, FloatArray]:
    """(scaled advances, mask) after iteration ``index``: every ``stride`` iterations, 16 of them.

    ``offset_m``: the ego was moved that far along the path (a perturbed copy of the expert's state);
    the target then leads back to the expert's stations, the offset fading out over ``RECOVER_S``."""
    advances = np.zeros(HORIZON_STEPS)
    mask = np.zeros(HORIZON_STEPS)
    last = len(expert_stations) - 1
    previous = expert_stations[index] + offset_m
    for k in range(HORIZON_STEPS):
        later = index + (k + 1) * stride
        if later > last:
            break
        target = expert_stations[later] + offset_m * max(0.0, 1.0 - (k + 1) * STEP_S / RECOVER_S)
        advances[k] = (target - previous) / ADVANCE_SCALE_M
        mask[k] = 1.0
        previous = target
    return advances, mask
