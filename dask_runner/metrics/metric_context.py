"""The geometry every metric needs, computed once per scenario and shared (lazily) between metrics.

Ego boxes, all agents of all steps as one flat array, the collisions, the lane under the ego and
the projection on the expert route are each computed at most once, on first use, so the cost of a
scenario's metrics is the cost of its geometry, not of its number of metrics.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import numpy.typing as npt
import shapely

from dask_runner.errors import DaskRunnerError
from dask_runner.metrics.expert_comparison import PlannerExpertErrors, compare_with_expert
from dask_runner.metrics.geometry import Polyline, box_corners, box_polygons
from dask_runner.metrics.lane_index import LaneIndex, lane_index_for
from dask_runner.scenarios.abstract_scenario import AbstractScenario
from dask_runner.scenarios.state import HEADING, VELOCITY, FloatArray, IntArray, X, Y, rear_axle_to_center
from dask_runner.simulation.history import SimulationHistory

# Below this speed (m/s) an ego or agent counts as stopped when a collision is classified (nuPlan).
STOPPED_SPEED_THRESHOLD = 5e-2


@dataclass(frozen=True)
class Agents:
    """Every agent observation of the history, flattened: row ``i`` is one agent at step ``step[i]``."""

    step: IntArray  # [M]
    track_ids: IntArray  # [M]
    agent_types: npt.NDArray[np.int8]  # [M]
    poses: FloatArray  # [M, 3] centre x, y, heading
    velocities: FloatArray  # [M, 2]
    sizes: FloatArray  # [M, 2] length, width

    def __len__(self) -> int:
        return int(self.step.shape[0])

    def corners(self, rows: IntArray) -> FloatArray:
        """Box corners [len(rows), 4, 2] of the given rows (only those: most agents are far from the ego)."""
        return box_corners(self.poses[rows], self.sizes[rows, 0], self.sizes[rows, 1])

    @cached_property
    def speeds(self) -> FloatArray:
        return np.hypot(self.velocities[:, 0], self.velocities[:, 1])

    @cached_property
    def half_diagonals(self) -> FloatArray:
        return np.hypot(self.sizes[:, 0], self.sizes[:, 1]) / 2.0


@dataclass(frozen=True)
class Collisions:
    """Ego-agent overlaps: ``rows`` index into :class:`Agents`; ``first`` marks each track's first one."""

    rows: IntArray
    first: npt.NDArray[np.bool_]


