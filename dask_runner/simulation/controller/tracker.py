"""The tracking controller: acceleration and steering that bring the ego onto the planned trajectory."""

from __future__ import annotations

import math

from dask_runner.scenarios.state import HEADING, STEERING, VELOCITY, EgoState, T, Trajectory, X, Y
from dask_runner.simulation.controller.trajectory_sampling import sample_trajectory, wrap_angle


class TrajectoryTracker:
    """Longitudinal: reach the planned speed of the next step, corrected by the along-track error.
    Lateral: the planned path's curvature plus feedback on lateral and heading error, critically
    damped over a look-ahead distance that grows with speed (a linearised pure pursuit).

    No optimisation (nuPlan uses an LQR): a few dozen float operations a step.
    """

    def __init__(
        self,
        station_gain: float = 0.5,
        min_lookahead: float = 4.0,
        lookahead_time: float = 0.8,
    ) -> None:
        self.station_gain = station_gain
        self.min_lookahead = min_lookahead
        self.lookahead_time = lookahead_time

    def track(self, ego: EgoState, trajectory: Trajectory, dt: float, wheel_base: float) -> tuple[float, float]:
        """(acceleration, steering angle) commands for the step from ``ego.time_s`` to ``+dt``."""
        states = trajectory.states
        times = states[:, T].tolist()
        ref = sample_trajectory(states, ego.time_s, times)
        ref_next = sample_trajectory(states, ego.time_s + dt, times)
        cos_h, sin_h = math.cos(ref[HEADING]), math.sin(ref[HEADING])
        dx, dy = ego.x - ref[X], ego.y - ref[Y]
        along_error = dx * cos_h + dy * sin_h
        lateral_error = -dx * sin_h + dy * cos_h
        heading_error = wrap_angle(ego.heading - ref[HEADING])

        target_velocity = max(ref_next[VELOCITY] - self.station_gain * along_error, 0.0)
        acceleration = (target_velocity - ego.velocity) / dt

        step = math.hypot(ref_next[X] - ref[X], ref_next[Y] - ref[Y])
        if step > 1e-3:
            ref_curvature = wrap_angle(ref_next[HEADING] - ref[HEADING]) / step
        else:
            ref_curvature = math.tan(ref[STEERING]) / wheel_base
        lookahead = max(self.min_lookahead, self.lookahead_time * ego.velocity)
        curvature = (
            ref_curvature - lateral_error / (lookahead * lookahead) - 2.0 * math.sin(heading_error) / lookahead
        )
        return acceleration, math.atan(wheel_base * curvature)
