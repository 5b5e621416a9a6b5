"""The two maps scenarios are set on: a one-way road and a signalised 4-way intersection.

The road is straight or curved, 2-4 lanes split into 100 m sections; the intersection has split
phasing (one approach green at a time, so movements never cross). Geometry lives apart from the
recipes because ``log_name`` replays the road's first random draws without building a scenario, and
because the lane naming (sections, approaches, movements) is what every recipe builds its paths from.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from dask_runner.scenarios import polyline
from dask_runner.scenarios.abstract_map import Lane
from dask_runner.scenarios.state import FloatArray, TrafficLightStatus
from dask_runner.scenarios.synthetic.constants import _TIMES
from dask_runner.scenarios.synthetic.scene import _Scene

_SECTION_M = 100.0
_N_SECTIONS = 8
_ROAD_SPACING_M = 4.0
_YELLOW_S = 3.0
_ALL_RED_S = 2.0


def _make_lane(
    lane_id: str, center: FloatArray, width: float, limit: float, heading: float | None = None, **kw: object
) -> Lane:
    """A lane around ``center``; pass ``heading`` for a straight one (skips per-vertex headings)."""
    heading_at: FloatArray | float = polyline.vertex_headings(center) if heading is None else heading
    normal = (width / 2.0) * np.stack([-np.sin(heading_at), np.cos(heading_at)], axis=-1)
    return Lane(
        id=lane_id,
        centerline=center,
        left_boundary=center + normal,
        right_boundary=center - normal,
        speed_limit_mps=limit,
        **kw,  # type: ignore[arg-type]
    )


# ---------------------------------------------------------------------------------------------------
# Roads
# ---------------------------------------------------------------------------------------------------


@dataclass
class _Road:
    n_lanes: int
    width: float
    limit: float
    curved: bool

    @staticmethod
    def lane_id(section: int, lane: int) -> str:
        return f"s{section}_l{lane}"

    def lane_path(self, lane: int, first_section: int = 0) -> list[str]:
        return [self.lane_id(k, lane) for k in range(first_section, _N_SECTIONS)]


def _road_params(rng: np.random.Generator, min_lanes: int, max_lanes: int) -> _Road:
    """The road's first random draws (``log_name`` replays them to know the map kind)."""
    return _Road(
        n_lanes=int(rng.integers(min_lanes, max_lanes + 1)),
        width=float(rng.uniform(3.5, 3.7)),
        limit=float(rng.uniform(13.0, 25.0)),
        curved=bool(rng.random() < 0.5),
    )


