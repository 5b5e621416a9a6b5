"""What a simulation records at each step, and the rolling buffer planners read their input from."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from itertools import chain
from operator import attrgetter

import numpy as np

from dask_runner.scenarios.state import (
    EGO_DIM,
    EGO_FIELDS,
    EgoState,
    FloatArray,
    TrackedObjects,
    TrafficLightStatus,
    Trajectory,
)

_EGO_ROW = attrgetter(*EGO_FIELDS)  # an EgoState as a tuple of floats in EGO_FIELDS order


@dataclass(frozen=True)
class SimulationIteration:
    index: int
    time_s: float

    def __init__(self, index: int, time_s: float) -> None:
        # Frozen dataclasses made every step write their instance dict directly: dataclass's own
        # __init__ goes through object.__setattr__ per field, at three times the cost.
        fields = self.__dict__
        fields["index"] = index
        fields["time_s"] = time_s


@dataclass(frozen=True)
class SimulationHistorySample:
    """One simulated step: where the ego was, what it planned, and what it saw."""

    iteration: SimulationIteration
    ego_state: EgoState
    trajectory: Trajectory
    observation: TrackedObjects
    traffic_light_status: dict[str, TrafficLightStatus] = field(default_factory=dict)

    def __init__(
        self,
        iteration: SimulationIteration,
        ego_state: EgoState,
        trajectory: Trajectory,
        observation: TrackedObjects,
        traffic_light_status: dict[str, TrafficLightStatus] | None = None,
    ) -> None:
        fields = self.__dict__  # as SimulationIteration: no object.__setattr__ per field
        fields["iteration"] = iteration
        fields["ego_state"] = ego_state
        fields["trajectory"] = trajectory
        fields["observation"] = observation
        fields["traffic_light_status"] = {} if traffic_light_status is None else traffic_light_status


@dataclass
class SimulationHistory:
    """The whole run of one simulation, in order; ``ego_array`` gives it as one array for metrics."""

    samples: list[SimulationHistorySample] = field(default_factory=list)

    def add_sample(self, sample: SimulationHistorySample) -> None:
        self.samples.append(sample)

    def last(self) -> SimulationHistorySample:
        return self.samples[-1]

    def reset(self) -> None:
        self.samples.clear()

    def __len__(self) -> int:
        return len(self.samples)

    def ego_array(self) -> FloatArray:
        """Ego rows [T, EGO_DIM] (columns: scenarios.state.EGO_FIELDS)."""
        if not self.samples:
            return np.zeros((0, EGO_DIM))
        # One pass over plain floats into one array: a numpy array per sample would cost ten times more.
        rows = map(_EGO_ROW, [sample.ego_state for sample in self.samples])
        return np.fromiter(chain.from_iterable(rows), np.float64, len(self.samples) * EGO_DIM).reshape(-1, EGO_DIM)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SimulationHistory) or len(self) != len(other):
            return False
        return all(_samples_equal(a, b) for a, b in zip(self.samples, other.samples))


def _samples_equal(a: SimulationHistorySample, b: SimulationHistorySample) -> bool:
    oa, ob = a.observation, b.observation
    return (
        a.iteration == b.iteration
        and a.ego_state == b.ego_state
        and np.array_equal(a.trajectory.states, b.trajectory.states)
        and all(np.array_equal(getattr(oa, f), getattr(ob, f))
                for f in ("track_ids", "agent_types", "poses", "velocities", "sizes"))
        and a.traffic_light_status == b.traffic_light_status
    )


class SimulationHistoryBuffer:
    """The last ``size`` ego states and observations, which a planner sees as its input."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("the history buffer holds at least one step")
        self.size = size
        self.ego_states: deque[EgoState] = deque(maxlen=size)
        self.observations: deque[TrackedObjects] = deque(maxlen=size)

    def append(self, ego_state: EgoState, observation: TrackedObjects) -> None:
        self.ego_states.append(ego_state)
        self.observations.append(observation)

    @property
    def current_state(self) -> tuple[EgoState, TrackedObjects]:
        return self.ego_states[-1], self.observations[-1]
