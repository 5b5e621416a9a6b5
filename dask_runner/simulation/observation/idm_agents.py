"""Reactive agents: each follows its recorded path, at a speed the Intelligent Driver Model chooses.

The recorded geometry keeps the traffic plausible (lanes, turns, where agents appear); IDM lets
agents slow for the ego and for each other, so a planner that brakes hard is not rear-ended by
a log that cannot react. Every step is a handful of numpy operations over all agents at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from dask_runner.scenarios.abstract_scenario import AbstractScenario
from dask_runner.scenarios.state import EgoState, FloatArray, IntArray, TrackedObjects
from dask_runner.simulation.history import SimulationIteration
from dask_runner.simulation.observation.abstract_observation import AbstractObservation

_PATH_EXTENSION = 200.0  # m beyond an agent's last recorded point, straight ahead, so it can keep driving
_MIN_SEGMENT = 1e-3  # m; shorter recorded moves (a parked car's jitter) are dropped from the path


@dataclass(frozen=True)
class _AgentLog:
    """Every agent of the scenario as flat arrays: its path (with all paths concatenated along one
    monotonic key, so one ``np.interp`` places all agents) and its recorded station/speed per iteration."""

    track_ids: IntArray  # [N]
    agent_types: np.ndarray  # [N] int8
    sizes: FloatArray  # [N, 2]
    first_iteration: IntArray  # [N]
    last_iteration: IntArray  # [N]
    recorded_length: FloatArray  # [N]
    key_offset: FloatArray  # [N]
    path_key: FloatArray  # [P]
    path_x: FloatArray  # [P]
    path_y: FloatArray  # [P]
    path_heading: FloatArray  # [P], unwrapped
    log_station: FloatArray  # [T, N] recorded station (held after the recording ends)
    log_speed: FloatArray  # [T, N] recorded speed

    @classmethod
    def from_scenario(cls, scenario: AbstractScenario) -> _AgentLog:
        count = scenario.get_number_of_iterations()
        flat = _dense_agents(scenario) or _agents_by_iteration(scenario, count)
        if flat is None:
            empty_f = np.zeros(0)
            empty_i = np.zeros(0, np.int64)
            return cls(empty_i, np.zeros(0, np.int8), np.zeros((0, 2)), empty_i, empty_i, empty_f, empty_f,
                       empty_f, empty_f, empty_f, empty_f, np.zeros((count, 0)), np.zeros((count, 0)))
        iterations, ids, poses, speeds, sizes, types = flat
        order = np.lexsort((iterations, ids))
        iterations, ids = iterations[order], ids[order]
        poses, speeds, sizes, types = poses[order], speeds[order], sizes[order], types[order]

        track_ids, starts, lengths = np.unique(ids, return_index=True, return_counts=True)
        n_tracks = len(track_ids)
        ends = starts + lengths - 1
        track = np.repeat(np.arange(n_tracks), lengths)
        x, y, heading = poses[:, 0], poses[:, 1], np.unwrap(poses[:, 2])
        step = np.empty(len(x))
        step[0] = 0.0
        step[1:] = np.hypot(np.diff(x), np.diff(y))
        step[starts] = 0.0
        cumulative = np.cumsum(step)
        station = cumulative - cumulative[starts][track]
        recorded_length = station[ends]

        log_station = np.full((n_tracks, count), np.nan)
        log_speed = np.full((n_tracks, count), np.nan)
        log_station[track, iterations] = station
        log_speed[track, iterations] = speeds
        log_station = _fill_forward(log_station)
        log_speed = _fill_forward(log_speed)

        keep = (step > _MIN_SEGMENT) | np.isin(np.arange(len(x)), starts)
        kept_track = track[keep]
        path_station = station[keep]
        path_x, path_y, path_heading = x[keep], y[keep], heading[keep]
        kept_ends = np.flatnonzero(np.r_[kept_track[1:] != kept_track[:-1], True])
        ext_heading = path_heading[kept_ends]
        insert_at = kept_ends + 1
        path_x = np.insert(path_x, insert_at, path_x[kept_ends] + _PATH_EXTENSION * np.cos(ext_heading))
        path_y = np.insert(path_y, insert_at, path_y[kept_ends] + _PATH_EXTENSION * np.sin(ext_heading))
        path_heading = np.insert(path_heading, insert_at, ext_heading)
        path_station = np.insert(path_station, insert_at, recorded_length + _PATH_EXTENSION)
        path_track = np.insert(kept_track, insert_at, np.arange(n_tracks))
        key_offset = np.concatenate([[0.0], np.cumsum(recorded_length + _PATH_EXTENSION + 1.0)[:-1]])

        return cls(
            track_ids=track_ids.astype(np.int64),
            agent_types=types[starts].astype(np.int8),
            sizes=sizes[starts],
            first_iteration=iterations[starts],
            last_iteration=iterations[ends],
            recorded_length=recorded_length,
            key_offset=key_offset,
            path_key=path_station + key_offset[path_track],
            path_x=path_x,
            path_y=path_y,
            path_heading=path_heading,
            log_station=np.ascontiguousarray(log_station.T),
            log_speed=np.ascontiguousarray(log_speed.T),
        )

    def poses_at(self, station: FloatArray) -> FloatArray:
        """Centre poses [N, 3] of every agent at its ``station`` along its own path.

        Written column by column into one array (no ``np.stack``, no ``np.clip`` wrapper): this runs
        every step of every reactive simulation, where numpy's per-call overhead is the cost."""
        key = np.minimum(station, self.recorded_length + _PATH_EXTENSION)
        np.maximum(key, 0.0, out=key)
        key += self.key_offset
        poses = np.empty((key.shape[0], 3))
        poses[:, 0] = np.interp(key, self.path_key, self.path_x)
        poses[:, 1] = np.interp(key, self.path_key, self.path_y)
        heading = poses[:, 2]
        heading[:] = np.interp(key, self.path_key, self.path_heading)
        heading += np.pi
        np.mod(heading, 2.0 * np.pi, out=heading)
        heading -= np.pi
        return poses


