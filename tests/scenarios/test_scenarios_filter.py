"""ScenarioFilter semantics (nuPlan's) for synthetic and already built scenario sets."""

from __future__ import annotations

from collections import Counter

import pytest

from dask_runner.errors import ConfigError
from dask_runner.scenarios import (
    SCENARIO_TYPES,
    ScenarioFilter,
    build_synthetic_scenarios,
    filter_scenarios,
    generate_scenario,
    parse_scenario_name,
)


def test_no_types_gives_a_mixed_set_of_the_default_size() -> None:
    scenarios = build_synthetic_scenarios(ScenarioFilter(), default_count=9)
    assert len(scenarios) == 9
    assert {s.scenario_type for s in scenarios} == set(SCENARIO_TYPES)
    assert len({s.token for s in scenarios}) == 9


def test_types_and_count_per_type() -> None:
    f = ScenarioFilter(scenario_types=["changing_lane", "stopping_with_lead"], num_scenarios_per_type=2, seed=10)
    scenarios = build_synthetic_scenarios(f)
    assert Counter(s.scenario_type for s in scenarios) == {"changing_lane": 2, "stopping_with_lead": 2}
    assert sorted(s.scenario_name for s in scenarios) == [
        "changing_lane-000010", "changing_lane-000011", "stopping_with_lead-000010", "stopping_with_lead-000011"]


def test_names_select_exact_scenarios() -> None:
    assert parse_scenario_name("following_lane_with_lead-000012") == ("following_lane_with_lead", 12)
    names = ["following_lane_with_lead-000012", "starting_left_turn-000003"]
    scenarios = build_synthetic_scenarios(ScenarioFilter(scenario_names=names))
    assert [s.scenario_name for s in scenarios] == names
    assert scenarios[0].token == generate_scenario("following_lane_with_lead", 12).token


def test_limit_is_a_count_or_a_fraction() -> None:
    f = ScenarioFilter(scenario_types=["changing_lane"], num_scenarios_per_type=4, limit_total_scenarios=3)
    assert len(build_synthetic_scenarios(f)) == 3
    f = ScenarioFilter(scenario_types=["changing_lane"], num_scenarios_per_type=4, limit_total_scenarios=0.5)
    assert len(build_synthetic_scenarios(f)) == 2
    assert len(build_synthetic_scenarios(ScenarioFilter(limit_total_scenarios=5))) == 5


def test_shuffle_is_seeded() -> None:
    f = ScenarioFilter(scenario_types=["changing_lane"], num_scenarios_per_type=6, shuffle=True, seed=3,
                       limit_total_scenarios=3)
    first = [s.scenario_name for s in build_synthetic_scenarios(f)]
    assert first == [s.scenario_name for s in build_synthetic_scenarios(f)]


def test_bad_filters_raise_config_errors_that_show_the_fix() -> None:
    with pytest.raises(ConfigError, match="valid types: following_lane_with_lead"):
        build_synthetic_scenarios(ScenarioFilter(scenario_types=["flying_cars"]))
    with pytest.raises(ConfigError, match="expected '<type>-<seed>'"):
        build_synthetic_scenarios(ScenarioFilter(scenario_names=["flying_cars-000001"]))
    with pytest.raises(ConfigError, match=r"\(0, 1\]"):
        ScenarioFilter(limit_total_scenarios=1.5)
    with pytest.raises(ConfigError, match=">= 0"):
        ScenarioFilter(num_scenarios_per_type=-1)


def test_filter_scenarios_on_a_built_set() -> None:
    built = [generate_scenario(t, seed) for t in ("changing_lane", "stopping_with_lead") for seed in range(3)]
    by_type = filter_scenarios(built, ScenarioFilter(scenario_types=["stopping_with_lead"]))
    assert [s.scenario_type for s in by_type] == ["stopping_with_lead"] * 3
    by_name = filter_scenarios(built, ScenarioFilter(scenario_names=["changing_lane-000001"]))
    assert [s.scenario_name for s in by_name] == ["changing_lane-000001"]
    per_type = filter_scenarios(built, ScenarioFilter(num_scenarios_per_type=1))
    assert [s.scenario_name for s in per_type] == ["changing_lane-000000", "stopping_with_lead-000000"]
    assert len(filter_scenarios(built, ScenarioFilter(limit_total_scenarios=0.5))) == 3
    with pytest.raises(ConfigError, match="valid types"):
        filter_scenarios(built, ScenarioFilter(scenario_types=["flying_cars"]))
