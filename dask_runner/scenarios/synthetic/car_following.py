"""The car-following simulation that drives every vehicle of a scene, the expert ego included.

One vectorised IDM (jerk limits, each path's allowed speed, stops at red and yellow lights) for all
vehicles at once, so the expert and the agents react to each other and the log replay is a consistent
drive; it is the hot loop of generation, which is why it works over arrays rather than per vehicle.
"""

from __future__ import annotations

import numpy as np

from dask_runner.scenarios.state import FloatArray, TrafficLightStatus
from dask_runner.scenarios.synthetic.constants import _EGO, DT, NUM_ITERATIONS
from dask_runner.scenarios.synthetic.scene import _Scene

_IDM_B = 2.0
_IDM_S0 = 2.0
_JERK_UP = 2.5
_JERK_DOWN = 3.5
_MAX_DECEL = 6.0
_SUBSTEPS = 2  # database intervals per step of the car-following model
_RED = int(TrafficLightStatus.RED)
_YELLOW = int(TrafficLightStatus.YELLOW)


def _simulate(scene: _Scene) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Stations, speeds and accelerations [T, N] of every vehicle along its path (vehicle 0 is the ego)."""
    lane_index = {lane_id: g for g, lane_id in enumerate(scene.lanes)}
    n = len(scene.path_of)
    paths = scene.paths
    path_of = np.asarray(scene.path_of)
    k_max = max(len(p.lane_ids) for p in paths)
    starts = np.full((n, k_max), np.inf)
    lanes_mat = np.zeros((n, k_max), np.int64)
    offsets = np.full((n, len(lane_index)), np.nan)
    for i, p in enumerate(path_of):
        path = paths[p]
        idx = [lane_index[lane_id] for lane_id in path.lane_ids]
        starts[i, : len(idx)] = path.lane_starts
        lanes_mat[i, : len(idx)] = idx
        offsets[i, idx] = path.lane_starts
    s_max = max(p.v_allow.shape[0] for p in paths)
    v_allow = np.stack([np.pad(p.v_allow, (0, s_max - p.v_allow.shape[0]), mode="edge") for p in paths])[path_of]
    path_len = np.array([paths[p].length for p in path_of])
    stop_station = np.array([paths[p].stop_station for p in path_of])
    lights = np.concatenate([scene.lights, np.zeros((NUM_ITERATIONS, 1), np.int8)], axis=1)
    light_col = np.array([paths[p].light for p in path_of])
    length = np.asarray(scene.length)
    front = length / 2.0
    rear = length / 2.0
    front[0] = _EGO.front_length
    rear[0] = _EGO.rear_length
    v_pref = np.asarray(scene.v_pref)
    a_max = np.asarray(scene.a_max)
    headway = np.asarray(scene.headway)
    sqrt_ab = 2.0 * np.sqrt(a_max * _IDM_B)
    rows = np.arange(n)
    # Only vehicles whose paths share a lane can ever follow one another. For a pair (i follows j),
    # j's station on i's path is s_j + delta[pair, k_j] while j is on its lane k_j (NaN: not on i's path).
    on_path = ~np.isnan(offsets)
    share = (on_path.astype(np.float64) @ on_path.T.astype(np.float64)) > 0.0
    np.fill_diagonal(share, False)
    pair_i, pair_j = np.nonzero(share)
    n_pairs = pair_i.size
    delta = (offsets[pair_i[:, None], lanes_mat[pair_j]] - starts[pair_j]).ravel()
    pair_row = np.arange(n_pairs) * k_max
    reach = rear[pair_j] + front[pair_i]  # centre-to-centre distance of bumper contact
    end_j = path_len[pair_j]
    flat = pair_i * n + pair_j
    gap_full = np.full((n, n), np.inf)
    gap_flat = gap_full.reshape(-1)
    scripted = np.zeros(n, dtype=bool)
    scripted_v = np.zeros((NUM_ITERATIONS, n))
    for i, profile in scene.scripted.items():
        scripted[i] = True
        scripted_v[:, i] = profile
    any_scripted = bool(scripted.any())
    has_stop = np.isfinite(stop_station)
    any_stop = bool(has_stop.any())
    light_state = lights[:, light_col]  # [T, N]
    v_allow_flat = v_allow.reshape(-1)
    v_allow_row = rows * s_max
    no_gap = np.full(n, np.inf)
    no_lead = np.zeros(n)

    # The model steps _SUBSTEPS database intervals at a time (half the work); the samples in between
    # follow each step's constant acceleration exactly, with the acceleration interpolated so that
    # the jerk at 10 Hz stays within the limits. Scripted vehicles follow their speed profiles.
    n_steps = (NUM_ITERATIONS - 1) // _SUBSTEPS
    h = DT * _SUBSTEPS
    jerk_down, jerk_up = -_JERK_DOWN * h, _JERK_UP * h
    s = np.asarray(scene.s0, dtype=np.float64).copy()
    v = np.asarray(scene.v0, dtype=np.float64).copy()
    a = np.zeros(n)
    scripted_s = np.zeros((NUM_ITERATIONS, n))
    scripted_a = np.zeros((NUM_ITERATIONS, n))
    if any_scripted:
        sv = scripted_v[:, scripted]
        sv[0] = v[scripted]
        scripted_s[:, scripted] = s[scripted] + np.concatenate(
            [np.zeros((1, sv.shape[1])), np.cumsum(0.5 * (sv[1:] + sv[:-1]) * DT, axis=0)]
        )
        scripted_a[1:, scripted] = np.diff(sv, axis=0) / DT
        scripted_v[0, scripted] = v[scripted]
    start_s = np.empty((n_steps, n))
    start_v = np.empty((n_steps, n))
    start_a = np.empty((n_steps, n))
    step_a = np.empty((n_steps, n))
    with np.errstate(invalid="ignore"):
        for m in range(n_steps):
            step = m * _SUBSTEPS
            g_min, v_lead = no_gap, no_lead
            if n_pairs:
                k = np.maximum((s[:, None] >= starts).sum(axis=1) - 1, 0)
                s_j = s[pair_j]
                rel = s_j + delta[pair_row + k[pair_j]] - s[pair_i]  # station of j ahead of i, on i's path
                gap_full.fill(np.inf)
                gap_flat[flat] = np.where((rel > 0.0) & (s_j < end_j), rel - reach, np.inf)
                lead = gap_full.argmin(axis=1)
                g_min = gap_full[rows, lead]
                v_lead = v[lead]
            if any_stop:
                d_stop = stop_station - s - front
                state = light_state[step]
                must_stop = (d_stop > 0.0) & (
                    (state == _RED) | ((state == _YELLOW) & (v * v <= 6.0 * np.maximum(d_stop, 0.01)))
                )
                use_stop = must_stop & (d_stop < g_min)
                g_min = np.where(use_stop, d_stop, g_min)
                v_lead = np.where(use_stop, 0.0, v_lead)
            cell = np.minimum(np.maximum(s, 0.0).astype(np.int64), s_max - 1)
            v_des = np.minimum(v_pref, v_allow_flat[v_allow_row + cell])
            s_star = _IDM_S0 + np.maximum(0.0, v * headway + v * (v - v_lead) / sqrt_ab)
            ratio = v / np.maximum(v_des, 0.1)
            ratio *= ratio
            interaction = s_star / np.maximum(g_min, 0.05)
            a_cmd = np.maximum(a_max * (1.0 - ratio * ratio - interaction * interaction), -_MAX_DECEL)
            a_new = a + np.minimum(np.maximum(np.minimum(a_cmd, a_max) - a, jerk_down), jerk_up)
            start_s[m], start_v[m], start_a[m], step_a[m] = s, v, a, a_new
            v_new = v + a_new * h
            s = s + (v + 0.5 * a_new * h) * h
            stopped = v_new <= 0.0
            if stopped.any():
                s[stopped] = start_s[m, stopped] + v[stopped] ** 2 / np.maximum(-2.0 * a_new[stopped], 1e-9)
                v_new[stopped] = 0.0
                a_new = np.where(stopped, 0.0, a_new)
            if any_scripted:
                row = step + _SUBSTEPS
                s[scripted] = scripted_s[row, scripted]
                v_new[scripted] = scripted_v[row, scripted]
                a_new[scripted] = scripted_a[row, scripted]
            v, a = v_new, a_new
    # Every database interval from the steps, in one vectorised pass.
    s_out = np.empty((NUM_ITERATIONS, n))
    v_out = np.empty((NUM_ITERATIONS, n))
    a_out = np.empty((NUM_ITERATIONS, n))
    s_out[0], v_out[0], a_out[0] = start_s[0], start_v[0], start_a[0]
    stop_s = start_v**2 / np.maximum(-2.0 * step_a, 1e-9)
    for sub in range(1, _SUBSTEPS + 1):
        tau = sub * DT
        v_sub = start_v + step_a * tau
        s_sub = start_s + (start_v + 0.5 * step_a * tau) * tau
        stopped = v_sub <= 0.0
        s_out[sub::_SUBSTEPS] = np.where(stopped, start_s + stop_s, s_sub)
        v_out[sub::_SUBSTEPS] = np.where(stopped, 0.0, v_sub)
        a_out[sub::_SUBSTEPS] = np.where(stopped, 0.0, start_a + (step_a - start_a) * (sub / _SUBSTEPS))
    if any_scripted:
        s_out[:, scripted] = scripted_s[:, scripted]
        v_out[:, scripted] = scripted_v[:, scripted]
        a_out[:, scripted] = scripted_a[:, scripted]
    return s_out, v_out, a_out