_FlatAgents = tuple[IntArray, IntArray, FloatArray, FloatArray, FloatArray, np.ndarray]


def _dense_agents(scenario: AbstractScenario) -> _FlatAgents | None:
    """Every (iteration, agent) observation straight from an array-backed scenario's [T, A] arrays."""
    poses = getattr(scenario, "agent_poses", None)
    if not isinstance(poses, np.ndarray) or poses.ndim != 3:
        return None
    agents, iterations = np.nonzero(~np.isnan(poses[:, :, 0]).T)
    if agents.size == 0:
        return None
    velocities = scenario.agent_velocities[iterations, agents]  # type: ignore[attr-defined]
    return (
        iterations.astype(np.int64),
        np.asarray(scenario.agent_track_ids, dtype=np.int64)[agents],  # type: ignore[attr-defined]
        poses[iterations, agents],
        np.hypot(velocities[:, 0], velocities[:, 1]),
        np.asarray(scenario.agent_sizes, dtype=np.float64)[agents],  # type: ignore[attr-defined]
        np.asarray(scenario.agent_types)[agents],  # type: ignore[attr-defined]
    )


def _agents_by_iteration(scenario: AbstractScenario, count: int) -> _FlatAgents | None:
    """The same through the scenario interface, one iteration at a time (any scenario)."""
    frames = [scenario.get_tracked_objects_at_iteration(k) for k in range(count)]
    per_frame = np.array([len(f) for f in frames], dtype=np.int64)
    if per_frame.sum() == 0:
        return None
    return (
        np.repeat(np.arange(count), per_frame),
        np.concatenate([f.track_ids for f in frames]),
        np.concatenate([f.poses for f in frames]),
        np.concatenate([f.speeds for f in frames]),
        np.concatenate([f.sizes for f in frames]),
        np.concatenate([f.agent_types for f in frames]),
    )


