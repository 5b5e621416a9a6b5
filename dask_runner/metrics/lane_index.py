"""All lane centreline segments of a map as flat arrays, to find the lane under many points at once.

Built once per map and reused by every scenario on that map (a small cache keyed by identity), since
users score thousands of scenarios that share a handful of maps. No spatial tree: an ego path's
points are few and close together, so a box filter and a vectorised distance (:class:`Segments`)
answer faster than building and querying an STRtree, and ties go deterministically to the lowest
segment index.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from dask_runner.metrics.geometry import Segments
from dask_runner.scenarios.abstract_map import AbstractMap
from dask_runner.scenarios.state import FloatArray

_CACHE_SIZE = 32
_cache: OrderedDict[int, tuple[AbstractMap, LaneIndex]] = OrderedDict()


@dataclass(frozen=True)
class LaneIndex:
    lane_ids: tuple[str, ...]
    segment_lane: npt.NDArray[np.int64]  # [S] index into lane_ids
    starts: FloatArray  # [S, 2]
    directions: FloatArray  # [S, 2] unit vectors
    speed_limits: FloatArray  # [S] m/s of the segment's lane
    segments: Segments

    @classmethod
    def build(cls, map_api: AbstractMap) -> LaneIndex:
        lanes = list(map_api.lanes.values())
        prebuilt = getattr(map_api, "centerline_segments", None)  # ArrayMap keeps them already
        if callable(prebuilt):
            s, vec, lane_of = prebuilt()
        else:
            lines = [np.asarray(lane.centerline, dtype=np.float64) for lane in lanes]
            counts = np.array([max(line.shape[0] - 1, 0) for line in lines], dtype=np.int64)
            used = [line for line in lines if line.shape[0] >= 2]
            s = np.concatenate([line[:-1] for line in used]) if used else np.zeros((0, 2))
            vec = np.concatenate([np.diff(line, axis=0) for line in used]) if used else np.zeros((0, 2))
            lane_of = np.repeat(np.arange(len(lanes), dtype=np.int64), counts)
        if lane_of.shape[0] == 0:
            empty = np.zeros((0, 2))
            return cls((), np.zeros(0, np.int64), empty, empty, np.zeros(0),
                       Segments.from_starts_and_vectors(empty, empty))
        limits = np.array([float(lane.speed_limit_mps) for lane in lanes])[lane_of]
        norm = np.hypot(vec[:, 0], vec[:, 1])
        ok = norm > 1e-9
        s, vec, norm = s[ok], vec[ok], norm[ok]
        return cls(
            tuple(lane.id for lane in lanes),
            lane_of[ok],
            s,
            vec / norm[:, None],
            limits[ok],
            Segments.from_starts_and_vectors(s, vec),
        )

    def nearest_segments(self, points: FloatArray) -> npt.NDArray[np.int64]:
        """Index [N] of the segment nearest to each point (-1 when the map has no lanes)."""
        return self.segments.nearest(points)


def lane_index_for(map_api: AbstractMap) -> LaneIndex:
    """The cached index of ``map_api``."""
    key = id(map_api)
    hit = _cache.get(key)
    if hit is not None and hit[0] is map_api:
        _cache.move_to_end(key)
        return hit[1]
    index = LaneIndex.build(map_api)
    _cache[key] = (map_api, index)
    while len(_cache) > _CACHE_SIZE:
        _cache.popitem(last=False)
    return index
