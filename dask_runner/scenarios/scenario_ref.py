"""Lazy scenario references: a scenario that travels as a small spec and is built where it runs.

Building every scenario in the driver costs minutes of serial work for a large batch (a synthetic
scenario takes milliseconds of CPU, a CommonRoad file up to a second of XML parsing), and a runner
that carries its built scenario pickles to a few hundred kB. A :class:`LazyScenario` holds only a
builder function, its arguments and the identity fields that are known without building (token,
names, type), so runners stay a few kB, and the worker builds the scenario on first use. Built
scenarios are also kept in a small per-process LRU cache keyed by the spec, so one worker that
simulates the same scenario with several planners builds it once.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from typing import Any

from dask_runner.errors import ScenarioError
from dask_runner.scenarios.abstract_map import AbstractMap
from dask_runner.scenarios.abstract_scenario import AbstractScenario
from dask_runner.scenarios.state import (
    EgoState,
    StateSE2,
    TrackedObjects,
    TrafficLightStatus,
    Trajectory,
    VehicleParameters,
)

ScenarioBuilder = Callable[..., AbstractScenario]
"""A module-level function (pickled by reference) that builds one scenario from hashable arguments."""

CACHE_SIZE = 8
"""Built scenarios kept per process: enough for the planners of one scenario running on one worker."""

_cache: OrderedDict[tuple[Hashable, ...], AbstractScenario] = OrderedDict()
_cache_lock = threading.Lock()
_key_locks: dict[tuple[Hashable, ...], threading.Lock] = {}


def _cache_key(build: ScenarioBuilder, args: tuple[Hashable, ...]) -> tuple[Hashable, ...]:
    return (getattr(build, "__module__", ""), getattr(build, "__qualname__", repr(build)), args)


def build_scenario_cached(build: ScenarioBuilder, args: tuple[Hashable, ...]) -> AbstractScenario:
    """``build(*args)``, from this process's LRU cache when it was built recently (each spec built once
    even when worker threads ask for it at the same time)."""
    key = _cache_key(build, args)
    with _cache_lock:
        scenario = _cache.get(key)
        if scenario is not None:
            _cache.move_to_end(key)
            return scenario
        key_lock = _key_locks.setdefault(key, threading.Lock())
    with key_lock:
        with _cache_lock:
            scenario = _cache.get(key)
        if scenario is None:
            scenario = build(*args)
            with _cache_lock:
                _cache[key] = scenario
                while len(_cache) > CACHE_SIZE:
                    _cache.popitem(last=False)
    with _cache_lock:
        _key_locks.pop(key, None)
    return scenario


def clear_scenario_cache() -> None:
    """Forget the scenarios built in this process (frees their memory; the next use rebuilds)."""
    with _cache_lock:
        _cache.clear()


def cached_scenario_count() -> int:
    """How many built scenarios this process holds in its cache."""
    with _cache_lock:
        return len(_cache)


class LazyScenario(AbstractScenario):
    """A scenario known by ``build(*args)`` and its identity; built on first use, where it is used.

    The identity members (``token``, ``scenario_name``, ``log_name``, ``scenario_type``,
    ``database_interval`` and, when given, the number of iterations and the ego's parameters)
    answer without building, so the driver can make runners, ids and reports from them. Every
    other member builds the scenario once per process and delegates to it, including members
    that only the concrete class has (``agent_poses``, ``to_dict``...). Pickling keeps only the spec.
    """

    def __init__(
        self,
        build: ScenarioBuilder,
        args: tuple[Hashable, ...],
        *,
        token: str,
        scenario_name: str,
        log_name: str,
        scenario_type: str,
        database_interval: float = 0.1,
        number_of_iterations: int | None = None,
        ego_vehicle_parameters: VehicleParameters | None = None,
    ) -> None:
        try:
            hash(args)
        except TypeError as exc:
            raise ScenarioError(
                f"LazyScenario arguments {args!r} must be hashable (they key the per-process cache); "
                "pass strings, numbers or tuples"
            ) from exc
        self._build = build
        self._args = tuple(args)
        self._token = token
        self._scenario_name = scenario_name
        self._log_name = log_name
        self._scenario_type = scenario_type
        self._interval = float(database_interval)
        self._iterations = number_of_iterations
        self._vehicle = ego_vehicle_parameters
        self._scenario: AbstractScenario | None = None

    # -- the spec and the built scenario -----------------------------------------------------------
    @property
    def spec(self) -> tuple[ScenarioBuilder, tuple[Hashable, ...]]:
        """(builder, arguments): what travels instead of the scenario."""
        return self._build, self._args

    @property
    def is_built(self) -> bool:
        """Whether this object already holds its built scenario (in this process)."""
        return self._scenario is not None

    @property
    def built(self) -> AbstractScenario:
        """The real scenario, built (or taken from this process's cache) on first access."""
        return self._materialize()

    def _materialize(self) -> AbstractScenario:
        # A method, not a property: an AttributeError inside must not fall back to __getattr__.
        scenario = self._scenario
        if scenario is None:
            try:
                scenario = build_scenario_cached(self._build, self._args)
            except AttributeError as exc:
                raise ScenarioError(f"building the scenario {self._describe()} failed: {exc}") from exc
            self._check_identity(scenario)
            self._scenario = scenario
        return scenario

    def _check_identity(self, scenario: AbstractScenario) -> None:
        expected = (self._token, self._scenario_name, self._log_name, self._scenario_type)
        got = (scenario.token, scenario.scenario_name, scenario.log_name, scenario.scenario_type)
        if got != expected:
            raise ScenarioError(
                f"the scenario built from {self._describe()} has identity (token, name, log, type) {got}, "
                f"but its reference promised {expected}; the reference factory and the builder disagree "
                "(fix the factory that made this LazyScenario)"
            )

    def _describe(self) -> str:
        name = getattr(self._build, "__qualname__", repr(self._build))
        return f"{name}{self._args!r}"

    # -- identity, known without building ---------------------------------------------------------
    @property
    def token(self) -> str:
        return self._token

    @property
    def scenario_name(self) -> str:
        return self._scenario_name

    @property
    def log_name(self) -> str:
        return self._log_name

    @property
    def scenario_type(self) -> str:
        return self._scenario_type

    @property
    def database_interval(self) -> float:
        return self._interval

    def get_number_of_iterations(self) -> int:
        if self._iterations is not None:
            return self._iterations
        return self.built.get_number_of_iterations()

    @property
    def ego_vehicle_parameters(self) -> VehicleParameters:
        if self._vehicle is not None:
            return self._vehicle
        return self.built.ego_vehicle_parameters

    # -- everything else, from the built scenario ---------------------------------------------------
    @property
    def map_api(self) -> AbstractMap:
        return self.built.map_api

    def get_time_point(self, iteration: int) -> float:
        return self.built.get_time_point(iteration)

    def get_time_points(self) -> list[float]:
        return self.built.get_time_points()

    @property
    def initial_ego_state(self) -> EgoState:
        return self.built.initial_ego_state

    def get_ego_state_at_iteration(self, iteration: int) -> EgoState:
        return self.built.get_ego_state_at_iteration(iteration)

    def get_expert_ego_trajectory(self) -> Trajectory:
        return self.built.get_expert_ego_trajectory()

    def get_tracked_objects_at_iteration(self, iteration: int) -> TrackedObjects:
        return self.built.get_tracked_objects_at_iteration(iteration)

    def get_mission_goal(self) -> StateSE2 | None:
        return self.built.get_mission_goal()

    def get_route_lane_ids(self) -> list[str]:
        return self.built.get_route_lane_ids()

    def get_traffic_light_status_at_iteration(self, iteration: int) -> dict[str, TrafficLightStatus]:
        return self.built.get_traffic_light_status_at_iteration(iteration)

    def to_dict(self) -> dict[str, Any]:
        """The built scenario's plain-type form (simulation logs store the real content, not the spec)."""
        to_dict = getattr(self.built, "to_dict", None)
        if to_dict is None:
            raise ScenarioError(
                f"scenario class {type(self.built).__name__} built from {self._describe()} has no to_dict(); "
                "write pickle simulation logs or give the class to_dict()/from_dict()"
            )
        return dict(to_dict())

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> AbstractScenario:
        """A log written from a LazyScenario reads back as the concrete :class:`Scenario`."""
        from dask_runner.scenarios.scenario import Scenario

        return Scenario.from_dict(d)

    def __getattr__(self, name: str) -> Any:
        # Only called for names the class lacks: the concrete scenario's extras (agent_poses, ...).
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._materialize(), name)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_scenario"] = None  # only the spec travels; the receiving process builds or reuses it
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def __repr__(self) -> str:
        built = "built" if self._scenario is not None else "not built"
        return f"LazyScenario({self._scenario_name!r}, type={self._scenario_type!r}, {built})"