def _fill_forward(table: FloatArray) -> FloatArray:
    """NaNs take the last value before them in the row; leading NaNs become 0."""
    columns = np.arange(table.shape[1])
    last_valid = np.maximum.accumulate(np.where(np.isnan(table), 0, columns), axis=1)
    filled = table[np.arange(table.shape[0])[:, None], last_valid]
    return np.nan_to_num(filled, nan=0.0)


class IDMAgents(AbstractObservation):
    """nuPlan's IDMAgents, simplified: path from the log, speed from IDM, leads found geometrically.

    An agent appears at its first recorded iteration, at its recorded state. Its desired speed is
    the recorded speed plus a pull towards its recorded station, so unhindered agents replay the
    log. Its leads are the ego and the other agents ahead of it (along its heading, within
    ``lookahead`` m, laterally overlapping its width). It disappears once its recording has ended
    and it has driven past its last recorded point.
    """

    def __init__(
        self,
        scenario: AbstractScenario,
        accel_max: float = 1.5,
        decel_comfort: float = 2.0,
        decel_max: float = 8.0,
        min_gap: float = 2.0,
        headway_time: float = 1.0,
        lookahead: float = 60.0,
        lateral_margin: float = 0.3,
        station_gain: float = 0.5,
    ) -> None:
        self._scenario = scenario
        self.accel_max = accel_max
        self.decel_comfort = decel_comfort
        self.decel_max = decel_max
        self.min_gap = min_gap
        self.headway_time = headway_time
        self.lookahead = lookahead
        self.lateral_margin = lateral_margin
        self.station_gain = station_gain
        self._clear_run_state()

    def _clear_run_state(self) -> None:
        self._log: _AgentLog | None = None
        self._station = np.zeros(0)
        self._speed = np.zeros(0)
        self._active = np.zeros(0, bool)
        self._poses = np.zeros((0, 3))
        self._observation: TrackedObjects | None = None
        self._spawns: dict[int, IntArray] = {}
        self._half_lengths = np.zeros((0, 1))
        self._lateral_limits = np.zeros((0, 1))
        self._obstacles = np.zeros((4, 1))
        self._rows = np.zeros(0, np.int64)

    def __getstate__(self) -> dict[str, object]:
        # Per-run arrays are rebuilt from the scenario where the simulation runs: runners stay cheap to ship.
        keep = {"_scenario"}
        return {k: v for k, v in self.__dict__.items() if not k.startswith("_") or k in keep}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        self._clear_run_state()

    def reset(self) -> None:
        log = self._log
        if log is None:
            log = self._log = _AgentLog.from_scenario(self._scenario)
        count = len(log.track_ids)
        self._station = np.zeros(count)
        self._speed = log.log_speed[0].copy()
        self._active = log.first_iteration == 0
        self._poses = log.poses_at(self._station)
        self._observation = None
        later = np.unique(log.first_iteration[log.first_iteration > 0])
        self._spawns = {int(k): np.flatnonzero(log.first_iteration == k) for k in later}
        # Pairwise constants [N, N + 1] (agents x obstacles: the agents, then the ego).
        vehicle = self._scenario.ego_vehicle_parameters
        lengths = np.append(log.sizes[:, 0], vehicle.length)
        widths = np.append(log.sizes[:, 1], vehicle.width)
        self._half_lengths = 0.5 * (lengths[None, :] + log.sizes[:, 0:1])
        self._lateral_limits = 0.5 * (widths[None, :] + log.sizes[:, 1:2]) + self.lateral_margin
        self._obstacles = np.zeros((4, count + 1))  # rows x, y, heading, speed
        self._rows = np.arange(count)

    def _agent_log(self) -> _AgentLog:
        if self._log is None:
            self.reset()
        assert self._log is not None
        return self._log

    def get_observation(self) -> TrackedObjects:
        if self._observation is None:
            log = self._agent_log()
            active = self._active
            poses = self._poses[active]
            speed = self._speed[active]
            velocities = np.empty((speed.shape[0], 2))
            np.multiply(speed, np.cos(poses[:, 2]), out=velocities[:, 0])
            np.multiply(speed, np.sin(poses[:, 2]), out=velocities[:, 1])
            self._observation = TrackedObjects(
                log.track_ids[active], log.agent_types[active], poses, velocities, log.sizes[active]
            )
        return self._observation

    def update_observation(
        self, iteration: SimulationIteration, next_iteration: SimulationIteration, ego_state: EgoState
    ) -> None:
        log = self._agent_log()
        dt = next_iteration.time_s - iteration.time_s
        nxt = next_iteration.index
        active = self._active
        station, speed = self._station, self._speed
        if len(station) == 0:
            return
        gap, lead_speed = self._leads(ego_state)
        desired = log.log_speed[nxt] + self.station_gain * (log.log_station[iteration.index] - station)
        accel_max = self.accel_max
        ratio = speed / np.maximum(desired, 0.1)
        ratio *= ratio
        free = np.where(desired > 0.1, accel_max * (1.0 - ratio * ratio), -speed / dt)
        wanted_gap = self.min_gap + np.maximum(
            speed * (self.headway_time + (speed - lead_speed) / (2.0 * math.sqrt(accel_max * self.decel_comfort))),
            0.0,
        )
        accel = np.maximum(np.minimum(free - accel_max * (wanted_gap / np.maximum(gap, 0.1)) ** 2, accel_max),
                           -self.decel_max)
        new_speed = np.maximum(speed + accel * dt, 0.0)
        advance = np.minimum((0.5 * dt) * (speed + new_speed), np.maximum(gap - 0.3, 0.0)) * active
        station = station + advance
        speed = np.where(active, new_speed, speed)
        spawned = self._spawns.get(nxt)
        if spawned is not None:
            station[spawned] = 0.0
            speed[spawned] = log.log_speed[nxt, spawned]
            active = active.copy()
            active[spawned] = True
        self._active = active & ~((log.last_iteration < nxt) & (station >= log.recorded_length))
        self._station, self._speed = station, speed
        self._poses = log.poses_at(station)
        self._observation = None

    def _leads(self, ego: EgoState) -> tuple[FloatArray, FloatArray]:
        """Bumper gap [N] to the nearest object ahead of each agent (inf if none) and its speed along the agent."""
        poses = self._poses
        offset = self._scenario.ego_vehicle_parameters.rear_axle_to_center
        obstacles = self._obstacles
        obstacles[0, :-1] = np.where(self._active, poses[:, 0], np.nan)  # inactive agents are nowhere
        obstacles[1:3, :-1] = poses[:, 1:3].T
        obstacles[3, :-1] = self._speed
        heading = ego.heading
        obstacles[:, -1] = (ego.x + offset * math.cos(heading), ego.y + offset * math.sin(heading), heading,
                            ego.velocity)
        cos_h = np.cos(poses[:, 2:3])
        sin_h = np.sin(poses[:, 2:3])
        dx = obstacles[0] - poses[:, 0:1]
        dy = obstacles[1] - poses[:, 1:2]
        along = dx * cos_h + dy * sin_h
        ahead = (along > 1e-6) & (along < self.lookahead) & (np.abs(dy * cos_h - dx * sin_h) < self._lateral_limits)
        gaps = np.where(ahead, along - self._half_lengths, np.inf)
        nearest = np.argmin(gaps, axis=1)
        gap = gaps[self._rows, nearest]
        lead_speed = obstacles[3, nearest] * np.cos(obstacles[2, nearest] - poses[:, 2])
        return gap, np.maximum(lead_speed, 0.0)
