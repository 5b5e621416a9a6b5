"""The metrics' fast paths (prefilters, cheaper reductions) against the straightforward computations."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from hand_built_road import DT, RoadScenario, agents, constant_speed_rows, make_history

from dask_runner.metrics.ego_is_comfortable import (
    MAX_ABS_LAT_ACCEL,
    MAX_ABS_LON_JERK,
    MAX_ABS_MAG_JERK,
    MAX_ABS_YAW_ACCEL,
    MAX_ABS_YAW_RATE,
    MAX_LON_ACCEL,
    MIN_LON_ACCEL,
    comfort_violations,
)
from dask_runner.metrics.geometry import box_corners, savgol_derivative
from dask_runner.metrics.metric_context import MetricContext, _median_step
from dask_runner.metrics.time_to_collision_within_bound import STOPPED_SPEED_THRESHOLD, min_time_to_collision


def reference_time_to_collision(ctx: MetricContext, horizon: float = 1.0, step: float = 0.1) -> float:
    """The lead test on every agent row, then every candidate's boxes moved over the horizon."""
    a = ctx.agents
    if len(a) == 0:
        return float("inf")
    centres, speed = ctx.ego_centers[a.step], ctx.ego_speed[a.step]
    heading = centres[:, 2]
    rel = a.poses[:, :2] - centres[:, :2]
    cos, sin = np.cos(heading), np.sin(heading)
    lon, lat = rel[:, 0] * cos + rel[:, 1] * sin, -rel[:, 0] * sin + rel[:, 1] * cos
    v_lon = a.velocities[:, 0] * cos + a.velocities[:, 1] * sin
    v_lat = -a.velocities[:, 0] * sin + a.velocities[:, 1] * cos
    d_heading = a.poses[:, 2] - heading
    half_l, half_w = a.sizes[:, 0] / 2.0, a.sizes[:, 1] / 2.0
    ext_lon = np.abs(np.cos(d_heading)) * half_l + np.abs(np.sin(d_heading)) * half_w
    ext_lat = np.abs(np.sin(d_heading)) * half_l + np.abs(np.cos(d_heading)) * half_w
    p = ctx.params
    candidate = (
        (lon > 0.0) & (speed > STOPPED_SPEED_THRESHOLD)
        & (np.abs(lat) <= p.width / 2.0 + ext_lat + np.abs(v_lat) * horizon)
        & (lon - ext_lon - p.length / 2.0 <= np.maximum(speed - v_lon, 0.0) * horizon)
    )
    candidate[ctx.collisions.rows] = False
    best = float("inf")
    for row in np.flatnonzero(candidate):
        for t in np.arange(1, int(round(horizon / step)) + 1) * step:
            c = centres[row]
            ego = box_corners(np.array([[c[0] + speed[row] * np.cos(c[2]) * t, c[1] + speed[row] * np.sin(c[2]) * t, c[2]]]),
                              np.array([p.length]), np.array([p.width]))
            pose = a.poses[row].copy()
            pose[:2] += a.velocities[row] * t
            other = box_corners(pose[None, :], a.sizes[row : row + 1, 0], a.sizes[row : row + 1, 1])
            if shapely.intersects(shapely.polygons(ego)[0], shapely.polygons(other)[0]):
                best = min(best, float(t))
                break
    return best


@pytest.mark.parametrize("seed", range(4))
def test_time_to_collision_with_the_lead_prefilter_matches_testing_every_row(seed: int) -> None:
    # One agent per history, so each answer is that agent's: a prefilter that dropped a lead would show.
    rng = np.random.default_rng(seed)
    steps, found = 30, 0
    for case in range(40):
        ego = constant_speed_rows(20.0, rng.uniform(0.0, 15.0), steps=steps, heading=rng.uniform(-0.3, 0.3))
        start = ego[0, 1:3] + rng.uniform([-10.0, -2.0], [60.0, 2.0])
        velocity = rng.uniform([-20.0, -1.0], [15.0, 1.0])
        poses = [[*(start + velocity * i * DT), rng.uniform(-np.pi, np.pi)] for i in range(steps)]
        observations = [agents([case], [pose], [velocity]) for pose in poses]
        ctx = MetricContext(RoadScenario(observations, ego), make_history(ego, observations))
        expected = reference_time_to_collision(ctx)
        assert min_time_to_collision(ctx) == expected, case
        found += expected < float("inf")
    assert found >= 5  # enough of the agents are leads that close in within the horizon


def test_median_step_is_numpys_median_of_the_steps() -> None:
    rng = np.random.default_rng(0)
    for count in (2, 3, 150, 151):
        times = np.cumsum(rng.uniform(0.09, 0.11, count))
        assert _median_step(times, 0.5) == float(np.median(np.diff(times)))
    assert _median_step(np.array([0.0, 0.1, 0.1]), 0.5) == 0.5  # times that do not increase
    assert _median_step(np.array([0.0, np.nan, 0.2]), 0.5) == 0.5
    assert _median_step(np.array([0.0]), 0.5) == 0.5


def test_comfort_bounds_are_checked_on_every_step() -> None:
    rng = np.random.default_rng(1)
    for _ in range(20):
        rows = constant_speed_rows(20.0, 10.0)
        rows[:, 4] += np.cumsum(rng.normal(0.0, 0.3, rows.shape[0]))
        rows[:, 3] = np.cumsum(rng.normal(0.0, 0.01, rows.shape[0]))
        ctx = MetricContext(RoadScenario(), make_history(rows))
        speed, heading = rows[:, 4], np.unwrap(rows[:, 3])
        lon_accel, yaw_rate = savgol_derivative(np.stack([speed, heading]), DT, 15, 2, 1)
        lon_jerk, yaw_accel = savgol_derivative(np.stack([speed, heading]), DT, 15, 2, 2)
        lat_accel = speed * yaw_rate
        mag_jerk = np.hypot(lon_jerk, savgol_derivative(lat_accel, DT, 15, 2, 1))
        assert comfort_violations(ctx) == {
            "min_lon_accel": bool(np.any(lon_accel < MIN_LON_ACCEL)),
            "max_lon_accel": bool(np.any(lon_accel > MAX_LON_ACCEL)),
            "lat_accel": bool(np.any(np.abs(lat_accel) > MAX_ABS_LAT_ACCEL)),
            "yaw_rate": bool(np.any(np.abs(yaw_rate) > MAX_ABS_YAW_RATE)),
            "yaw_accel": bool(np.any(np.abs(yaw_accel) > MAX_ABS_YAW_ACCEL)),
            "lon_jerk": bool(np.any(np.abs(lon_jerk) > MAX_ABS_LON_JERK)),
            "mag_jerk": bool(np.any(mag_jerk > MAX_ABS_MAG_JERK)),
        }