def _road_scene(rng: np.random.Generator, min_lanes: int, max_lanes: int) -> tuple[_Scene, _Road]:
    road = _road_params(rng, min_lanes, max_lanes)
    total = _SECTION_M * _N_SECTIONS
    s = np.arange(0.0, total + 0.5 * _ROAD_SPACING_M, _ROAD_SPACING_M)
    if road.curved:
        k_max = float(rng.uniform(0.5, 1.0)) * 1.5 / road.limit**2
        period = float(rng.uniform(300.0, 600.0))
        kappa = k_max * np.sin(2.0 * np.pi * s / period + float(rng.uniform(0.0, 2.0 * np.pi)))
    else:
        kappa = np.zeros_like(s)
    heading = np.concatenate([[0.0], np.cumsum(0.5 * (kappa[1:] + kappa[:-1]) * np.diff(s))])
    mid = 0.5 * (heading[1:] + heading[:-1])
    ref = np.zeros((s.shape[0], 2))
    ref[1:, 0] = np.cumsum(np.cos(mid) * _ROAD_SPACING_M)
    ref[1:, 1] = np.cumsum(np.sin(mid) * _ROAD_SPACING_M)
    per_section = round(_SECTION_M / _ROAD_SPACING_M)
    vertex_heading = polyline.vertex_headings(ref)
    normal = np.stack([-np.sin(vertex_heading), np.cos(vertex_heading)], axis=-1)
    lanes: dict[str, Lane] = {}
    for j in range(road.n_lanes):  # lane 0 is the leftmost; the reference line is the right edge
        offset = (road.n_lanes - 1 - j + 0.5) * road.width
        center, left, right = (ref + (offset + d) * normal for d in (0.0, road.width / 2.0, -road.width / 2.0))
        for k in range(_N_SECTIONS):
            cut = slice(k * per_section, (k + 1) * per_section + 1)
            lanes[road.lane_id(k, j)] = Lane(
                id=road.lane_id(k, j),
                centerline=np.ascontiguousarray(center[cut]),
                left_boundary=np.ascontiguousarray(left[cut]),
                right_boundary=np.ascontiguousarray(right[cut]),
                speed_limit_mps=road.limit,
                successors=(road.lane_id(k + 1, j),) if k + 1 < _N_SECTIONS else (),
                predecessors=(road.lane_id(k - 1, j),) if k > 0 else (),
            )
    def drivable(rot: FloatArray, shift: FloatArray) -> object:
        import shapely

        lanes_now = scene.lanes
        left = np.concatenate([lanes_now[road.lane_id(k, 0)].left_boundary[(1 if k else 0):] for k in range(_N_SECTIONS)])
        right = np.concatenate(
            [lanes_now[road.lane_id(k, road.n_lanes - 1)].right_boundary[(1 if k else 0):] for k in range(_N_SECTIONS)]
        )
        return shapely.Polygon(np.concatenate([left, right[::-1]])).buffer(0.05)

    scene = _Scene(map_kind="curved" if road.curved else "straight", lanes=lanes, drivable=drivable)
    return scene, road


def _lane_paths(scene: _Scene, road: _Road) -> list[int]:
    return [scene.add_path(road.lane_path(j)) for j in range(road.n_lanes)]


# ---------------------------------------------------------------------------------------------------
# The signalised intersection
# ---------------------------------------------------------------------------------------------------


@dataclass
class _Junction:
    width: float
    limit: float
    half: float  # the junction box is [-half, half]^2; stop lines lie on its edges
    arm: float
    green: float
    green_start: float  # when approach 0 turns green (approaches follow in order 0, 1, 2, 3)
    n: int = 2

    @property
    def period(self) -> float:
        return 4.0 * (self.green + _YELLOW_S + _ALL_RED_S)

    def status(self, approach: int, t: FloatArray) -> np.ndarray:
        local = (t - self.green_start - approach * (self.green + _YELLOW_S + _ALL_RED_S)) % self.period
        out = np.full(t.shape, TrafficLightStatus.RED, dtype=np.int8)
        out[local < self.green + _YELLOW_S] = TrafficLightStatus.YELLOW
        out[local < self.green] = TrafficLightStatus.GREEN
        return out


def _rot(a: int) -> FloatArray:
    c, s = np.cos(a * np.pi / 2.0), np.sin(a * np.pi / 2.0)
    return np.array([[c, -s], [s, c]])


def _bezier(p0: FloatArray, h0: float, p3: FloatArray, h3: float, n: int = 16) -> FloatArray:
    d = float(np.hypot(*(p3 - p0)))
    p1 = p0 + 0.39 * d * np.array([np.cos(h0), np.sin(h0)])
    p2 = p3 - 0.39 * d * np.array([np.cos(h3), np.sin(h3)])
    u = np.linspace(0.0, 1.0, n)[:, None]
    return np.asarray((1 - u) ** 3 * p0 + 3 * (1 - u) ** 2 * u * p1 + 3 * (1 - u) * u**2 * p2 + u**3 * p3)


_MOVES = {"S": 2, "L": 3, "R": 1}  # movement -> arm offset of the exit


