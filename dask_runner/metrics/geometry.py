"""Vectorised geometry the metrics share: oriented boxes, polyline projection, smoothed derivatives.

Everything works on whole arrays (all steps, all agents) so one scenario's metrics cost a handful
of numpy/shapely calls rather than a Python loop per step.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

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


@dataclass(frozen=True)
class Polyline:
    """A polyline's segments in an STRtree, to find the station of many points along it at once."""

    starts: FloatArray  # [S, 2]
    vectors: FloatArray  # [S, 2]
    lengths: FloatArray  # [S]
    stations: FloatArray  # [S] station of each segment's start
    tree: Any  # shapely.STRtree of the segments

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
        tree = shapely.STRtree(shapely.linestrings(np.stack([pts[:-1], pts[1:]], axis=1)))
        return cls(pts[:-1], vectors, lengths, stations, tree)

    def stations_of(self, points: FloatArray) -> FloatArray:
        """Arc length [N] of the point of the polyline closest to each of ``points`` [N, 2]."""
        if points.shape[0] == 0:
            return np.zeros(0)
        idx = self.tree.query_nearest(shapely.points(points), return_distance=False, all_matches=False)
        seg = np.zeros(points.shape[0], dtype=np.int64)
        seg[idx[0]] = idx[1]
        rel = points - self.starts[seg]
        t = np.einsum("nk,nk->n", rel, self.vectors[seg]) / self.lengths[seg] ** 2
        return self.stations[seg] + np.clip(t, 0.0, 1.0) * self.lengths[seg]


@lru_cache(maxsize=64)
def _savgol_operators(window: int, polyorder: int, deriv: int) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(centre coefficients [W], left-edge matrix [W//2, W], right-edge matrix [W//2, W]).

    Each row maps a window of samples to the ``deriv``-th derivative, at one position, of the
    least-squares polynomial through them: the interior uses the centre position, the edges the
    first/last positions of the first/last window (scipy's ``mode="interp"``).
    """
    half = window // 2
    x = np.arange(window, dtype=np.float64) - half
    pinv = np.linalg.pinv(np.vander(x, polyorder + 1, increasing=True))  # [P+1, W]: values -> poly coeffs
    powers = np.arange(polyorder + 1)
    # d^k/dx^k x^p = p!/(p-k)! x^(p-k): evaluate at each position.
    falling = np.array([float(np.prod(np.arange(p - deriv + 1, p + 1))) if p >= deriv else 0.0 for p in powers])
    exponents = np.clip(powers - deriv, 0, None)

    def at(positions: FloatArray) -> FloatArray:
        basis = falling[None, :] * positions[:, None] ** exponents[None, :]  # [N, P+1]
        return basis @ pinv

    centre = at(np.zeros(1))[0]
    left = at(x[:half])
    right = at(x[window - half :])
    return centre, left, right


def savgol_derivative(
    values: FloatArray, dt: float, window: int = 15, polyorder: int = 2, deriv: int = 1
) -> FloatArray:
    """Savitzky-Golay smoothed derivative of ``values`` [..., T] sampled every ``dt`` seconds.

    nuPlan filters its comfort signals this way so single-step noise does not fail a planner. The
    window shrinks to the longest odd length the series allows; edges use the polynomial fitted to
    the first/last window, as scipy's ``mode="interp"``. Several series can be stacked on the
    leading axes and are filtered in one call.
    """
    n = values.shape[-1]
    if n < 3:
        return np.zeros_like(values) if deriv > 0 else values.copy()
    window = min(window, n if n % 2 else n - 1)
    polyorder = min(polyorder, window - 1)
    if deriv > polyorder:
        return np.zeros_like(values)
    half = window // 2
    centre, left, right = _savgol_operators(window, polyorder, deriv)
    windows = np.lib.stride_tricks.sliding_window_view(values, window, axis=-1)  # [..., T-W+1, W]
    out = np.empty(values.shape, dtype=np.float64)
    out[..., half : n - half] = windows @ centre
    out[..., :half] = values[..., :window] @ left.T
    out[..., n - half :] = values[..., n - window :] @ right.T
    return out / dt**deriv


def wrap_angle(angle: FloatArray) -> FloatArray:
    """Angles into [-pi, pi)."""
    return (angle + np.pi) % (2.0 * np.pi) - np.pi
