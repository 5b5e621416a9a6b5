"""ego_is_comfortable: nuPlan's six comfort checks, computed as nuPlan computes them, over the whole history at once.

Signals come from the ego states' own fields, as nuPlan's ``state_extractors`` derive them (its
``ego_lon_acceleration``, ``ego_lat_acceleration``, ``ego_jerk``, ``ego_lon_jerk``, ``ego_yaw_rate`` and
``ego_yaw_acceleration`` metrics, whose bounds are those of nuPlan's configs):

- the rear-axle acceleration is (the state's ``acceleration``, ``velocity * yaw_rate``): a state here
  carries the longitudinal acceleration, and the lateral one of a vehicle that does not slide is the
  centripetal ``v * yaw rate`` (the projection nuPlan's ``DynamicCarState.build_from_cog`` uses);
- the angular acceleration is the change of ``yaw_rate`` over each step (0 at the first), as nuPlan's
  kinematic bicycle model sets it;
- the acceleration at the vehicle's centre is nuPlan's rigid-body shift of the rear-axle one by the
  rear-axle-to-centre distance d: longitudinal ``a_x + d * (yaw_rate**2 + yaw_acceleration)``,
  lateral unchanged;
- longitudinal and lateral acceleration: those centre accelerations smoothed by a Savitzky-Golay
  filter (window 8, order 2); longitudinal jerk: the derivative (window 15, order 2) of the smoothed
  longitudinal acceleration; jerk: the same for the smoothed magnitude of the rear-axle acceleration;
  yaw rate and yaw acceleration: first and second derivatives of the unwrapped heading (window 5,
  orders 2 and 3); every window shrinks to the history's length, each signal is rounded to 8 decimals.

A check passes when its signal stays strictly within its bounds at every step. Score: 1 when all six
pass, else 0; value: how many failed. Until 2026-12 the signals were derived from the speed instead;
that differed from nuPlan's verdict on 3% of simulated trajectories (borderline jerk cases).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from dask_runner.metrics.abstract_metric import AbstractMetric
from dask_runner.metrics.geometry import savgol_filter
from dask_runner.metrics.metric_context import MetricContext
from dask_runner.metrics.metric_statistic import MetricStatistic
from dask_runner.scenarios.state import ACCELERATION, HEADING, VELOCITY, YAW_RATE, FloatArray, T

MIN_LON_ACCEL = -4.05  # m/s^2
MAX_LON_ACCEL = 2.40  # m/s^2
MAX_ABS_LAT_ACCEL = 4.89  # m/s^2
MAX_ABS_YAW_RATE = 0.95  # rad/s
MAX_ABS_YAW_ACCEL = 1.93  # rad/s^2
MAX_ABS_LON_JERK = 4.13  # m/s^3
MAX_ABS_MAG_JERK = 8.37  # m/s^3
ACCELERATION_WINDOW = 8  # nuPlan's extract_ego_acceleration
JERK_WINDOW = 15  # nuPlan's extract_ego_jerk
YAW_WINDOW = 5  # nuPlan's approximate_derivatives default, which extract_ego_yaw_rate uses
DECIMALS = 8
MIN_STEPS = 4  # the yaw acceleration's cubic needs four samples

# (signal, lower bound, upper bound) of each of the six checks, by nuPlan's metric names.
BOUNDS: dict[str, tuple[float, float]] = {
    "ego_jerk": (-MAX_ABS_MAG_JERK, MAX_ABS_MAG_JERK),
    "ego_lat_acceleration": (-MAX_ABS_LAT_ACCEL, MAX_ABS_LAT_ACCEL),
    "ego_lon_acceleration": (MIN_LON_ACCEL, MAX_LON_ACCEL),
    "ego_lon_jerk": (-MAX_ABS_LON_JERK, MAX_ABS_LON_JERK),
    "ego_yaw_acceleration": (-MAX_ABS_YAW_ACCEL, MAX_ABS_YAW_ACCEL),
    "ego_yaw_rate": (-MAX_ABS_YAW_RATE, MAX_ABS_YAW_RATE),
}


def comfort_signals(
    time_s: FloatArray,
    heading: FloatArray,
    acceleration_xy: FloatArray,
    angular_velocity: FloatArray,
    angular_acceleration: FloatArray,
    rear_axle_to_center: float,
) -> dict[str, FloatArray]:
    """The six signals [T] from rear-axle states: times, headings, accelerations [T, 2] (longitudinal, lateral),
    angular velocities and accelerations. ``len(time_s) >= MIN_STEPS``, times increasing."""
    n = time_s.shape[0]
    delta = float(np.mean(np.diff(time_s)))
    shift = rear_axle_to_center * (angular_velocity**2 + angular_acceleration)
    raw = np.stack([
        acceleration_xy[:, 0] + shift,  # centre, longitudinal
        acceleration_xy[:, 1],  # centre, lateral
        np.hypot(acceleration_xy[:, 0], acceleration_xy[:, 1]),  # rear axle, magnitude
    ])
    smoothed = savgol_filter(raw, min(ACCELERATION_WINDOW, n), 2).round(DECIMALS)
    lon_jerk, mag_jerk = savgol_filter(smoothed[[0, 2]], min(JERK_WINDOW, n), 2, 1, delta).round(DECIMALS)
    unwrapped = np.unwrap(heading)
    window = min(YAW_WINDOW, n)
    return {
        "ego_jerk": mag_jerk,
        "ego_lat_acceleration": smoothed[1],
        "ego_lon_acceleration": smoothed[0],
        "ego_lon_jerk": lon_jerk,
        "ego_yaw_acceleration": savgol_filter(unwrapped, window, 3, 2, delta).round(DECIMALS),
        "ego_yaw_rate": savgol_filter(unwrapped, window, 2, 1, delta).round(DECIMALS),
    }


def history_comfort_signals(ctx: MetricContext) -> dict[str, FloatArray]:
    """The six signals of the ego's history (see the module docstring for what each state field gives)."""
    ego = ctx.ego
    time_s, yaw_rate = ego[:, T], ego[:, YAW_RATE]
    yaw_acceleration = np.zeros_like(yaw_rate)
    yaw_acceleration[1:] = np.diff(yaw_rate) / np.diff(time_s)
    acceleration = np.stack([ego[:, ACCELERATION], ego[:, VELOCITY] * yaw_rate], axis=1)
    return comfort_signals(time_s, ego[:, HEADING], acceleration, yaw_rate, yaw_acceleration,
                           ctx.params.rear_axle_to_center)


def within_bounds(signals: dict[str, FloatArray]) -> dict[str, bool]:
    """For each check, whether its signal stays strictly within its bounds at every step (nuPlan's rule)."""
    return {
        name: bool(np.all((signals[name] > low) & (signals[name] < high))) for name, (low, high) in BOUNDS.items()
    }


def comfort_violations(ctx: MetricContext) -> dict[str, bool]:
    """For each of the six checks, whether the history breaks it (none with fewer than ``MIN_STEPS`` steps or
    times that do not increase, where nuPlan's filters cannot run)."""
    if ctx.num_steps < MIN_STEPS or not bool(np.all(np.diff(ctx.ego[:, T]) > 0)):
        return {}
    return {name: not ok for name, ok in within_bounds(history_comfort_signals(ctx)).items()}


class EgoIsComfortable(AbstractMetric):
    name: ClassVar[str] = "ego_is_comfortable"
    category: ClassVar[str] = "Violations"
    weight: ClassVar[float] = 2.0

    def compute(self, ctx: MetricContext) -> MetricStatistic:
        broken = sum(comfort_violations(ctx).values())
        return MetricStatistic(self.name, self.category, 0.0 if broken else 1.0, float(broken), "bounds")
