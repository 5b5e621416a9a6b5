"""The concrete map: lanes held as stacked numpy arrays so that map queries cost microseconds.

Planners and metrics ask "which lane am I in, how far along, how far off-centre" at every step of
tens of thousands of simulations; one vectorised pass over all centreline segments answers that
without a Python loop, and the drivable area is a prepared shapely geometry for ``contains_xy``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from dask_runner.errors import ScenarioError
from dask_runner.scenarios import polyline
from dask_runner.scenarios.abstract_map import AbstractMap, Lane
from dask_runner.scenarios.state import FloatArray, IntArray

# How much the union of lane polygons is grown so that shared lane edges leave no slivers.
DRIVABLE_AREA_BUFFER_M = 0.05
# Gap, in metres, above which two consecutive route lanes count as not connected (a lane change).
_JOIN_TOLERANCE_M = 0.5
# Spatial hash for closest_lane: cell size, and how far from a cell a segment may be to be listed.
_GRID_CELL_M = 10.0
_GRID_REACH_M = 12.0


class ArrayMap(AbstractMap):
    """Lanes plus a drivable area; picklable and convertible to plain types for logs."""

    def __init__(self, map_name: str, lanes: Sequence[Lane], drivable_area: Any | None = None) -> None:
        self._map_name = map_name
        self._polygons: dict[str, Any] = {}
        by_id: dict[str, Lane] = {}
        for lane in lanes:
            if lane.id in by_id:
                raise ScenarioError(f"map {map_name!r} has two lanes with id {lane.id!r}; give each lane a unique id")
            _check_lane(map_name, lane)
            by_id[lane.id] = lane
        self._lanes = by_id
        self._custom_drivable_area = drivable_area is not None
        self._drivable_area = drivable_area if drivable_area is not None else self._union_of_lanes()
        self._build_index()

    # -- construction -------------------------------------------------------------------------
    def _union_of_lanes(self) -> Any:
        import shapely

        polygons = [self.lane_polygon(lane_id) for lane_id in self._lanes]
        if not polygons:
            return shapely.Polygon()
        return shapely.union_all(shapely.make_valid(np.asarray(polygons, dtype=object))).buffer(
            DRIVABLE_AREA_BUFFER_M
        )

    def _build_index(self) -> None:
        """Stack every centreline segment into flat arrays (the structure ``closest_lane`` scans)."""
        import shapely

        shapely.prepare(self._drivable_area)
        self._lane_ids: tuple[str, ...] = tuple(self._lanes)
        starts, vecs, lane_index, station0 = [], [], [], []
        for i, lane in enumerate(self._lanes.values()):
            line = lane.centerline
            starts.append(line[:-1])
            vecs.append(np.diff(line, axis=0))
            lane_index.append(np.full(line.shape[0] - 1, i, dtype=np.int64))
            station0.append(polyline.cumulative_stations(line)[:-1])
        if starts:
            self._seg_start: FloatArray = np.ascontiguousarray(np.concatenate(starts))
            self._seg_vec: FloatArray = np.ascontiguousarray(np.concatenate(vecs))
            self._seg_lane: IntArray = np.concatenate(lane_index)
            self._seg_station0: FloatArray = np.concatenate(station0)
        else:
            self._seg_start = np.zeros((0, 2))
            self._seg_vec = np.zeros((0, 2))
            self._seg_lane = np.zeros(0, np.int64)
            self._seg_station0 = np.zeros(0)
        len2 = np.einsum("ij,ij->i", self._seg_vec, self._seg_vec)
        self._seg_len: FloatArray = np.sqrt(len2)
        self._seg_inv_len2: FloatArray = np.divide(1.0, len2, out=np.zeros_like(len2), where=len2 > 0.0)
        self._seg_heading: FloatArray = np.arctan2(self._seg_vec[:, 1], self._seg_vec[:, 0])
        self._seg_x0 = np.ascontiguousarray(self._seg_start[:, 0])
        self._seg_y0 = np.ascontiguousarray(self._seg_start[:, 1])
        self._seg_vx = np.ascontiguousarray(self._seg_vec[:, 0])
        self._seg_vy = np.ascontiguousarray(self._seg_vec[:, 1])
        self._grid: dict[tuple[int, int], IntArray] | None = None
        # Rows x0, y0, vx, vy, 1/len^2, heading: one block per grid cell, sliced once.
        self._packed: FloatArray = np.stack(
            [self._seg_x0, self._seg_y0, self._seg_vx, self._seg_vy, self._seg_inv_len2, self._seg_heading]
        )
        self._packed_cells: dict[int, FloatArray] = {}

    # -- AbstractMap ----------------------------------------------------------------------------
    @property
    def map_name(self) -> str:
        return self._map_name

    @property
    def lanes(self) -> Mapping[str, Lane]:
        return self._lanes

    @property
    def lane_ids(self) -> tuple[str, ...]:
        """Lane ids in index order (the indices ``closest_lanes`` returns)."""
        return self._lane_ids

    @property
    def drivable_area(self) -> Any:
        return self._drivable_area

    def get_lane(self, lane_id: str) -> Lane:
        try:
            return self._lanes[lane_id]
        except KeyError as exc:
            raise ScenarioError(
                f"map {self._map_name!r} has no lane {lane_id!r}; use one of map.lane_ids "
                f"({len(self._lanes)} lanes)"
            ) from exc

    def lane_polygon(self, lane_id: str) -> Any:
        """The lane's area: its left boundary then its right boundary reversed (cached)."""
        cached = self._polygons.get(lane_id)
        if cached is not None:
            return cached
        import shapely

        lane = self.get_lane(lane_id)
        ring = np.concatenate([lane.left_boundary, lane.right_boundary[::-1]], axis=0)
        polygon = shapely.make_valid(shapely.Polygon(ring))
        self._polygons[lane_id] = polygon
        return polygon

    def points_in_drivable_area(self, points: FloatArray) -> npt.NDArray[np.bool_]:
        import shapely

        pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        return np.asarray(shapely.contains_xy(self._drivable_area, pts[:, 0], pts[:, 1]), dtype=bool)

    def closest_lane(self, x: float, y: float, heading: float | None = None) -> tuple[str, float, float]:
        if self._seg_len.shape[0] == 0:
            raise ScenarioError(f"map {self._map_name!r} has no lanes; closest_lane needs at least one lane")
        if self._grid is None:
            self._grid = self._build_grid()
        candidates = self._grid.get((int(np.floor(x / _GRID_CELL_M)), int(np.floor(y / _GRID_CELL_M))))
        if candidates is not None:
            found = self._closest_among(candidates, x, y, heading)
            # Every segment closer than the grid reach is a candidate, so a hit within it is exact.
            if found is not None and abs(found[2]) <= _GRID_REACH_M:
                return found
        found = self._closest_among(None, x, y, heading)
        if found is None:  # every lane points the other way: answer without the heading filter
            found = self._closest_among(None, x, y, None)
        assert found is not None
        return found

    def _closest_among(
        self, segments: IntArray | None, x: float, y: float, heading: float | None
    ) -> tuple[str, float, float] | None:
        """Nearest segment among ``segments`` (all when None); None when the heading filter leaves none."""
        packed = self._packed if segments is None else self._packed_cells[id(segments)]
        x0, y0, vx, vy, inv, seg_heading = packed
        dx = x - x0
        dy = y - y0
        t = (dx * vx + dy * vy) * inv
        np.clip(t, 0.0, 1.0, out=t)
        ex = dx - t * vx
        ey = dy - t * vy
        d2 = ex * ex + ey * ey
        if heading is not None:
            d2[np.cos(heading - seg_heading) < 0.0] = np.inf
        k = int(np.argmin(d2))
        if not d2[k] < np.inf:
            return None
        seg = k if segments is None else int(segments[k])
        cross = vx[k] * dy[k] - vy[k] * dx[k]
        dist = float(np.sqrt(d2[k]))
        station = float(self._seg_station0[seg] + t[k] * self._seg_len[seg])
        return self._lane_ids[int(self._seg_lane[seg])], station, dist if cross >= 0.0 else -dist

    def _build_grid(self) -> dict[tuple[int, int], IntArray]:
        """Cell -> segments that come within ``_GRID_REACH_M`` of the cell (built on first query)."""
        end = self._seg_start + self._seg_vec
        lo = np.floor((np.minimum(self._seg_start, end) - _GRID_REACH_M) / _GRID_CELL_M).astype(np.int64)
        hi = np.floor((np.maximum(self._seg_start, end) + _GRID_REACH_M) / _GRID_CELL_M).astype(np.int64)
        nx = hi[:, 0] - lo[:, 0] + 1
        ny = hi[:, 1] - lo[:, 1] + 1
        counts = nx * ny
        seg = np.repeat(np.arange(counts.shape[0]), counts)
        local = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
        cx = lo[seg, 0] + local % nx[seg]
        cy = lo[seg, 1] + local // nx[seg]
        order = np.lexsort((seg, cy, cx))
        cx, cy, seg = cx[order], cy[order], seg[order]
        breaks = np.flatnonzero((np.diff(cx) != 0) | (np.diff(cy) != 0)) + 1
        starts = np.concatenate([[0], breaks])
        ends = np.concatenate([breaks, [seg.shape[0]]])
        grid = {(int(cx[a]), int(cy[a])): seg[a:b] for a, b in zip(starts, ends)}
        self._packed_cells = {id(cell): self._packed[:, cell] for cell in grid.values()}
        return grid

    # -- batch queries and helpers ----------------------------------------------------------------
    def centerline_segments(self) -> tuple[FloatArray, FloatArray, IntArray]:
        """(starts [S, 2], vectors [S, 2], lane [S] as an index into ``lane_ids``) of every centreline
        segment, lanes in ``lanes`` order: built once with the map, so metrics need not rebuild them."""
        return self._seg_start, self._seg_vec, self._seg_lane

    def closest_lanes(
        self, points: FloatArray, headings: FloatArray | None = None
    ) -> tuple[IntArray, FloatArray, FloatArray]:
        """Vectorised ``closest_lane`` for points [N, 2]: (lane index into ``lane_ids``, station, lateral).

        With ``headings`` [N], lanes pointing more than 90 degrees away are skipped (unless all are)."""
        if self._seg_len.shape[0] == 0:
            raise ScenarioError(f"map {self._map_name!r} has no lanes; closest_lanes needs at least one lane")
        pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        n = pts.shape[0]
        lane_idx = np.empty(n, np.int64)
        stations = np.empty(n)
        laterals = np.empty(n)
        chunk = max(1, 200_000 // self._seg_len.shape[0])
        for lo in range(0, n, chunk):
            p = pts[lo : lo + chunk]
            dx = p[:, 0:1] - self._seg_x0
            dy = p[:, 1:2] - self._seg_y0
            t = np.clip((dx * self._seg_vx + dy * self._seg_vy) * self._seg_inv_len2, 0.0, 1.0)
            ex = dx - t * self._seg_vx
            ey = dy - t * self._seg_vy
            d2 = ex * ex + ey * ey
            if headings is not None:
                h = np.asarray(headings, dtype=np.float64).reshape(-1)[lo : lo + chunk]
                wrong = np.cos(h[:, None] - self._seg_heading) < 0.0
                wrong[wrong.all(axis=1)] = False
                d2 = np.where(wrong, np.inf, d2)
            k = np.argmin(d2, axis=1)
            rows = np.arange(p.shape[0])
            dist = np.hypot(ex[rows, k], ey[rows, k])
            cross = self._seg_vx[k] * dy[rows, k] - self._seg_vy[k] * dx[rows, k]
            lane_idx[lo : lo + chunk] = self._seg_lane[k]
            stations[lo : lo + chunk] = self._seg_station0[k] + t[rows, k] * self._seg_len[k]
            laterals[lo : lo + chunk] = np.where(cross >= 0.0, dist, -dist)
        return lane_idx, stations, laterals

    def route_centerline(self, lane_ids: Sequence[str]) -> FloatArray:
        """One polyline [M, 2] through the centrelines of ``lane_ids`` in order.

        Consecutive lanes that do not touch (a lane change in the route) are joined by a straight
        link that cuts up to 15 m off each side, so a path follower sees no sideways step."""
        parts: list[FloatArray] = []
        for lane_id in lane_ids:
            line = self.get_lane(lane_id).centerline
            if parts and np.hypot(*(line[0] - parts[-1][-1])) > _JOIN_TOLERANCE_M:
                prev = parts[-1]
                cut_prev = min(15.0, 0.4 * float(polyline.cumulative_stations(prev)[-1]))
                cut_next = min(15.0, 0.4 * float(polyline.cumulative_stations(line)[-1]))
                parts[-1] = _trim_end(prev, cut_prev)
                line = _trim_start(line, cut_next)
            parts.append(line)
        if not parts:
            raise ScenarioError("route_centerline needs at least one lane id")
        return polyline.concatenate(parts)

    # -- plain-type conversion and pickling -------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain types and numpy arrays only (for msgpack logs); the inverse of ``from_dict``."""
        import shapely

        return {
            "map_name": self._map_name,
            "lanes": [_lane_to_dict(lane) for lane in self._lanes.values()],
            "drivable_area_wkb": shapely.to_wkb(self._drivable_area) if self._custom_drivable_area else None,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ArrayMap:
        try:
            lanes = [_lane_from_dict(item) for item in d["lanes"]]
            wkb = d.get("drivable_area_wkb")
            name = str(d["map_name"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ScenarioError(f"not a serialised ArrayMap ({exc!r}); pass the output of ArrayMap.to_dict()") from exc
        drivable = None
        if wkb is not None:
            import shapely

            drivable = shapely.from_wkb(wkb)
        return cls(name, lanes, drivable)

    def __getstate__(self) -> dict[str, Any]:
        return {
            "map_name": self._map_name,
            "lanes": tuple(self._lanes.values()),
            "drivable_area": self._drivable_area,
            "custom": self._custom_drivable_area,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._map_name = state["map_name"]
        self._lanes = {lane.id: lane for lane in state["lanes"]}
        self._drivable_area = state["drivable_area"]
        self._custom_drivable_area = state["custom"]
        self._polygons = {}
        self._build_index()

    def __repr__(self) -> str:
        return f"ArrayMap({self._map_name!r}, {len(self._lanes)} lanes)"


def _check_lane(map_name: str, lane: Lane) -> None:
    for name in ("centerline", "left_boundary", "right_boundary"):
        arr = getattr(lane, name)
        if not isinstance(arr, np.ndarray) or arr.ndim != 2 or arr.shape[1] != 2 or arr.shape[0] < 2:
            shape = getattr(arr, "shape", type(arr).__name__)
            raise ScenarioError(
                f"lane {lane.id!r} of map {map_name!r}: {name} must be a float array [M >= 2, 2], got {shape}"
            )
    if lane.stop_line is not None and np.asarray(lane.stop_line).shape != (2, 2):
        raise ScenarioError(f"lane {lane.id!r} of map {map_name!r}: stop_line must be a [2, 2] segment")


def _trim_end(line: FloatArray, length: float) -> FloatArray:
    cum = polyline.cumulative_stations(line)
    keep_to = cum[-1] - length
    kept = line[cum < keep_to]
    return np.concatenate([kept, polyline.points_at_stations(line, keep_to)], axis=0) if kept.size else line[:1]


def _trim_start(line: FloatArray, length: float) -> FloatArray:
    cum = polyline.cumulative_stations(line)
    kept = line[cum > length]
    return np.concatenate([polyline.points_at_stations(line, length), kept], axis=0) if kept.size else line[-1:]


def _lane_to_dict(lane: Lane) -> dict[str, Any]:
    return {
        "id": lane.id,
        "centerline": np.asarray(lane.centerline, dtype=np.float64),
        "left_boundary": np.asarray(lane.left_boundary, dtype=np.float64),
        "right_boundary": np.asarray(lane.right_boundary, dtype=np.float64),
        "speed_limit_mps": float(lane.speed_limit_mps),
        "successors": list(lane.successors),
        "predecessors": list(lane.predecessors),
        "traffic_light_id": lane.traffic_light_id,
        "stop_line": None if lane.stop_line is None else np.asarray(lane.stop_line, dtype=np.float64),
    }


def _lane_from_dict(d: Mapping[str, Any]) -> Lane:
    stop = d.get("stop_line")
    return Lane(
        id=str(d["id"]),
        centerline=np.asarray(d["centerline"], dtype=np.float64),
        left_boundary=np.asarray(d["left_boundary"], dtype=np.float64),
        right_boundary=np.asarray(d["right_boundary"], dtype=np.float64),
        speed_limit_mps=float(d["speed_limit_mps"]),
        successors=tuple(str(s) for s in d.get("successors", ())),
        predecessors=tuple(str(s) for s in d.get("predecessors", ())),
        traffic_light_id=None if d.get("traffic_light_id") is None else str(d["traffic_light_id"]),
        stop_line=None if stop is None else np.asarray(stop, dtype=np.float64),
    )
