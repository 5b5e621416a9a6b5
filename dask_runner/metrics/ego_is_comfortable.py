"""ego_is_comfortable: accelerations, jerks and yaw motion within nuPlan's comfort bounds.

Signals are derived from the ego's speed and heading with a Savitzky-Golay filter (as nuPlan does,
so single-step noise of a controller does not count): longitudinal acceleration and jerk, lateral
acceleration (speed times yaw rate), jerk magnitude, yaw rate and yaw acceleration. Score: 1 when
every signal stays within its bound at every step, else 0. Value: how many of the 7 bounds broke.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from dask_runner.metrics.abstract_metric import AbstractMetric
from dask_runner.metrics.geometry import savgol_derivative
from dask_runner.metrics.metric_context import MetricContext
from dask_runner.metrics.metric_statistic import MetricStatistic

MIN_LON_ACCEL = -4.05  # m/s^2
MAX_LON_ACCEL = 2.40  # m/s^2
MAX_ABS_LAT_ACCEL = 4.89  # m/s^2
MAX_ABS_YAW_RATE = 0.95  # rad/s
MAX_ABS_YAW_ACCEL = 1.93  # rad/s^2
MAX_ABS_LON_JERK = 4.13  # m/s^3
MAX_ABS_MAG_JERK = 8.37  # m/s^3
FILTER_WINDOW = 15
FILTER_POLYORDER = 2

# Extremes of a signal, compared with a bound: fmin/fmax skip NaN, as np.any(signal < bound) does.
_least = np.fmin.reduce
_greatest = np.fmax.reduce


def comfort_violations(ctx: MetricContext) -> dict[str, bool]:
    """For each comfort bound, whether the history breaks it."""
    if ctx.num_steps < 3:
        return {}
    dt, speed, heading = ctx.dt, ctx.ego[:, 4], ctx.ego_heading

    signals = np.stack([speed, heading])
    first = savgol_derivative(signals, dt, FILTER_WINDOW, FILTER_POLYORDER, 1)
    second = savgol_derivative(signals, dt, FILTER_WINDOW, FILTER_POLYORDER, 2)
    lon_accel, yaw_rate = first
    lon_jerk, yaw_accel = second
    lat_accel = speed * yaw_rate
    lat_jerk = savgol_derivative(lat_accel, dt, FILTER_WINDOW, FILTER_POLYORDER, 1)
    mag_jerk = np.hypot(lon_jerk, lat_jerk)
    return {
        "min_lon_accel": bool(_least(lon_accel) < MIN_LON_ACCEL),
        "max_lon_accel": bool(_greatest(lon_accel) > MAX_LON_ACCEL),
        "lat_accel": bool(_greatest(np.abs(lat_accel)) > MAX_ABS_LAT_ACCEL),
        "yaw_rate": bool(_greatest(np.abs(yaw_rate)) > MAX_ABS_YAW_RATE),
        "yaw_accel": bool(_greatest(np.abs(yaw_accel)) > MAX_ABS_YAW_ACCEL),
        "lon_jerk": bool(_greatest(np.abs(lon_jerk)) > MAX_ABS_LON_JERK),
        "mag_jerk": bool(_greatest(mag_jerk) > MAX_ABS_MAG_JERK),
    }


class EgoIsComfortable(AbstractMetric):
    name: ClassVar[str] = "ego_is_comfortable"
    category: ClassVar[str] = "Violations"
    weight: ClassVar[float] = 2.0

    def compute(self, ctx: MetricContext) -> MetricStatistic:
        broken = sum(comfort_violations(ctx).values())
        return MetricStatistic(self.name, self.category, 0.0 if broken else 1.0, float(broken), "bounds")
