"""State types shared by scenarios, planners, the simulation and metrics.

Everything is stored as numpy arrays so a whole history or a whole set of agents is processed in
one vectorised call; the small dataclasses are views for code that wants one state at a time.
Poses of the ego are at the rear axle (nuPlan's convention); poses of agents are at their centre.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

# Columns of an ego state row. Trajectories and histories are arrays of such rows.
EGO_FIELDS: tuple[str, ...] = (
    "time_s",
    "x",
    "y",
    "heading",
    "velocity",
    "acceleration",
    "steering_angle",
    "yaw_rate",
)
EGO_DIM = len(EGO_FIELDS)
T, X, Y, HEADING, VELOCITY, ACCELERATION, STEERING, YAW_RATE = range(EGO_DIM)


class AgentType(enum.IntEnum):
    VEHICLE = 0
    PEDESTRIAN = 1
    BICYCLE = 2
    STATIC_OBJECT = 3


class TrafficLightStatus(enum.IntEnum):
    GREEN = 0
    YELLOW = 1
    RED = 2
    UNKNOWN = 3


@dataclass(frozen=True, slots=True)
class StateSE2:
    x: float
    y: float
    heading: float


@dataclass(frozen=True)
class VehicleParameters:
    """Ego geometry and limits (defaults: nuPlan's Pacifica)."""

    width: float = 2.297
    front_length: float = 4.049  # rear axle to front bumper
    rear_length: float = 1.127  # rear axle to rear bumper
    wheel_base: float = 3.089
    max_steering_angle: float = 0.6  # rad
    max_acceleration: float = 3.0  # m/s^2
    max_deceleration: float = 8.0  # m/s^2, positive number

    @property
    def length(self) -> float:
        return self.front_length + self.rear_length

    @property
    def rear_axle_to_center(self) -> float:
        return self.length / 2.0 - self.rear_length


@dataclass(frozen=True, slots=True)
class EgoState:
    """The ego at one instant: rear-axle pose and dynamics."""

    time_s: float
    x: float
    y: float
    heading: float
    velocity: float = 0.0
    acceleration: float = 0.0
    steering_angle: float = 0.0
    yaw_rate: float = 0.0

    def __init__(
        self,
        time_s: float,
        x: float,
        y: float,
        heading: float,
        velocity: float = 0.0,
        acceleration: float = 0.0,
        steering_angle: float = 0.0,
        yaw_rate: float = 0.0,
    ) -> None:
        # One per simulation step: the slots' own setters cost half of the object.__setattr__ per field
        # of dataclass's frozen __init__ (the instance stays frozen all the same).
        set_t, set_x, set_y, set_heading, set_v, set_a, set_steering, set_yaw_rate = _EGO_SLOT_SETTERS
        set_t(self, time_s)
        set_x(self, x)
        set_y(self, y)
        set_heading(self, heading)
        set_v(self, velocity)
        set_a(self, acceleration)
        set_steering(self, steering_angle)
        set_yaw_rate(self, yaw_rate)

    def to_array(self) -> FloatArray:
        return np.array(
            [self.time_s, self.x, self.y, self.heading, self.velocity, self.acceleration,
             self.steering_angle, self.yaw_rate],
            dtype=np.float64,
        )

    @classmethod
    def from_array(cls, row: FloatArray) -> EgoState:
        return cls(*(float(v) for v in row[:EGO_DIM]))

    @property
    def pose(self) -> StateSE2:
        return StateSE2(self.x, self.y, self.heading)


_EGO_SLOT_SETTERS = tuple(getattr(EgoState, name).__set__ for name in EGO_FIELDS)


_EGO_SLOT_SETTERS = tuple(getattr(EgoState, name).__set__ for name in EGO_FIELDS)


def rear_axle_to_center(states: FloatArray, params: VehicleParameters) -> FloatArray:
    """Centre (x, y, heading) of the ego box for ego rows ``states`` [..., EGO_DIM]."""
    d = params.rear_axle_to_center
    heading = states[..., HEADING]
    return np.stack(
        [states[..., X] + d * np.cos(heading), states[..., Y] + d * np.sin(heading), heading], axis=-1
    )


@dataclass(frozen=True)
class TrackedObjects:
    """All other agents at one instant, as columns."""

    track_ids: IntArray  # [N]
    agent_types: npt.NDArray[np.int8]  # [N] AgentType values
    poses: FloatArray  # [N, 3] centre x, y, heading
    velocities: FloatArray  # [N, 2] vx, vy in the world frame
    sizes: FloatArray  # [N, 2] length, width

    def __init__(
        self, track_ids: IntArray, agent_types: npt.NDArray[np.int8], poses: FloatArray, velocities: FloatArray,
        sizes: FloatArray,
    ) -> None:
        # One per scenario iteration: writing the fields straight into the instance dict costs a third of
        # dataclass's frozen __init__ (object.__setattr__ per field); the instance stays frozen.
        fields = self.__dict__
        fields["track_ids"] = track_ids
        fields["agent_types"] = agent_types
        fields["poses"] = poses
        fields["velocities"] = velocities
        fields["sizes"] = sizes

    def __len__(self) -> int:
        return int(self.track_ids.shape[0])

    @classmethod
    def empty(cls) -> TrackedObjects:
        return cls(
            np.zeros(0, np.int64), np.zeros(0, np.int8), np.zeros((0, 3)), np.zeros((0, 2)), np.zeros((0, 2))
        )

    @property
    def speeds(self) -> FloatArray:
        return np.hypot(self.velocities[:, 0], self.velocities[:, 1])


@dataclass(frozen=True)
class Trajectory:
    """A planned ego trajectory: ego rows [T, EGO_DIM] at increasing absolute times (column ``time_s``)."""

    states: FloatArray = field(repr=False)

    def __init__(self, states: FloatArray) -> None:
        if states.ndim != 2 or states.shape[1] != EGO_DIM or states.shape[0] < 2:
            raise ValueError(f"a trajectory needs at least 2 rows of {EGO_DIM} columns, got {states.shape}")
        self.__dict__["states"] = states  # planners make one per step: no object.__setattr__ of a frozen __init__

    @property
    def start_time(self) -> float:
        return float(self.states[0, T])

    @property
    def end_time(self) -> float:
        return float(self.states[-1, T])

    def interpolate(self, time_s: float) -> FloatArray:
        """The ego row at ``time_s`` (linear; heading interpolated on the unwrapped angle; clamped at the ends)."""
        times = self.states[:, T]
        out = np.empty(EGO_DIM)
        for col in range(EGO_DIM):
            values = np.unwrap(self.states[:, col]) if col == HEADING else self.states[:, col]
            out[col] = np.interp(time_s, times, values)
        out[T] = time_s
        return out
