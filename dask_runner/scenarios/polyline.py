"""Vectorised helpers on 2-D polylines (lane centrelines, routes, paths).

Planners, metrics, the map and the scenario generator all measure positions along centrelines;
keeping the geometry in one place means they all agree on what "station" and "lateral" mean.
Stations are arc length from the first vertex in metres; lateral offsets are positive to the left.
Headings are interpolated between vertex tangents so that they are continuous along the line.
"""

from __future__ import annotations

import numpy as np

from dask_runner.scenarios.state import FloatArray

# Projection works on [points, segments] matrices; bound their size so memory stays small.
_MAX_PAIRS = 200_000


def wrap_angle(angle: FloatArray | float) -> FloatArray:
    """Angles mapped into [-pi, pi)."""
    return np.asarray((np.asarray(angle) + np.pi) % (2.0 * np.pi) - np.pi, dtype=np.float64)


def segment_lengths(polyline: FloatArray) -> FloatArray:
    """Length of each of the M-1 segments of a polyline [M, 2]."""
    d = polyline[1:] - polyline[:-1]  # np.diff(polyline, axis=0), without its wrapper
    return np.asarray(np.hypot(d[:, 0], d[:, 1]), dtype=np.float64)


def cumulative_stations(polyline: FloatArray) -> FloatArray:
    """Station of each vertex [M], starting at 0."""
    out = np.zeros(polyline.shape[0])
    np.cumsum(segment_lengths(polyline), out=out[1:])
    return out


def vertex_headings(polyline: FloatArray) -> FloatArray:
    """Unwrapped tangent heading at each vertex [M] (central differences, one-sided at the ends)."""
    tangent = np.empty_like(polyline, dtype=np.float64)
    tangent[1:-1] = polyline[2:] - polyline[:-2]
    tangent[0] = polyline[1] - polyline[0]
    tangent[-1] = polyline[-1] - polyline[-2]
    return np.unwrap(np.arctan2(tangent[:, 1], tangent[:, 0]))


def remove_duplicate_vertices(polyline: FloatArray, tolerance: float = 1e-6) -> FloatArray:
    """The polyline without consecutive vertices closer than ``tolerance`` (zero-length segments)."""
    if polyline.shape[0] < 2:
        return polyline
    keep = np.ones(polyline.shape[0], dtype=bool)
    keep[1:] = segment_lengths(polyline) > tolerance
    return np.ascontiguousarray(polyline[keep], dtype=np.float64)


def concatenate(polylines: list[FloatArray]) -> FloatArray:
    """Polylines joined end to start, dropping the repeated joint vertices."""
    return remove_duplicate_vertices(np.concatenate(polylines, axis=0))


def points_at_stations(polyline: FloatArray, stations: FloatArray | float) -> FloatArray:
    """Points [N, 2] at ``stations`` [N] along the polyline (clamped to its ends)."""
    cum = cumulative_stations(polyline)
    s = np.atleast_1d(np.asarray(stations, dtype=np.float64))
    return np.stack([np.interp(s, cum, polyline[:, 0]), np.interp(s, cum, polyline[:, 1])], axis=-1)


def headings_at_stations(polyline: FloatArray, stations: FloatArray | float) -> FloatArray:
    """Headings [N] at ``stations`` [N], wrapped to [-pi, pi); continuous along the line."""
    cum = cumulative_stations(polyline)
    s = np.atleast_1d(np.asarray(stations, dtype=np.float64))
    return wrap_angle(np.interp(s, cum, vertex_headings(polyline)))


def curvatures(polyline: FloatArray) -> FloatArray:
    """Signed curvature at each vertex [M] (1/m, left turns positive), from the heading profile."""
    cum = cumulative_stations(polyline)
    heading = vertex_headings(polyline)
    if polyline.shape[0] < 3:
        return np.zeros(polyline.shape[0])
    return np.asarray(np.gradient(heading, cum), dtype=np.float64)


def offset_polyline(polyline: FloatArray, offset: float) -> FloatArray:
    """The polyline shifted sideways by ``offset`` metres along its vertex normals (left positive)."""
    heading = vertex_headings(polyline)
    normal = np.stack([-np.sin(heading), np.cos(heading)], axis=-1)
    return np.asarray(polyline + offset * normal, dtype=np.float64)


def resample(polyline: FloatArray, spacing: float) -> FloatArray:
    """The polyline with vertices every ``spacing`` metres (the last vertex kept exactly)."""
    cum = cumulative_stations(polyline)
    n = max(int(np.ceil(cum[-1] / spacing)), 1)
    return points_at_stations(polyline, np.linspace(0.0, cum[-1], n + 1))


def project_points(polyline: FloatArray, points: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Station [N] and signed lateral offset [N] of ``points`` [N, 2] on the closest segment.

    Points beyond the ends project onto the end segments (station clamped to [0, length])."""
    pts = np.atleast_2d(np.asarray(points, dtype=np.float64))
    start = polyline[:-1]
    vec = np.diff(polyline, axis=0)
    len2 = np.einsum("ij,ij->i", vec, vec)
    inv_len2 = np.divide(1.0, len2, out=np.zeros_like(len2), where=len2 > 0.0)
    cum = cumulative_stations(polyline)
    seg_len = np.sqrt(len2)
    n_points = pts.shape[0]
    stations = np.empty(n_points)
    laterals = np.empty(n_points)
    chunk = max(1, _MAX_PAIRS // max(1, start.shape[0]))
    for lo in range(0, n_points, chunk):
        p = pts[lo : lo + chunk]
        dx = p[:, None, 0] - start[None, :, 0]
        dy = p[:, None, 1] - start[None, :, 1]
        t = np.clip((dx * vec[None, :, 0] + dy * vec[None, :, 1]) * inv_len2[None, :], 0.0, 1.0)
        ex = dx - t * vec[None, :, 0]
        ey = dy - t * vec[None, :, 1]
        best = np.argmin(ex * ex + ey * ey, axis=1)
        rows = np.arange(p.shape[0])
        tb = t[rows, best]
        stations[lo : lo + chunk] = cum[best] + tb * seg_len[best]
        dist = np.hypot(ex[rows, best], ey[rows, best])
        cross = vec[best, 0] * dy[rows, best] - vec[best, 1] * dx[rows, best]
        laterals[lo : lo + chunk] = np.where(cross >= 0.0, dist, -dist)
    return stations, laterals
