"""Which simulated agents to drop: those that still come too close to the ego or to each other.

The car-following model only keeps apart vehicles whose paths share a lane, and the ego's lane-change
offset is added after it; dropping the agents that still overlap (or would within 1.5 s) is what makes
the expert's log replay a collision-free drive.
"""

from __future__ import annotations

import numpy as np

from dask_runner.scenarios.state import FloatArray
from dask_runner.scenarios.synthetic.constants import _EGO


def _boxes_overlap(a: FloatArray, size_a: FloatArray, b: FloatArray, size_b: FloatArray) -> np.ndarray:
    """Separating-axis test for oriented boxes (centre x, y, heading; length, width), broadcasting."""
    dx = b[..., 0] - a[..., 0]
    dy = b[..., 1] - a[..., 1]
    ca, sa = np.cos(a[..., 2]), np.sin(a[..., 2])
    cb, sb = np.cos(b[..., 2]), np.sin(b[..., 2])
    c = np.abs(ca * cb + sa * sb)
    s = np.abs(sa * cb - ca * sb)
    la, wa = size_a[..., 0] / 2.0, size_a[..., 1] / 2.0
    lb, wb = size_b[..., 0] / 2.0, size_b[..., 1] / 2.0
    sep = (np.abs(dx * ca + dy * sa) > la + lb * c + wb * s)
    sep |= np.abs(-dx * sa + dy * ca) > wa + lb * s + wb * c
    sep |= np.abs(dx * cb + dy * sb) > lb + la * c + wa * s
    sep |= np.abs(-dx * sb + dy * cb) > wb + la * s + wa * c
    out: np.ndarray = ~sep & np.isfinite(dx)
    return out


def _unsafe_agents(ego_box: FloatArray, ego_v: FloatArray, poses: FloatArray, vel: FloatArray,
                   sizes: FloatArray) -> np.ndarray:
    """Agents [A] that overlap the ego (with a margin) or would within 1.5 s at constant velocity."""
    n_agents = poses.shape[1]
    if n_agents == 0:
        return np.zeros(0, dtype=bool)
    ego_size = np.array([_EGO.length + 1.0, _EGO.width + 0.4])
    bad = np.asarray(_boxes_overlap(ego_box[:, None, :], ego_size, poses, sizes).any(axis=0), dtype=bool)
    moving = ego_v > 0.3
    heading = ego_box[:, 2]
    ego_vel = np.stack([ego_v * np.cos(heading), ego_v * np.sin(heading)], axis=-1)
    for tau in (0.5, 1.0, 1.5):
        e = ego_box.copy()
        e[:, :2] += tau * ego_vel
        p = poses.copy()
        p[..., :2] += tau * vel
        hit = _boxes_overlap(e[:, None, :], np.array([_EGO.length, _EGO.width]), p, sizes) & moving[:, None]
        bad = np.asarray(bad | hit.any(axis=0), dtype=bool)
    return np.asarray(bad, dtype=bool)


def _colliding_agents(poses: FloatArray, sizes: FloatArray) -> np.ndarray:
    """Agents [A] to drop so that no two remaining agents' boxes ever overlap (the later one goes)."""
    n_agents = poses.shape[1]
    drop = np.zeros(n_agents, dtype=bool)
    if n_agents < 2:
        return drop
    reach = np.hypot(sizes[:, 0], sizes[:, 1]) / 2.0
    d = np.hypot(poses[:, :, None, 0] - poses[:, None, :, 0], poses[:, :, None, 1] - poses[:, None, :, 1])
    with np.errstate(invalid="ignore"):
        near = d < reach[:, None] + reach[None, :]
    near &= np.triu(np.ones((n_agents, n_agents), dtype=bool), 1)[None]
    t_idx, i_idx, j_idx = np.nonzero(near)
    if t_idx.size == 0:
        return drop
    hit = _boxes_overlap(poses[t_idx, i_idx], sizes[i_idx], poses[t_idx, j_idx], sizes[j_idx])
    for i, j in sorted(set(zip(i_idx[hit].tolist(), j_idx[hit].tolist()))):
        if not drop[i] and not drop[j]:
            drop[j] = True
    return drop