class MetricContext:
    """Built by the engine for one (scenario, history); metrics read its properties."""

    def __init__(self, scenario: AbstractScenario, history: SimulationHistory) -> None:
        self.scenario = scenario
        self.history = history
        self.params = scenario.ego_vehicle_parameters
        self.ego: FloatArray = history.ego_array()
        self.dt = _median_step(self.ego[:, 0], scenario.database_interval)
        self._planner_expert_errors: dict[tuple[tuple[int, ...], float], PlannerExpertErrors] = {}

    @property
    def num_steps(self) -> int:
        return int(self.ego.shape[0])

    @property
    def duration(self) -> float:
        return max(self.num_steps - 1, 1) * self.dt

    @cached_property
    def ego_xy(self) -> FloatArray:
        return self.ego[:, [X, Y]]

    @cached_property
    def ego_speed(self) -> FloatArray:
        return np.abs(self.ego[:, VELOCITY])

    @cached_property
    def ego_centers(self) -> FloatArray:
        return rear_axle_to_center(self.ego, self.params)

    @cached_property
    def ego_corners(self) -> FloatArray:
        n = self.num_steps
        return box_corners(self.ego_centers, np.full(n, self.params.length), np.full(n, self.params.width))

    @cached_property
    def ego_polygons(self) -> npt.NDArray[np.object_]:
        return box_polygons(self.ego_corners)

    @cached_property
    def ego_half_diagonal(self) -> float:
        return float(np.hypot(self.params.length, self.params.width) / 2.0)

    @cached_property
    def agents(self) -> Agents:
        observations = [s.observation for s in self.history.samples]
        ids = [o.track_ids for o in observations]
        counts = np.fromiter(map(len, ids), np.int64, len(ids))  # len of an array: no Python-level __len__
        if counts.sum() == 0:
            return Agents(
                np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int8),
                np.zeros((0, 3)), np.zeros((0, 2)), np.zeros((0, 2)),
            )
        types = [o.agent_types for o in observations]
        poses = [o.poses for o in observations]
        velocities = [o.velocities for o in observations]
        sizes = [o.sizes for o in observations]
        return Agents(
            step=np.repeat(np.arange(len(observations), dtype=np.int64), counts),
            track_ids=np.concatenate(ids).astype(np.int64, copy=False),
            agent_types=np.concatenate(types).astype(np.int8, copy=False),
            poses=np.concatenate(poses).astype(np.float64, copy=False),
            velocities=np.concatenate(velocities).astype(np.float64, copy=False),
            sizes=np.concatenate(sizes).astype(np.float64, copy=False),
        )

    @cached_property
    def agent_distances(self) -> FloatArray:
        """Distance [M] from each agent row's centre to the ego box's centre at the same step."""
        agents = self.agents
        offsets = agents.poses[:, :2] - self.ego_centers[agents.step, :2]
        return np.hypot(offsets[:, 0], offsets[:, 1])

    @cached_property
    def collisions(self) -> Collisions:
        """Agent rows whose box overlaps the ego box at the same step (a cheap distance test first)."""
        agents = self.agents
        if len(agents) == 0:
            return Collisions(np.zeros(0, np.int64), np.zeros(0, bool))
        near = np.flatnonzero(self.agent_distances <= agents.half_diagonals + self.ego_half_diagonal)
        if near.size == 0:
            return Collisions(np.zeros(0, np.int64), np.zeros(0, bool))
        # Polygons of the near rows only: building one costs more than the whole distance test.
        ego_boxes = box_polygons(self.ego_corners[agents.step[near]])
        hit = shapely.intersects(ego_boxes, box_polygons(agents.corners(near)))
        rows = near[hit]
        # Rows are in step order, so the first occurrence of each track is its first collision.
        _, first_idx = np.unique(agents.track_ids[rows], return_index=True)
        first = np.zeros(rows.shape[0], dtype=bool)
        first[first_idx] = True
        return Collisions(rows, first)

    @cached_property
    def lane_index(self) -> LaneIndex:
        return lane_index_for(self.scenario.map_api)

    @cached_property
    def ego_lane_segments(self) -> npt.NDArray[np.int64]:
        """The lane centreline segment nearest to the ego's rear axle at each step (-1: no lanes)."""
        return self.lane_index.nearest_segments(self.ego_xy)

    @cached_property
    def route(self) -> Polyline:
        """The expert route: the route lanes' centrelines joined, or the expert's path if it has no lanes.

        A map with ``route_centerline(lane_ids)`` (ArrayMap) joins them itself, smoothing lane changes."""
        map_api = self.scenario.map_api
        lane_ids = self.scenario.get_route_lane_ids()
        points: FloatArray | None = None
        joiner = getattr(map_api, "route_centerline", None)
        if lane_ids and callable(joiner):
            try:
                points = np.asarray(joiner(lane_ids), dtype=np.float64)
            except (KeyError, ValueError, DaskRunnerError):
                points = None
        if points is None and lane_ids:
            pieces = []
            for lane_id in lane_ids:
                try:
                    pieces.append(np.asarray(map_api.get_lane(lane_id).centerline, dtype=np.float64))
                except (KeyError, ValueError, DaskRunnerError):
                    continue
            points = np.concatenate(pieces) if pieces else None
        if points is not None:
            try:
                return Polyline.from_points(points)
            except ValueError:
                pass
        return Polyline.from_points(self.expert[:, [X, Y]])

    @cached_property
    def expert(self) -> FloatArray:
        return self.scenario.get_expert_ego_trajectory().states

    @cached_property
    def ego_route_progress(self) -> float:
        """Station gained along the route from the ego's first to its last step (m, negative backwards)."""
        return self._progress(self.ego_xy)

    @cached_property
    def expert_route_progress(self) -> float:
        """The same for the expert's whole trajectory."""
        return self._progress(self.expert[:, [X, Y]])

    def _progress(self, xy: FloatArray) -> float:
        if xy.shape[0] < 2:
            return 0.0
        first, last = self.route.stations_of(xy[[0, -1]])
        return float(last - first)

    @cached_property
    def ego_heading(self) -> FloatArray:
        return np.unwrap(self.ego[:, HEADING])

    def planner_expert_errors(self, horizons: tuple[int, ...], frequency: float) -> PlannerExpertErrors:
        """The open-loop comparison of planned and expert trajectories (computed once per horizons/frequency)."""
        key = (horizons, frequency)
        cached = self._planner_expert_errors.get(key)
        if cached is None:
            cached = self._planner_expert_errors[key] = compare_with_expert(
                self.expert, self.scenario.database_interval, self.history, self.params.rear_axle_to_center,
                horizons, frequency)
        return cached


def _median_step(times: FloatArray, default: float) -> float:
    """np.median of the time steps (the same number: the middle one, or the mean of the middle two), or
    ``default`` when the times do not increase; a sort of ~150 values costs a tenth of np.median."""
    steps = np.sort(np.diff(times))
    n = steps.shape[0]
    if n == 0 or not steps[0] > 0.0 or np.isnan(steps[-1]):
        return default
    middle = n // 2
    return float(steps[middle]) if n % 2 else float((steps[middle - 1] + steps[middle]) / 2.0)
