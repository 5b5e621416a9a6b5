"""Which scenarios a run uses: nuPlan's ScenarioFilter semantics for synthetic and loaded scenarios."""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, TypeVar, overload

from dask_runner.errors import ConfigError
from dask_runner.scenarios.abstract_scenario import AbstractScenario
from dask_runner.scenarios.scenario import Scenario
from dask_runner.scenarios.scenario_ref import LazyScenario
from dask_runner.scenarios.synthetic import SCENARIO_TYPES, generate_scenario, synthetic_scenario_ref

ScenarioT = TypeVar("ScenarioT", bound=AbstractScenario)
ItemT = TypeVar("ItemT")
_NAME = re.compile(r"^(?P<type>[a-z_]+)-(?P<seed>\d+)$")


@dataclass(frozen=True)
class ScenarioFilter:
    """What to select; every field None means "no constraint" (nuPlan's ScenarioFilter, simplified).

    ``limit_total_scenarios``: an int is a count, a float in (0, 1] a fraction of what is selected."""

    scenario_types: list[str] | None = None
    scenario_names: list[str] | None = None
    limit_total_scenarios: int | float | None = None
    num_scenarios_per_type: int | None = None
    seed: int = 0
    shuffle: bool = False

    def __post_init__(self) -> None:
        limit = self.limit_total_scenarios
        if isinstance(limit, bool) or (limit is not None and not isinstance(limit, (int, float))):
            raise ConfigError(f"limit_total_scenarios must be an int count or a float fraction, got {limit!r}")
        if isinstance(limit, float) and not 0.0 < limit <= 1.0:
            raise ConfigError(
                f"limit_total_scenarios={limit} is a float, so it is a fraction and must be in (0, 1]; "
                "pass an int (e.g. limit_total_scenarios=100) for a count"
            )
        if isinstance(limit, int) and limit < 0:
            raise ConfigError(f"limit_total_scenarios must be >= 0, got {limit}")
        if self.num_scenarios_per_type is not None and self.num_scenarios_per_type < 0:
            raise ConfigError(f"num_scenarios_per_type must be >= 0, got {self.num_scenarios_per_type}")


def parse_scenario_name(name: str) -> tuple[str, int]:
    """("following_lane_with_lead", 12) from "following_lane_with_lead-000012"."""
    match = _NAME.match(name)
    if match is None or match["type"] not in SCENARIO_TYPES:
        raise ConfigError(
            f"{name!r} is not a synthetic scenario name; expected '<type>-<seed>' such as "
            f"'{SCENARIO_TYPES[0]}-000012', with type one of: {', '.join(SCENARIO_TYPES)}"
        )
    return match["type"], int(match["seed"])


def _check_types(types: Sequence[str], valid: Sequence[str]) -> None:
    unknown = [t for t in types if t not in valid]
    if unknown:
        raise ConfigError(f"unknown scenario type(s) {unknown}; valid types: {', '.join(valid)}")


def _limit(items: list[ItemT], scenario_filter: ScenarioFilter) -> list[ItemT]:
    if scenario_filter.shuffle:
        random.Random(scenario_filter.seed).shuffle(items)
    limit = scenario_filter.limit_total_scenarios
    if limit is None:
        return items
    if isinstance(limit, float):
        return items[: max(1, round(limit * len(items)))] if items else items
    return items[:limit]


@overload
def build_synthetic_scenarios(
    scenario_filter: ScenarioFilter, default_count: int = ..., lazy: Literal[True] = ...
) -> list[LazyScenario]: ...


@overload
def build_synthetic_scenarios(
    scenario_filter: ScenarioFilter, default_count: int = ..., *, lazy: Literal[False]
) -> list[Scenario]: ...


@overload
def build_synthetic_scenarios(
    scenario_filter: ScenarioFilter, default_count: int = ..., lazy: bool = ...
) -> list[LazyScenario] | list[Scenario]: ...


def build_synthetic_scenarios(
    scenario_filter: ScenarioFilter, default_count: int = 16, lazy: bool = True
) -> list[LazyScenario] | list[Scenario]:
    """The synthetic scenarios the filter selects.

    Names select exact scenarios; otherwise each selected type gets ``num_scenarios_per_type``
    seeds (starting at ``filter.seed``), and with neither given ``default_count`` scenarios are
    spread round-robin over the types, so a bare filter gives a mixed set. ``lazy`` (the default)
    returns references that generate where they are first used, so the driver does no
    generation and runners ship small; ``lazy=False`` generates them here."""
    if scenario_filter.scenario_names:
        pairs = [parse_scenario_name(name) for name in scenario_filter.scenario_names]
        if scenario_filter.scenario_types is not None:
            _check_types(scenario_filter.scenario_types, SCENARIO_TYPES)
            pairs = [p for p in pairs if p[0] in scenario_filter.scenario_types]
    else:
        types = list(scenario_filter.scenario_types) if scenario_filter.scenario_types else list(SCENARIO_TYPES)
        _check_types(types, SCENARIO_TYPES)
        per_type = scenario_filter.num_scenarios_per_type
        if per_type is None:
            total = default_count
            if isinstance(scenario_filter.limit_total_scenarios, int):
                total = scenario_filter.limit_total_scenarios
            pairs = [(types[i % len(types)], scenario_filter.seed + i // len(types)) for i in range(total)]
        else:
            pairs = [(t, scenario_filter.seed + k) for t in types for k in range(per_type)]
    # Limit before generating: generation is the expensive part.
    selected = _limit(list(dict.fromkeys(pairs)), scenario_filter)
    if lazy:
        return [synthetic_scenario_ref(t, seed) for t, seed in selected]
    return [generate_scenario(t, seed) for t, seed in selected]


def filter_scenarios(scenarios: Sequence[ScenarioT], scenario_filter: ScenarioFilter) -> list[ScenarioT]:
    """The scenarios of an already built set (e.g. loaded CommonRoad ones) that the filter selects."""
    items = list(scenarios)
    if scenario_filter.scenario_types is not None:
        _check_types(scenario_filter.scenario_types, sorted({s.scenario_type for s in items} | set(SCENARIO_TYPES)))
        items = [s for s in items if s.scenario_type in scenario_filter.scenario_types]
    if scenario_filter.scenario_names is not None:
        wanted = set(scenario_filter.scenario_names)
        items = [s for s in items if s.scenario_name in wanted or s.token in wanted]
    if scenario_filter.num_scenarios_per_type is not None:
        counts: dict[str, int] = {}
        kept = []
        for s in items:
            if counts.get(s.scenario_type, 0) < scenario_filter.num_scenarios_per_type:
                counts[s.scenario_type] = counts.get(s.scenario_type, 0) + 1
                kept.append(s)
        items = kept
    return _limit(items, scenario_filter)
