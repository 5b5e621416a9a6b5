"""The metrics' fast paths (prefilters, cheaper reductions) against the straightforward computations."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from hand_built_road import DT, RoadScenario, agents, constant_speed_rows, make_history

from dask_runner.metrics.ego_is_comfortable import BOUNDS, comfort_violations, history_comfort_signals
from dask_runner.metrics.geometry import box_corners, savgol_filter
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
    """The verdicts from the vectorised reductions equal a plain per-step comparison of each signal."""
    rng = np.random.default_rng(1)
    seen_pass, seen_fail = False, False
    for _ in range(20):
        rows = constant_speed_rows(20.0, 10.0)
        rows[:, 5] = rng.normal(0.0, 1.5, rows.shape[0])
        rows[:, 4] += np.cumsum(rows[:, 5]) * DT
        rows[:, 7] = np.cumsum(rng.normal(0.0, 0.05, rows.shape[0]))
        rows[:, 3] = np.cumsum(rows[:, 7]) * DT
        ctx = MetricContext(RoadScenario(), make_history(rows))
        signals = history_comfort_signals(ctx)
        expected = {}
        for name, (low, high) in BOUNDS.items():
            expected[name] = any(not low < value < high for value in signals[name].tolist())
        assert comfort_violations(ctx) == expected
        seen_pass, seen_fail = seen_pass or not all(expected.values()), seen_fail or any(expected.values())
    assert seen_pass and seen_fail  # the noise makes some checks fail and others pass


def test_savgol_filter_follows_scipys_rules_for_odd_and_even_windows() -> None:
    """scipy's rules, which nuPlan's comfort signals follow: a quadratic is fitted exactly; an odd window gives its
    value at each sample, an even window (nuPlan's 8) half a sample later inside and at the sample on the edges."""
    t = np.arange(20) * 0.1

    def poly(x: np.ndarray) -> np.ndarray:
        return 3.0 + 2.0 * x - 1.5 * x**2

    for window in (5, 8, 15):
        half = window // 2
        at = t.copy()
        if window % 2 == 0:
            at[half : len(t) - half] += 0.05
        assert np.allclose(savgol_filter(poly(t), window, 2), poly(at))
        assert np.allclose(savgol_filter(poly(t), window, 2, 1, 0.1), 2.0 - 3.0 * at)
        assert np.allclose(savgol_filter(poly(t), window, 3, 2, 0.1), -3.0)
    with pytest.raises(ValueError, match="polyorder < window"):
        savgol_filter(t[:3], 3, 3)
