"""The kinematic bicycle model of the ego, referenced at the rear axle, with actuator limits."""

from __future__ import annotations

import math

from dask_runner.scenarios.state import EgoState, VehicleParameters
from dask_runner.simulation.controller.trajectory_sampling import wrap_angle


class KinematicBicycleModel:
    """Moves the ego one step under commanded acceleration and steering angle.

    Limits make tracking honest: acceleration within [-max_deceleration, max_acceleration], steering
    within +-max_steering_angle and changing at most ``max_steering_rate`` rad/s; the ego never
    reverses. Plain ``math`` on floats: this runs once per step and numpy would be slower for scalars.
    """

    def __init__(self, vehicle: VehicleParameters | None = None, max_steering_rate: float = 1.0) -> None:
        self.vehicle = vehicle or VehicleParameters()
        self.max_steering_rate = max_steering_rate

    def propagate(
        self, state: EgoState, acceleration: float, steering_angle: float, dt: float, time_s: float | None = None
    ) -> EgoState:
        """The state ``dt`` seconds after ``state`` under the (clipped) commands, stamped ``time_s`` if given."""
        # Clamps as conditional expressions, which give what min(max(...)) gives at a fraction of the calls.
        vehicle = self.vehicle
        low, high = -vehicle.max_deceleration, vehicle.max_acceleration
        accel = low if low > acceleration else acceleration
        accel = high if high < accel else accel
        velocity = state.velocity
        if velocity + accel * dt < 0.0:
            accel = -velocity / dt  # stop, do not reverse
        max_delta = self.max_steering_rate * dt
        low, high = state.steering_angle - max_delta, state.steering_angle + max_delta
        steer = low if low > steering_angle else steering_angle
        steer = high if high < steer else steer
        low, high = -vehicle.max_steering_angle, vehicle.max_steering_angle
        steer = low if low > steer else steer
        steer = high if high < steer else steer

        mean_velocity = velocity + 0.5 * accel * dt
        yaw_rate = mean_velocity * math.tan(steer) / vehicle.wheel_base
        mid_heading = state.heading + 0.5 * yaw_rate * dt
        distance = mean_velocity * dt
        new_velocity = velocity + accel * dt
        return EgoState(  # positional: time_s, x, y, heading, velocity, acceleration, steering_angle, yaw_rate
            state.time_s + dt if time_s is None else time_s,
            state.x + distance * math.cos(mid_heading),
            state.y + distance * math.sin(mid_heading),
            wrap_angle(state.heading + yaw_rate * dt),
            0.0 if 0.0 > new_velocity else new_velocity,
            accel,
            steer,
            yaw_rate,
        )
