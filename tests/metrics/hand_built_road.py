"""A hand-built straight two-way road, a scenario on it, and histories built from ego/agent arrays.

Kept independent of the generator so each metric is tested on a situation whose answer is known.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import shapely

from dask_runner.scenarios.abstract_map import AbstractMap, Lane
from dask_runner.scenarios.abstract_scenario import AbstractScenario
from dask_runner.scenarios.state import (
    EGO_DIM,
    AgentType,
    EgoState,
    FloatArray,
    StateSE2,
    TrackedObjects,
    TrafficLightStatus,
    Trajectory,
    VehicleParameters,
)
from dask_runner.simulation.history import SimulationHistory, SimulationHistorySample, SimulationIteration

DT = 0.1
LANE_WIDTH = 3.5
ROAD_LENGTH = 400.0
SPEED_LIMIT = 15.0


class StraightRoad(AbstractMap):
    """Lane "east" along +x at y=0 and lane "west" along -x at y=3.5; the drivable area is both lanes."""

    def __init__(self) -> None:
        xs = np.linspace(0.0, ROAD_LENGTH, 81)
        east = np.stack([xs, np.zeros_like(xs)], axis=1)
        west = np.stack([xs[::-1], np.full_like(xs, LANE_WIDTH)], axis=1)
        half = LANE_WIDTH / 2
        self._lanes = {
            "east": Lane("east", east, east + [0, half], east - [0, half], SPEED_LIMIT),
            "west": Lane("west", west, west - [0, half], west + [0, half], SPEED_LIMIT),
        }
        self._area = shapely.box(0.0, -half, ROAD_LENGTH, LANE_WIDTH + half)

    @property
    def map_name(self) -> str:
        return "straight_road"

    @property
    def lanes(self) -> Mapping[str, Lane]:
        return self._lanes

    @property
    def drivable_area(self) -> object:
        return self._area

    def get_lane(self, lane_id: str) -> Lane:
        return self._lanes[lane_id]

    def points_in_drivable_area(self, points: FloatArray) -> np.ndarray:
        return shapely.contains_xy(self._area, points[:, 0], points[:, 1])

    def closest_lane(self, x: float, y: float, heading: float | None = None) -> tuple[str, float, float]:
        if abs(y) <= abs(y - LANE_WIDTH):
            return "east", x, y
        return "west", ROAD_LENGTH - x, LANE_WIDTH - y


def constant_speed_rows(x0: float, speed: float, steps: int = 150, y: float = 0.0, heading: float = 0.0) -> FloatArray:
    """Ego rows driving straight at ``speed`` from (x0, y)."""
    rows = np.zeros((steps, EGO_DIM))
    t = np.arange(steps) * DT
    rows[:, 0] = t
    rows[:, 1] = x0 + speed * t * np.cos(heading)
    rows[:, 2] = y + speed * t * np.sin(heading)
    rows[:, 3] = heading
    rows[:, 4] = speed
    return rows


def agents(track_ids: Sequence[int], poses: FloatArray | list[list[float]], velocities: FloatArray | list[list[float]],
           types: Sequence[int] | None = None, size: tuple[float, float] = (4.5, 2.0)) -> TrackedObjects:
    n = len(track_ids)
    return TrackedObjects(
        np.asarray(track_ids, np.int64),
        np.asarray(types if types is not None else [AgentType.VEHICLE] * n, np.int8),
        np.asarray(poses, np.float64).reshape(n, 3),
        np.asarray(velocities, np.float64).reshape(n, 2),
        np.tile(np.asarray(size, np.float64), (n, 1)),
    )


def moving_agent(track_id: int, x0: float, y: float, vx: float, steps: int = 150) -> list[TrackedObjects]:
    """One vehicle driving along x at ``vx`` from x0, as one observation per step."""
    return [agents([track_id], [[x0 + vx * i * DT, y, 0.0 if vx >= 0 else np.pi]], [[vx, 0.0]]) for i in range(steps)]


class RoadScenario(AbstractScenario):
    """A scenario on :class:`StraightRoad`: the expert drives east at 10 m/s; agents as given."""

    def __init__(self, observations: Sequence[TrackedObjects] | None = None, expert: FloatArray | None = None,
                 name: str = "hand_built") -> None:
        self._map = StraightRoad()
        self._expert = expert if expert is not None else constant_speed_rows(20.0, 10.0)
        n = self._expert.shape[0]
        self._observations = list(observations) if observations is not None else [TrackedObjects.empty()] * n
        self._name = name

    @property
    def token(self) -> str:
        return f"token-{self._name}"

    @property
    def scenario_name(self) -> str:
        return self._name

    @property
    def log_name(self) -> str:
        return "hand_log"

    @property
    def scenario_type(self) -> str:
        return "straight_road"

    @property
    def map_api(self) -> AbstractMap:
        return self._map

    @property
    def ego_vehicle_parameters(self) -> VehicleParameters:
        return VehicleParameters()

    def get_number_of_iterations(self) -> int:
        return int(self._expert.shape[0])

    def get_ego_state_at_iteration(self, iteration: int) -> EgoState:
        return EgoState.from_array(self._expert[iteration])

    def get_expert_ego_trajectory(self) -> Trajectory:
        return Trajectory(self._expert)

    def get_tracked_objects_at_iteration(self, iteration: int) -> TrackedObjects:
        return self._observations[iteration]

    def get_mission_goal(self) -> StateSE2 | None:
        last = self._expert[-1]
        return StateSE2(float(last[1]), float(last[2]), float(last[3]))

    def get_route_lane_ids(self) -> list[str]:
        return ["east"]

    def get_traffic_light_status_at_iteration(self, iteration: int) -> dict[str, TrafficLightStatus]:
        return {}


def make_history(ego_rows: FloatArray, observations: Sequence[TrackedObjects] | None = None) -> SimulationHistory:
    """A history whose ego follows ``ego_rows``; each step's planned trajectory is the rest of the path."""
    history = SimulationHistory()
    n = ego_rows.shape[0]
    for i in range(n):
        plan = ego_rows[i : i + 2] if i + 1 < n else ego_rows[i - 1 : i + 1]
        obs = observations[i] if observations is not None else TrackedObjects.empty()
        history.add_sample(SimulationHistorySample(
            SimulationIteration(i, float(ego_rows[i, 0])), EgoState.from_array(ego_rows[i]), Trajectory(plan.copy()), obs
        ))
    return history
