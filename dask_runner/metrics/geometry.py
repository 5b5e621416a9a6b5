"""Vectorised geometry the metrics share: oriented boxes, polyline projection, smoothed derivatives.

Everything works on whole arrays (all steps, all agents) so one scenario's metrics cost a handful
of numpy/shapely calls rather than a Python loop per step.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt
import shapely

from dask_runner.scenarios.state import FloatArray


def box_corners(poses: FloatArray, lengths: FloatArray, widths: FloatArray) -> FloatArray:
    """Corners [N, 4, 2] (front-left, rear-left, rear-right, front-right) of boxes centred at ``poses`` [N, 3]."""
    cos, sin = np.cos(poses[:, 2]), np.sin(poses[:, 2])
    half_l, half_w = lengths / 2.0, widths / 2.0
    # Local offsets of the four corners, as (along, across) multiples of the half sizes.
    along = np.array([1.0, -1.0, -1.0, 1.0])
    across = np.array([1.0, 1.0, -1.0, -1.0])
    dx = along[None, :] * half_l[:, None]
    dy = across[None, :] * half_w[:, None]
    x = poses[:, 0:1] + dx * cos[:, None] - dy * sin[:, None]
    y = poses[:, 1:2] + dx * sin[:, None] + dy * cos[:, None]
    return np.stack([x, y], axis=-1)


def box_polygons(corners: FloatArray) -> npt.NDArray[np.object_]:
    """Shapely polygons [N] from corners [N, 4, 2] (one vectorised call)."""
    if corners.shape[0] == 0:
        return np.empty(0, dtype=object)
    return shapely.polygons(corners)


_CELL_M = 10.0  # grid cell of Segments.nearest
_REACH_M = 5.0  # a cell's candidates are every segment that comes within this distance of it
_BRUTE_FORCE_PAIRS = 4096  # below this many (point, segment) pairs, compare them all: no grid


@dataclass(frozen=True)
class Segments:
    """Line segments as flat arrays, for exact nearest-segment queries of many points.

    No spatial tree and no map-wide grid: a query puts its points in the cells of a uniform grid and
    takes as candidates of each cell the segments whose box, grown by ``_REACH_M``, covers it (one
    vectorised test of the query's few cells against all segments), then one vectorised distance over
    the (point, candidate) pairs. Only the cells the query touches are ever listed, so nothing is built
    per map: a scenario's metrics query each map once. A nearest hit within the reach is exact, since
    every segment that close is a candidate; points with none that close are checked against all
    segments, and so are all points of a query with few (point, segment) pairs. Ties go to the segment
    of lowest index, so the answer is deterministic.
    """

    starts: FloatArray  # [S, 2]
    vectors: FloatArray  # [S, 2] (non-zero)
    inverse_length2: FloatArray  # [S]
    cell_lo: npt.NDArray[np.int64]  # [S, 2] lowest cell (x, y) the segment's grown box touches
    cell_hi: npt.NDArray[np.int64]  # [S, 2] highest cell

    @classmethod
    def from_starts_and_vectors(cls, starts: FloatArray, vectors: FloatArray) -> Segments:
        ends = starts + vectors
        lo = np.floor((np.minimum(starts, ends) - _REACH_M) / _CELL_M).astype(np.int64)
        hi = np.floor((np.maximum(starts, ends) + _REACH_M) / _CELL_M).astype(np.int64)
        return cls(starts, vectors, 1.0 / np.einsum("ij,ij->i", vectors, vectors), lo, hi)

    def __len__(self) -> int:
        return int(self.starts.shape[0])

    def nearest(self, points: FloatArray) -> npt.NDArray[np.int64]:
        """Index [N] of the segment nearest to each of ``points`` [N, 2] (-1 when there are no segments)."""
        n, count = points.shape[0], len(self)
        if count == 0 or n == 0:
            return np.full(n, -1, dtype=np.int64)
        if n * count <= _BRUTE_FORCE_PAIRS:
            # argmin takes the first of equal distances: the lowest index, as the grid does.
            return np.argmin(self._distance2(points[:, None, :], np.arange(count)[None, :]), axis=1)
        out = np.full(n, -1, dtype=np.int64)
        cells = np.floor(points / _CELL_M).astype(np.int64)
        _, first, inverse = np.unique(_cell_key(cells[:, 0], cells[:, 1]), return_index=True, return_inverse=True)
        cx, cy = cells[first, 0:1], cells[first, 1:2]  # [U, 1]: the query's cells
        lo, hi = self.cell_lo, self.cell_hi
        covers = (lo[:, 0] <= cx) & (hi[:, 0] >= cx) & (lo[:, 1] <= cy) & (hi[:, 1] >= cy)  # [U, S]
        cell_counts = np.count_nonzero(covers, axis=1)
        candidates = np.nonzero(covers)[1]  # by cell, segments ascending within a cell
        counts = cell_counts[inverse]
        begin = (np.cumsum(cell_counts) - cell_counts)[inverse]
        total = int(counts.sum())
        far = counts == 0
        if total:
            group_start = np.cumsum(counts) - counts
            pair_point = np.repeat(np.arange(n), counts)
            pair_segment = candidates[np.repeat(begin - group_start, counts) + np.arange(total)]
            d2 = self._distance2(points[pair_point], pair_segment)
            has = ~far
            minimum = np.full(n, np.inf)
            minimum[has] = np.minimum.reduceat(d2, group_start[has])
            # The first pair at its point's minimum: segments ascend within a cell, so the lowest index.
            at_min = np.flatnonzero(d2 == minimum[pair_point])
            first_pair = np.concatenate([[True], pair_point[at_min[1:]] != pair_point[at_min[:-1]]])
            out[pair_point[at_min[first_pair]]] = pair_segment[at_min[first_pair]]
            far |= minimum > _REACH_M * _REACH_M
        rows = np.flatnonzero(far)
        if rows.size:
            every = np.arange(count)
            d2_all = self._distance2(points[rows][:, None, :], every[None, :])
            out[rows] = np.argmin(d2_all, axis=1)  # the first of equal distances: the lowest index
        return out

    def _distance2(self, points: FloatArray, segments: npt.NDArray[np.int64]) -> FloatArray:
        """Squared distance from ``points`` [..., 2] to ``segments`` [...] (broadcast together)."""
        start, vector = self.starts[segments], self.vectors[segments]
        dx = points[..., 0] - start[..., 0]
        dy = points[..., 1] - start[..., 1]
        vx, vy = vector[..., 0], vector[..., 1]
        t = (dx * vx + dy * vy) * self.inverse_length2[segments]
        np.clip(t, 0.0, 1.0, out=t)
        dx -= t * vx
        dy -= t * vy
        return dx * dx + dy * dy


def _cell_key(cx: npt.NDArray[np.int64], cy: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """One int64 per grid cell (cells within +-2^30 of the origin: +-10^10 m)."""
    return (cx + (1 << 30)) * (1 << 31) + (cy + (1 << 30))


@dataclass(frozen=True)
class Polyline:
    """A polyline's segments, to find the station of many points along it at once."""

    starts: FloatArray  # [S, 2]
    vectors: FloatArray  # [S, 2]
    lengths: FloatArray  # [S]
    stations: FloatArray  # [S] station of each segment's start
    segments: Segments

    @classmethod
    def from_points(cls, points: FloatArray) -> Polyline:
        """ValueError when fewer than two distinct points remain."""
        pts = np.asarray(points, dtype=np.float64)
        keep = np.concatenate([[True], np.hypot(*np.diff(pts, axis=0).T) > 1e-9])
        pts = pts[keep]
        if pts.shape[0] < 2:
            raise ValueError("a polyline needs two distinct points")
        vectors = np.diff(pts, axis=0)
        lengths = np.hypot(vectors[:, 0], vectors[:, 1])
        stations = np.concatenate([[0.0], np.cumsum(lengths)[:-1]])
        starts = pts[:-1]
        return cls(starts, vectors, lengths, stations, Segments.from_starts_and_vectors(starts, vectors))

    def stations_of(self, points: FloatArray) -> FloatArray:
        """Arc length [N] of the point of the polyline closest to each of ``points`` [N, 2]."""
        if points.shape[0] == 0:
            return np.zeros(0)
        seg = self.segments.nearest(points)
        rel = points - self.starts[seg]
        t = np.einsum("nk,nk->n", rel, self.vectors[seg]) / self.lengths[seg] ** 2
        return self.stations[seg] + np.clip(t, 0.0, 1.0) * self.lengths[seg]


@lru_cache(maxsize=64)
def _savgol_coefficients(window: int, polyorder: int, deriv: int) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(interior coefficients [W], first-edge matrix [W//2, W], last-edge matrix [W//2, W]) of scipy's filter.

    Each row maps a window of samples to the ``deriv``-th derivative of their least-squares polynomial at
    one position: the interior at the window's centre (odd) or half a sample after it (even, as scipy),
    the edges at the first/last positions of the first/last window (scipy's ``mode="interp"``).
    """
    half = window // 2
    centre = (window - 1) / 2.0
    x = np.arange(window, dtype=np.float64) - centre  # centred: a better conditioned fit
    pinv = np.linalg.pinv(np.vander(x, polyorder + 1, increasing=True))  # [P+1, W]: values -> poly coeffs
    powers = np.arange(polyorder + 1)
    # d^k/dx^k x^p = p!/(p-k)! x^(p-k): evaluate at each position.
    falling = np.array([float(np.prod(np.arange(p - deriv + 1, p + 1))) if p >= deriv else 0.0 for p in powers])
    exponents = np.clip(powers - deriv, 0, None)

    def at(positions: FloatArray) -> FloatArray:
        local = positions - centre
        return (falling[None, :] * local[:, None] ** exponents[None, :]) @ pinv  # [N, W]

    interior = at(np.array([half - 0.5 * (1 - window % 2)]))[0]
    first = at(np.arange(half, dtype=np.float64))
    last = at(np.arange(window - half, window, dtype=np.float64))
    return interior, first, last


def savgol_filter(values: FloatArray, window: int, polyorder: int, deriv: int = 0, delta: float = 1.0) -> FloatArray:
    """scipy's ``savgol_filter(values, window, polyorder, deriv, delta)`` (``mode="interp"``), odd or even window.

    nuPlan smooths its comfort signals with scipy's filter, some with an even window (8), so the same
    numbers need the same rules: an even window's interior output at sample ``i`` is the polynomial fitted
    to samples ``i-W/2+1 .. i+W/2`` evaluated half a sample after ``i``; the first and last ``W//2``
    outputs come from the polynomials fitted to the first and last windows. ``values`` [..., T] with
    ``polyorder < window <= T``; series stacked on leading axes are filtered in one call.
    """
    n = values.shape[-1]
    if not polyorder < window <= n:
        raise ValueError(f"savgol_filter needs polyorder < window <= len(values), got {polyorder}, {window}, {n}")
    half = window // 2
    even = 1 - window % 2
    interior_coefficients, first, last = _savgol_coefficients(window, polyorder, deriv)
    out = np.empty(values.shape, dtype=np.float64)
    interior = n - 2 * half
    if interior > 0:
        windows = np.lib.stride_tricks.sliding_window_view(values, window, axis=-1)[..., even : even + interior, :]
        out[..., half : n - half] = windows @ interior_coefficients
    out[..., :half] = values[..., :window] @ first.T
    out[..., n - half :] = values[..., n - window :] @ last.T
    result: FloatArray = out / delta**deriv
    return result


def wrap_angle(angle: FloatArray) -> FloatArray:
    """Angles into [-pi, pi)."""
    return (angle + np.pi) % (2.0 * np.pi) - np.pi
