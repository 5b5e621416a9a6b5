"""The route a planner drives along: the route lanes' centrelines stacked into one path, with stations.

Built once in ``initialize``; each step then projects the ego and the agents onto a short window
of it, so the per-step cost does not grow with the route's length.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from dataclasses import dataclass

import numpy as np

from dask_runner.errors import ScenarioError
from dask_runner.scenarios.abstract_map import AbstractMap, Lane
from dask_runner.scenarios.polyline import concatenate, cumulative_stations, vertex_headings
from dask_runner.scenarios.state import FloatArray

try:  # numpy's compiled interp: its Python wrapper's checks cost as much as the work on 17 points
    from numpy._core.multiarray import interp as _compiled_interp
except ImportError:  # numpy < 2 keeps it elsewhere; the public function gives the same numbers
    _compiled_interp = None  # type: ignore[assignment]

_DEFAULT_HALF_LANE_WIDTH = 1.75
_UNIFORM_SPACING = 1.0  # m between the vertices of the resampled path that ``locate`` walks


@dataclass(frozen=True)
class StopPoint:
    """Where the route must stop when ``traffic_light_id`` is red: its station along the path."""

    station: float
    traffic_light_id: str


class RoutePath:
    """One polyline through the route lanes; station 0 at the start of the first lane."""

    def __init__(self, lanes: list[Lane], open_end: bool, points: FloatArray | None = None) -> None:
        """``points``: the path through ``lanes`` if the map joins them itself (lane changes), else stacked centrelines."""
        if not lanes:
            raise ScenarioError("a route path needs at least one lane; the scenario's route is empty")
        if points is None:
            points = concatenate([lane.centerline for lane in lanes])
        if points.shape[0] < 2:
            raise ScenarioError(f"the route through lanes {[lane.id for lane in lanes]} has no length")
        self.points = points
        self._xs = np.ascontiguousarray(points[:, 0])  # np.interp wants contiguous arrays
        self._ys = np.ascontiguousarray(points[:, 1])
        self.stations = cumulative_stations(points)
        self.headings = vertex_headings(points)
        # Interpolated headings lie between vertex headings: when those are all in [-pi, pi), so are they.
        self._headings_wrapped = bool(self.headings.min() >= -math.pi and self.headings.max() < math.pi)
        self.segment_vectors = np.diff(points, axis=0)
        length2 = np.einsum("ij,ij->i", self.segment_vectors, self.segment_vectors)
        self.inverse_length2 = np.divide(1.0, length2, out=np.zeros_like(length2), where=length2 > 0.0)
        self.length = float(self.stations[-1])
        self._build_uniform(_UNIFORM_SPACING)
        self.open_end = open_end  # False: the road ends where the path ends

        lane_lengths = np.array([lane.length for lane in lanes])
        self.lane_end_stations = np.cumsum(lane_lengths) * (self.length / max(lane_lengths.sum(), 1e-9))
        self.lane_speed_limits = np.array([lane.speed_limit_mps for lane in lanes])
        self._lane_ends: list[float] = self.lane_end_stations.tolist()  # plain floats for per-step look-ups
        self._speed_limits: list[float] = self.lane_speed_limits.tolist()
        widths = [
            _mean_width(lane)
            for lane in lanes
            if lane.left_boundary.shape == lane.right_boundary.shape and lane.left_boundary.size
        ]
        self.half_lane_width = 0.5 * float(np.mean(widths)) if widths else _DEFAULT_HALF_LANE_WIDTH

        stops: list[StopPoint] = []
        lane_start = 0.0
        for lane, lane_end in zip(lanes, self.lane_end_stations):
            if lane.traffic_light_id is not None:
                station = float(lane_end)
                if lane.stop_line is not None:
                    middle = np.asarray(lane.stop_line, dtype=np.float64).mean(axis=0)
                    first, last = self.segment_window(lane_start - 15.0, float(lane_end) + 15.0)
                    projected, _ = self.project(middle[None, :], first, last)
                    station = float(projected[0])
                stops.append(StopPoint(station, lane.traffic_light_id))
            lane_start = float(lane_end)
        self.stop_points = tuple(stops)

    @classmethod
    def from_route(
        cls, map_api: AbstractMap, route_lane_ids: list[str], min_length_beyond: float = 150.0, max_extra_lanes: int = 20
    ) -> RoutePath:
        """The route lanes in order, extended along first successors by ``min_length_beyond`` metres."""
        lane_ids: list[str] = []
        for lane_id in route_lane_ids:
            if not lane_ids or lane_ids[-1] != lane_id:
                lane_ids.append(lane_id)
        try:
            lanes = [map_api.get_lane(lane_id) for lane_id in lane_ids]
        except (KeyError, ScenarioError) as exc:
            raise ScenarioError(f"route lane {exc} is not in map {map_api.map_name!r}; check the scenario's route") from exc
        extra = 0.0
        open_end = False
        for _ in range(max_extra_lanes):
            successors = lanes[-1].successors if lanes else ()
            if not successors:
                break
            lane = map_api.get_lane(successors[0])
            lanes.append(lane)
            extra += lane.length
            if extra >= min_length_beyond:
                open_end = True
                break
        route_centerline = getattr(map_api, "route_centerline", None)
        points = route_centerline([lane.id for lane in lanes]) if route_centerline is not None else None
        return cls(lanes, open_end, points)

    def _build_uniform(self, spacing: float) -> None:
        """The path resampled at equal steps, as plain lists: ``locate`` then costs a few float operations."""
        count = max(int(np.ceil(self.length / spacing)), 1)
        stations = np.linspace(0.0, self.length, count + 1)
        xs = np.interp(stations, self.stations, self.points[:, 0])
        ys = np.interp(stations, self.stations, self.points[:, 1])
        dx, dy = np.diff(xs), np.diff(ys)
        norm = np.maximum(np.hypot(dx, dy), 1e-12)
        self._step = self.length / count
        self._ux: list[float] = xs[:-1].tolist()
        self._uy: list[float] = ys[:-1].tolist()
        self._cos: list[float] = (dx / norm).tolist()
        self._sin: list[float] = (dy / norm).tolist()

    def locate(self, x: float, y: float, station_guess: float) -> tuple[float, float, float]:
        """(station, signed lateral offset, path heading) of point (x, y), searching from ``station_guess``.

        Walks the resampled path from the guess, so it is exact for a good guess (the last station,
        or the ego's station plus the distance ahead) and costs about a microsecond a step walked."""
        step, ux, uy, cos, sin = self._step, self._ux, self._uy, self._cos, self._sin
        last = len(ux) - 1
        i = int(station_guess / step)
        i = 0 if i < 0 else (last if i > last else i)
        direction = 0
        while True:
            dx, dy = x - ux[i], y - uy[i]
            along = dx * cos[i] + dy * sin[i]
            if along > step and i < last and direction >= 0:
                i += 1
                direction = 1
            elif along < 0.0 and i > 0 and direction <= 0:
                i -= 1
                direction = -1
            else:
                break
        return i * step + along, dy * cos[i] - dx * sin[i], math.atan2(sin[i], cos[i])

    def segment_window(self, station_from: float, station_to: float) -> tuple[int, int]:
        """Indices [first, last) of the segments that cover stations ``station_from`` .. ``station_to``."""
        stations = self.stations
        first = max(int(np.searchsorted(stations, station_from, side="right")) - 1, 0)
        last = min(int(np.searchsorted(stations, station_to, side="left")), len(stations) - 1)
        return first, max(last, first + 1)

    def project(self, points: FloatArray, first: int, last: int) -> tuple[FloatArray, FloatArray]:
        """Station [N] and signed lateral offset [N] (left positive) of ``points`` [N, 2] on segments [first, last)."""
        start = self.points[first:last]
        vec = self.segment_vectors[first:last]
        dx = points[:, 0:1] - start[None, :, 0]
        dy = points[:, 1:2] - start[None, :, 1]
        t = np.clip((dx * vec[None, :, 0] + dy * vec[None, :, 1]) * self.inverse_length2[None, first:last], 0.0, 1.0)
        ex = dx - t * vec[None, :, 0]
        ey = dy - t * vec[None, :, 1]
        best = np.argmin(ex * ex + ey * ey, axis=1)
        rows = np.arange(points.shape[0])
        t_best = t[rows, best]
        segment = best + first
        station = self.stations[segment] + t_best * (self.stations[segment + 1] - self.stations[segment])
        cross = vec[best, 0] * dy[rows, best] - vec[best, 1] * dx[rows, best]
        lateral = np.copysign(np.hypot(ex[rows, best], ey[rows, best]), cross)
        return station, lateral

    def poses_at(self, stations: FloatArray) -> FloatArray:
        """Poses [N, 3] (x, y, heading in [-pi, pi)) at ``stations`` (clamped to the path)."""
        heading = np.interp(stations, self.stations, self.headings)
        return np.stack(
            [np.interp(stations, self.stations, self._xs),
             np.interp(stations, self.stations, self._ys),
             (heading + np.pi) % (2.0 * np.pi) - np.pi],
            axis=1,
        )

    def pose_columns(self, stations: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        """x, y and heading (in [-pi, pi)) at ``stations`` (a float64 array), as ``poses_at`` gives them.

        Planners call this every step, so it skips ``np.interp``'s argument checks when numpy's compiled
        function is reachable."""
        path_stations = self.stations
        if _compiled_interp is not None:
            x = _compiled_interp(stations, path_stations, self._xs, None, None)
            y = _compiled_interp(stations, path_stations, self._ys, None, None)
            heading = _compiled_interp(stations, path_stations, self.headings, None, None)
        else:
            x = np.interp(stations, path_stations, self._xs)
            y = np.interp(stations, path_stations, self._ys)
            heading = np.interp(stations, path_stations, self.headings)
        if not self._headings_wrapped:
            heading += np.pi
            np.mod(heading, 2.0 * np.pi, out=heading)
            heading -= np.pi
        return x, y, heading

    def fill_poses(self, stations: FloatArray, x: FloatArray, y: FloatArray, heading: FloatArray) -> None:
        """``pose_columns`` written into the given columns (a trajectory's)."""
        x[:], y[:], heading[:] = self.pose_columns(stations)

    def heading_at(self, station: float) -> float:
        return float(np.interp(station, self.stations, self.headings))

    def speed_limit_at(self, station: float) -> float:
        index = bisect_left(self._lane_ends, station)
        limits = self._speed_limits
        return limits[index] if index < len(limits) else limits[-1]


def _mean_width(lane: Lane) -> float:
    """The mean distance between the lane's boundaries: np.mean's sum and division, without its wrapper."""
    across = lane.left_boundary - lane.right_boundary
    return float(np.add.reduce(np.hypot(across[:, 0], across[:, 1])) / across.shape[0])
