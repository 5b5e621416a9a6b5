"""The concrete scenario: every logged quantity held as one numpy array, indexed by iteration.

Scenarios are shipped to workers by the thousand; arrays pickle small and fast, and metrics read
whole histories (``agent_poses`` [T, A, 3]) in one vectorised pass instead of per-step objects.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from dask_runner.errors import ScenarioError
from dask_runner.scenarios.abstract_scenario import AbstractScenario
from dask_runner.scenarios.map import ArrayMap
from dask_runner.scenarios.state import (
    EGO_DIM,
    EgoState,
    FloatArray,
    IntArray,
    StateSE2,
    TrackedObjects,
    TrafficLightStatus,
    Trajectory,
    VehicleParameters,
)

Int8Array = npt.NDArray[np.int8]
_DEFAULT_VEHICLE = VehicleParameters()


class Scenario(AbstractScenario):
    """An array-backed scenario (synthetic or loaded from a recording); cheap to build and to pickle."""

    def __init__(
        self,
        token: str,
        scenario_name: str,
        log_name: str,
        scenario_type: str,
        map_api: ArrayMap,
        expert_ego: FloatArray,
        agent_track_ids: IntArray,
        agent_types: Int8Array,
        agent_sizes: FloatArray,
        agent_poses: FloatArray,
        agent_velocities: FloatArray,
        route_lane_ids: tuple[str, ...],
        mission_goal: StateSE2 | None,
        traffic_light_ids: tuple[str, ...] = (),
        traffic_light_states: Int8Array | None = None,
        ego_vehicle_parameters: VehicleParameters = _DEFAULT_VEHICLE,
        database_interval: float = 0.1,
    ) -> None:
        self._token = token
        self._scenario_name = scenario_name
        self._log_name = log_name
        self._scenario_type = scenario_type
        self._map_api = map_api
        self._expert_ego = np.ascontiguousarray(expert_ego, dtype=np.float64)
        self._track_ids = np.asarray(agent_track_ids, dtype=np.int64).reshape(-1)
        self._agent_types = np.asarray(agent_types, dtype=np.int8).reshape(-1)
        self._agent_sizes = np.asarray(agent_sizes, dtype=np.float64)
        self._agent_poses = np.asarray(agent_poses, dtype=np.float64)
        self._agent_velocities = np.asarray(agent_velocities, dtype=np.float64)
        self._route_lane_ids = tuple(route_lane_ids)
        self._mission_goal = mission_goal
        self._light_ids = tuple(traffic_light_ids)
        n_steps = self._expert_ego.shape[0] if self._expert_ego.ndim == 2 else 0
        if traffic_light_states is None:
            traffic_light_states = np.zeros((n_steps, len(self._light_ids)), dtype=np.int8)
        self._light_states = np.asarray(traffic_light_states, dtype=np.int8)
        self._vehicle = ego_vehicle_parameters
        self._interval = float(database_interval)
        self._validate()
        self._trajectory: Trajectory | None = None
        self._reset_caches()

    def _reset_caches(self) -> None:
        """Per-iteration views built on first use; not pickled, so scenarios ship small."""
        self._present: _PresentAgents | None = None
        self._observations: list[TrackedObjects | None] | None = None
        self._light_rows: list[dict[str, TrafficLightStatus]] | None = None

    def _validate(self) -> None:
        name = self._scenario_name
        ego = self._expert_ego
        if ego.ndim != 2 or ego.shape[1] != EGO_DIM or ego.shape[0] < 2:
            raise ScenarioError(
                f"scenario {name!r}: expert_ego must be [T >= 2, {EGO_DIM}] (columns state.EGO_FIELDS), got {ego.shape}"
            )
        n_steps = ego.shape[0]
        n_agents = self._track_ids.shape[0]
        expected = {
            "agent_types": (self._agent_types.shape, (n_agents,)),
            "agent_sizes": (self._agent_sizes.shape, (n_agents, 2)),
            "agent_poses": (self._agent_poses.shape, (n_steps, n_agents, 3)),
            "agent_velocities": (self._agent_velocities.shape, (n_steps, n_agents, 2)),
            "traffic_light_states": (self._light_states.shape, (n_steps, len(self._light_ids))),
        }
        for field_name, (got, want) in expected.items():
            if got != want:
                raise ScenarioError(
                    f"scenario {name!r}: {field_name} has shape {got}, expected {want} "
                    f"(T={n_steps} steps from expert_ego, A={n_agents} agents from agent_track_ids, "
                    f"L={len(self._light_ids)} traffic lights)"
                )
        if not np.all(np.diff(ego[:, 0]) > 0.0):
            raise ScenarioError(f"scenario {name!r}: expert_ego times (column 0) must increase strictly")
        if self._interval <= 0.0:
            raise ScenarioError(f"scenario {name!r}: database_interval must be positive, got {self._interval}")

    # -- AbstractScenario --------------------------------------------------------------------------
    @property
    def token(self) -> str:
        return self._token

    @property
    def scenario_name(self) -> str:
        return self._scenario_name

    @property
    def log_name(self) -> str:
        return self._log_name

    @property
    def scenario_type(self) -> str:
        return self._scenario_type

    @property
    def map_api(self) -> ArrayMap:
        return self._map_api

    @property
    def database_interval(self) -> float:
        return self._interval

    @property
    def ego_vehicle_parameters(self) -> VehicleParameters:
        return self._vehicle

    def get_number_of_iterations(self) -> int:
        return int(self._expert_ego.shape[0])

    def get_time_point(self, iteration: int) -> float:
        if 0 <= iteration < self._expert_ego.shape[0]:
            return float(self._expert_ego[iteration, 0])
        return float(self._expert_ego[0, 0] + iteration * self._interval)

    def get_time_points(self) -> list[float]:
        return self._expert_ego[:, 0].tolist()  # the same floats get_time_point gives, in one call

    def get_ego_state_at_iteration(self, iteration: int) -> EgoState:
        return EgoState.from_array(self._expert_ego[self._check_iteration(iteration)])

    def get_expert_ego_trajectory(self) -> Trajectory:
        if self._trajectory is None:
            self._trajectory = Trajectory(self._expert_ego)
        return self._trajectory

    def get_tracked_objects_at_iteration(self, iteration: int) -> TrackedObjects:
        """The agents present at ``iteration``; cached per scenario, with read-only arrays.

        Simulations ask for every iteration, once per planner: the present agents of all iterations
        are gathered in one vectorised pass, and each iteration's objects are then slices of it."""
        n = self._expert_ego.shape[0]
        i = self._check_iteration(iteration) % n  # negative iterations count from the end
        cache = self._observations
        if cache is None:
            cache = self._observations = [None] * n
        observation = cache[i]
        if observation is None:
            observation = cache[i] = self._present_agents().at(i)
        return observation

    def _present_agents(self) -> _PresentAgents:
        present = self._present
        if present is None:
            present = self._present = _PresentAgents.gather(
                self._track_ids, self._agent_types, self._agent_sizes, self._agent_poses, self._agent_velocities
            )
        return present

    def get_mission_goal(self) -> StateSE2 | None:
        return self._mission_goal

    def get_route_lane_ids(self) -> list[str]:
        return list(self._route_lane_ids)

    def get_traffic_light_status_at_iteration(self, iteration: int) -> dict[str, TrafficLightStatus]:
        i = self._check_iteration(iteration)
        if not self._light_ids:  # most scenarios: no lights, nothing to build or copy
            return {}
        rows = self._light_rows
        if rows is None:  # the statuses as enums once per scenario; each call gets its own dict
            statuses = list(TrafficLightStatus)
            rows = self._light_rows = [
                {light_id: statuses[v] for light_id, v in zip(self._light_ids, row)}
                for row in self._light_states.tolist()
            ]
        return dict(rows[i])

    # -- whole-scenario arrays (read-only views, for vectorised metrics and logs) --------------------
    @property
    def expert_ego_states(self) -> FloatArray:
        """Expert ego rows [T, EGO_DIM] (rear axle, absolute times)."""
        return self._expert_ego

    @property
    def agent_track_ids(self) -> IntArray:
        return self._track_ids

    @property
    def agent_types(self) -> Int8Array:
        return self._agent_types

    @property
    def agent_sizes(self) -> FloatArray:
        """[A, 2] length, width."""
        return self._agent_sizes

    @property
    def agent_poses(self) -> FloatArray:
        """[T, A, 3] centre x, y, heading; NaN where the agent is absent."""
        return self._agent_poses

    @property
    def agent_velocities(self) -> FloatArray:
        """[T, A, 2] world-frame vx, vy."""
        return self._agent_velocities

    @property
    def traffic_light_ids(self) -> tuple[str, ...]:
        return self._light_ids

    @property
    def traffic_light_states(self) -> Int8Array:
        """[T, L] TrafficLightStatus values, columns in ``traffic_light_ids`` order."""
        return self._light_states

    # -- plain-type conversion ---------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain types and numpy arrays only (for msgpack logs); the inverse of ``from_dict``."""
        goal = self._mission_goal
        v = self._vehicle
        return {
            "token": self._token,
            "scenario_name": self._scenario_name,
            "log_name": self._log_name,
            "scenario_type": self._scenario_type,
            "map": self._map_api.to_dict(),
            "expert_ego": self._expert_ego,
            "agent_track_ids": self._track_ids,
            "agent_types": self._agent_types,
            "agent_sizes": self._agent_sizes,
            "agent_poses": self._agent_poses,
            "agent_velocities": self._agent_velocities,
            "route_lane_ids": list(self._route_lane_ids),
            "mission_goal": None if goal is None else [goal.x, goal.y, goal.heading],
            "traffic_light_ids": list(self._light_ids),
            "traffic_light_states": self._light_states,
            "ego_vehicle_parameters": {
                "width": v.width,
                "front_length": v.front_length,
                "rear_length": v.rear_length,
                "wheel_base": v.wheel_base,
                "max_steering_angle": v.max_steering_angle,
                "max_acceleration": v.max_acceleration,
                "max_deceleration": v.max_deceleration,
            },
            "database_interval": self._interval,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Scenario:
        try:
            goal = d.get("mission_goal")
            return cls(
                token=str(d["token"]),
                scenario_name=str(d["scenario_name"]),
                log_name=str(d["log_name"]),
                scenario_type=str(d["scenario_type"]),
                map_api=ArrayMap.from_dict(d["map"]),
                expert_ego=np.asarray(d["expert_ego"], dtype=np.float64),
                agent_track_ids=np.asarray(d["agent_track_ids"], dtype=np.int64),
                agent_types=np.asarray(d["agent_types"], dtype=np.int8),
                agent_sizes=np.asarray(d["agent_sizes"], dtype=np.float64),
                agent_poses=np.asarray(d["agent_poses"], dtype=np.float64),
                agent_velocities=np.asarray(d["agent_velocities"], dtype=np.float64),
                route_lane_ids=tuple(str(x) for x in d["route_lane_ids"]),
                mission_goal=None if goal is None else StateSE2(float(goal[0]), float(goal[1]), float(goal[2])),
                traffic_light_ids=tuple(str(x) for x in d.get("traffic_light_ids", ())),
                traffic_light_states=np.asarray(d["traffic_light_states"], dtype=np.int8)
                if d.get("traffic_light_states") is not None
                else None,
                ego_vehicle_parameters=VehicleParameters(**d.get("ego_vehicle_parameters", {})),
                database_interval=float(d.get("database_interval", 0.1)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ScenarioError(f"not a serialised Scenario ({exc!r}); pass the output of Scenario.to_dict()") from exc

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_trajectory"] = None  # rebuilt on demand; keeps pickles small
        state.update(_present=None, _observations=None, _light_rows=None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        if "_observations" not in state:  # pickled before the caches existed
            self._reset_caches()

    def __repr__(self) -> str:
        return (
            f"Scenario({self._scenario_name!r}, type={self._scenario_type!r}, "
            f"T={self._expert_ego.shape[0]}, agents={self._track_ids.shape[0]})"
        )

    def _check_iteration(self, iteration: int) -> int:
        n = self._expert_ego.shape[0]
        if not -n <= iteration < n:
            raise ScenarioError(
                f"scenario {self._scenario_name!r} has {n} iterations; iteration {iteration} is out of range"
            )
        return iteration


class _PresentAgents:
    """The agents present at each iteration, gathered for all iterations at once (rows in iteration
    order), so one iteration's :class:`TrackedObjects` is five slices. The arrays are read-only
    because the objects built from them are cached and shared by every simulation of the scenario."""

    def __init__(
        self, offsets: list[int], track_ids: IntArray, agent_types: Int8Array, poses: FloatArray,
        velocities: FloatArray, sizes: FloatArray,
    ) -> None:
        self.offsets = offsets
        self.track_ids, self.agent_types, self.poses = track_ids, agent_types, poses
        self.velocities, self.sizes = velocities, sizes

    @classmethod
    def gather(
        cls, track_ids: IntArray, agent_types: Int8Array, sizes: FloatArray, poses: FloatArray, velocities: FloatArray
    ) -> _PresentAgents:
        present = ~np.isnan(poses[:, :, 0])  # [T, A]
        rows = np.flatnonzero(present)  # row-major (iteration order, then agent order) into [T * A]
        agents = rows % present.shape[1]
        offsets = np.zeros(present.shape[0] + 1, dtype=np.int64)
        np.cumsum(present.sum(axis=1), out=offsets[1:])
        # take() on flat rows: the same values as fancy indexing with (steps, agents), several times faster.
        arrays = (
            track_ids.take(agents),
            agent_types.take(agents),
            poses.reshape(-1, poses.shape[2]).take(rows, axis=0),
            velocities.reshape(-1, velocities.shape[2]).take(rows, axis=0),
            sizes.take(agents, axis=0),
        )
        for array in arrays:
            array.setflags(write=False)
        return cls(offsets.tolist(), *arrays)

    def at(self, iteration: int) -> TrackedObjects:
        rows = slice(self.offsets[iteration], self.offsets[iteration + 1])
        return TrackedObjects(  # track_ids, agent_types, poses, velocities, sizes
            self.track_ids[rows], self.agent_types[rows], self.poses[rows], self.velocities[rows], self.sizes[rows]
        )
