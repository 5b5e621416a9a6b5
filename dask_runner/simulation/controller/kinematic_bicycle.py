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
        vehicle = self.vehicle
        accel = min(max(acceleration, -vehicle.max_deceleration), vehicle.max_acceleration)
        velocity = state.velocity
        if velocity + accel * dt < 0.0:
            accel = -velocity / dt  # stop, do not reverse
        max_delta = self.max_steering_rate * dt
        steer = min(max(steering_angle, state.steering_angle - max_delta), state.steering_angle + max_delta)
        steer = min(max(steer, -vehicle.max_steering_angle), vehicle.max_steering_angle)

        mean_velocity = velocity + 0.5 * accel * dt
        yaw_rate = mean_velocity * math.tan(steer) / vehicle.wheel_base
        mid_heading = state.heading + 0.5 * yaw_rate * dt
        distance = mean_velocity * dt
        return EgoState(
            time_s=state.time_s + dt if time_s is None else time_s,
            x=state.x + distance * math.cos(mid_heading),
            y=state.y + distance * math.sin(mid_heading),
            heading=wrap_angle(state.heading + yaw_rate * dt),
            velocity=max(velocity + accel * dt, 0.0),
            acceleration=accel,
            steering_angle=steer,
            yaw_rate=yaw_rate,
        )
