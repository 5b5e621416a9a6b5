"""The map interface that planners, observations and metrics use (the concrete map is scenarios/map.py)."""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Mapping

import numpy as np

from dask_runner.scenarios.state import FloatArray


@dataclass(frozen=True)
class Lane:
    """One lane: a centreline with its boundaries; ``successors``/``predecessors`` give connectivity."""

    id: str
    centerline: FloatArray = field(repr=False)  # [M, 2]
    left_boundary: FloatArray = field(repr=False)  # [M, 2]
    right_boundary: FloatArray = field(repr=False)  # [M, 2]
    speed_limit_mps: float
    successors: tuple[str, ...] = ()
    predecessors: tuple[str, ...] = ()
    traffic_light_id: str | None = None  # the light governing the end of this lane, if any
    stop_line: FloatArray | None = field(default=None, repr=False)  # [2, 2] segment, if any

    @property
    def length(self) -> float:
        # np.sum(np.hypot(*np.diff(...).T)) without the Python wrappers: route building asks for every lane's.
        steps = self.centerline[1:] - self.centerline[:-1]
        return float(np.add.reduce(np.hypot(steps[:, 0], steps[:, 1])))


class AbstractMap(abc.ABC):
    """Lanes, their connectivity, the drivable area, stop lines and traffic lights."""

    @property
    @abc.abstractmethod
    def map_name(self) -> str: ...

    @property
    @abc.abstractmethod
    def lanes(self) -> Mapping[str, Lane]: ...

    @property
    @abc.abstractmethod
    def drivable_area(self) -> object:
        """A shapely (Multi)Polygon."""

    @abc.abstractmethod
    def get_lane(self, lane_id: str) -> Lane: ...

    @abc.abstractmethod
    def points_in_drivable_area(self, points: FloatArray) -> np.ndarray:
        """Vectorised: bool [N] for points [N, 2]."""

    @abc.abstractmethod
    def closest_lane(self, x: float, y: float, heading: float | None = None) -> tuple[str, float, float]:
        """(lane id, station along its centreline in m, signed lateral offset in m, left positive).

        With ``heading`` given, lanes whose direction differs by more than 90 degrees are skipped."""