def _junction_scene(rng: np.random.Generator, green_start: float, green: float) -> tuple[_Scene, _Junction]:
    width = float(rng.uniform(3.5, 3.7))
    junction = _Junction(
        width=width, limit=float(rng.uniform(13.0, 16.0)), half=2.0 * width + float(rng.uniform(5.0, 7.0)),
        arm=float(rng.uniform(135.0, 150.0)), green=green, green_start=green_start,
    )
    h, w, n = junction.half, width, junction.n
    lanes: dict[str, Lane] = {}
    steps = max(2, int(junction.arm / 5.0))
    for a in range(4):
        rot = _rot(a)
        for k in range(n):
            x = (k + 0.5) * w
            incoming = np.stack([np.full(steps + 1, x), np.linspace(-h - junction.arm, -h, steps + 1)], 1) @ rot.T
            outgoing = np.stack([np.full(steps + 1, -x), np.linspace(-h, -h - junction.arm, steps + 1)], 1) @ rot.T
            stop = np.array([[n * w, -h], [0.0, -h]]) @ rot.T
            lanes[f"in_{a}_{k}"] = _make_lane(f"in_{a}_{k}", incoming, w, junction.limit, a * np.pi / 2.0 + np.pi / 2.0,
                                              traffic_light_id=f"tl_{a}", stop_line=stop)
            lanes[f"out_{a}_{k}"] = _make_lane(f"out_{a}_{k}", outgoing, w, junction.limit, a * np.pi / 2.0 - np.pi / 2.0)
    succ: dict[str, list[str]] = defaultdict(list)
    pred: dict[str, list[str]] = defaultdict(list)
    for a in range(4):
        for k in range(n):
            moves = ["S"] + (["L"] if k == 0 else []) + (["R"] if k == n - 1 else [])
            for move in moves:
                b = (a + _MOVES[move]) % 4
                src, dst = lanes[f"in_{a}_{k}"].centerline, lanes[f"out_{b}_{k}"].centerline
                h0 = a * np.pi / 2.0 + np.pi / 2.0
                h3 = b * np.pi / 2.0 - np.pi / 2.0
                if move == "S":
                    center = np.linspace(src[-1], dst[0], 8)
                else:
                    center = _bezier(src[-1], h0, dst[0], h3)
                conn = f"conn_{a}_{k}_{move}"
                lanes[conn] = _make_lane(conn, center, w, junction.limit, predecessors=(f"in_{a}_{k}",),
                                         successors=(f"out_{b}_{k}",))
                succ[f"in_{a}_{k}"].append(conn)
                pred[f"out_{b}_{k}"].append(conn)
    for lane_id in list(lanes):
        if succ[lane_id] or pred[lane_id]:
            lanes[lane_id] = dataclasses.replace(
                lanes[lane_id], successors=lanes[lane_id].successors + tuple(succ[lane_id]),
                predecessors=lanes[lane_id].predecessors + tuple(pred[lane_id]),
            )

    def drivable(rot: FloatArray, shift: FloatArray) -> object:
        import shapely

        # The arms (in and out lanes side by side) and the junction box form a cross: its outline
        # directly, instead of a union of the lane polygons.
        half_arms = n * w
        arm0 = np.array([[-half_arms, -h], [-half_arms, -h - junction.arm], [half_arms, -h - junction.arm],
                         [half_arms, -h], [h, -h]])
        outline = np.concatenate([arm0 @ _rot(a).T for a in range(4)])
        return shapely.Polygon(outline @ rot.T + shift).buffer(0.05)

    scene = _Scene(map_kind="intersection", lanes=lanes, drivable=drivable)
    scene.light_ids = tuple(f"tl_{a}" for a in range(4))
    t = _TIMES
    scene.lights = np.stack([junction.status(a, t) for a in range(4)], axis=1)
    return scene, junction


def _movement_path(scene: _Scene, a: int, k: int, move: str) -> int:
    b = (a + _MOVES[move]) % 4
    return scene.add_path([f"in_{a}_{k}", f"conn_{a}_{k}_{move}", f"out_{b}_{k}"], light=a)


def _random_move(rng: np.random.Generator, k: int, n: int) -> str:
    moves = ["S"] + (["L"] if k == 0 else []) + (["R"] if k == n - 1 else [])
    return moves[int(rng.integers(len(moves)))]
