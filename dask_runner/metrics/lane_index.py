"""All lane centreline segments of a map in one STRtree, to find the lane under many points at once.

Built once per map and reused by every scenario on that map (a small cache keyed by identity), since
users score thousands of scenarios that share a handful of maps.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely

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
    tree: Any  # shapely.STRtree over the segments

    @classmethod
    def build(cls, map_api: AbstractMap) -> LaneIndex:
        lanes = list(map_api.lanes.values())
        starts, ends, lane_of, limits = [], [], [], []
        for i, lane in enumerate(lanes):
            pts = np.asarray(lane.centerline, dtype=np.float64)
            if pts.shape[0] < 2:
                continue
            starts.append(pts[:-1])
            ends.append(pts[1:])
            lane_of.append(np.full(pts.shape[0] - 1, i, dtype=np.int64))
            limits.append(np.full(pts.shape[0] - 1, float(lane.speed_limit_mps)))
        if not starts:
            empty = np.zeros((0, 2))
            return cls((), np.zeros(0, np.int64), empty, empty, np.zeros(0), shapely.STRtree([]))
        s, e = np.concatenate(starts), np.concatenate(ends)
        vec = e - s
        norm = np.hypot(vec[:, 0], vec[:, 1])
        ok = norm > 1e-9
        s, e, vec, norm = s[ok], e[ok], vec[ok], norm[ok]
        lines = shapely.linestrings(np.stack([s, e], axis=1))
        return cls(
            tuple(lane.id for lane in lanes),
            np.concatenate(lane_of)[ok],
            s,
            vec / norm[:, None],
            np.concatenate(limits)[ok],
            shapely.STRtree(lines),
        )

    def nearest_segments(self, points: FloatArray) -> npt.NDArray[np.int64]:
        """Index [N] of the segment nearest to each point (-1 when the map has no lanes)."""
        if len(self.lane_ids) == 0 or points.shape[0] == 0:
            return np.full(points.shape[0], -1, dtype=np.int64)
        idx = self.tree.query_nearest(shapely.points(points), return_distance=False, all_matches=False)
        out = np.full(points.shape[0], -1, dtype=np.int64)
        out[idx[0]] = idx[1]
        return out


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
