"""The scene a recipe fills in and the car-following solver drives: lane paths and the vehicles on them.

It is the one data structure between the recipes and the solver, so neither needs the other; a path
carries its allowed-speed profile (lane limit, curve speed, slowing ahead of slower stretches) because
that profile belongs to the geometry, not to any one vehicle.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from dask_runner.scenarios import polyline
from dask_runner.scenarios.abstract_map import Lane
from dask_runner.scenarios.state import FloatArray
from dask_runner.scenarios.synthetic.constants import _EGO, NUM_ITERATIONS

_A_LAT = 2.0  # lateral acceleration the curve-speed profile allows, m/s^2
_B_PLAN = 1.0  # deceleration used to anticipate slower stretches ahead, m/s^2


@dataclass
class _Path:
    """A lane sequence a vehicle drives along; stations are along ``line``."""

    lane_ids: list[str]
    line: FloatArray
    lane_starts: FloatArray
    length: float
    v_allow: FloatArray  # allowed speed every 1 m of station
    stop_station: float = np.inf
    light: int = -1
    stations: FloatArray = field(default_factory=lambda: np.zeros(0))  # of the vertices of ``line``
    headings: FloatArray = field(default_factory=lambda: np.zeros(0))  # unwrapped, at the vertices
    curvature: FloatArray = field(default_factory=lambda: np.zeros(0))  # at the vertices


@dataclass
class _Scene:
    map_kind: str
    lanes: dict[str, Lane]
    drivable: Callable[[FloatArray, FloatArray], object]  # (rotation, shift) -> area, after the transform
    paths: list[_Path] = field(default_factory=list)
    path_of: list[int] = field(default_factory=list)  # per vehicle; vehicle 0 is the ego
    s0: list[float] = field(default_factory=list)
    v0: list[float] = field(default_factory=list)
    v_pref: list[float] = field(default_factory=list)
    length: list[float] = field(default_factory=list)
    width: list[float] = field(default_factory=list)
    a_max: list[float] = field(default_factory=list)
    headway: list[float] = field(default_factory=list)
    scripted: dict[int, FloatArray] = field(default_factory=dict)  # vehicle -> speed profile [T]
    keep: set[int] = field(default_factory=set)  # agents that must not be dropped (the lead)
    lights: np.ndarray = field(default_factory=lambda: np.zeros((NUM_ITERATIONS, 0), np.int8))
    light_ids: tuple[str, ...] = ()
    ego_lateral: Callable[[FloatArray, FloatArray], FloatArray] | None = None  # (t, s) -> offset
    _path_cache: dict[tuple[tuple[str, ...], int, bool], int] = field(default_factory=dict)

    def add_path(self, lane_ids: list[str], light: int = -1, line: FloatArray | None = None) -> int:
        key = (tuple(lane_ids), light, line is None)
        if line is None and key in self._path_cache:
            return self._path_cache[key]
        self.paths.append(_make_path(self.lanes, lane_ids, light, line))
        self._path_cache[key] = len(self.paths) - 1
        return len(self.paths) - 1

    def add_vehicle(
        self, rng: np.random.Generator, path: int, s: float, v: float, v_pref: float, ego: bool = False
    ) -> int:
        self.path_of.append(path)
        self.s0.append(s)
        self.v0.append(v)
        self.v_pref.append(v_pref)
        if ego:
            self.length.append(_EGO.length)
            self.width.append(_EGO.width)
            self.a_max.append(1.5)
            self.headway.append(1.5)
        else:
            self.length.append(float(rng.uniform(4.3, 5.1)))
            self.width.append(float(rng.uniform(1.8, 2.0)))
            self.a_max.append(float(rng.uniform(1.3, 1.8)))
            self.headway.append(float(rng.uniform(1.2, 1.7)))
        return len(self.path_of) - 1


def _make_path(lanes: dict[str, Lane], lane_ids: list[str], light: int, line: FloatArray | None) -> _Path:
    lengths = np.array([lanes[i].length for i in lane_ids])
    starts = np.concatenate([[0.0], np.cumsum(lengths)[:-1]])
    if line is None:
        line = polyline.concatenate([lanes[i].centerline for i in lane_ids])
    total = float(lengths.sum())
    # Allowed speed: lane limit and curve speed, then lowered ahead of slower stretches.
    cum = polyline.cumulative_stations(line)
    curvature = polyline.curvatures(line)
    kappa = np.abs(curvature)
    grid = np.arange(0.0, total + 2.0, 1.0)
    v_curve = np.sqrt(_A_LAT / np.maximum(np.interp(grid, cum, kappa), 1e-6))
    limits = np.array([lanes[i].speed_limit_mps for i in lane_ids])
    lane_at = np.clip(np.searchsorted(starts, grid, side="right") - 1, 0, len(lane_ids) - 1)
    v_cap = np.minimum(v_curve, 0.97 * limits[lane_at])
    g = v_cap**2 + 2.0 * _B_PLAN * grid
    v_allow = np.sqrt(np.maximum(np.minimum.accumulate(g[::-1])[::-1] - 2.0 * _B_PLAN * grid, 0.0))
    stop = np.inf
    if light >= 0:
        first = next(k for k, i in enumerate(lane_ids) if lanes[i].traffic_light_id is not None)
        stop = float(starts[first] + lengths[first])
    return _Path(list(lane_ids), line, starts, total, v_allow, stop, light, cum, polyline.vertex_headings(line),
                 curvature)
