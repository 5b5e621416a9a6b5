"""The substrate's closed-loop properties, with real planners driving real scenarios and the metric engine
judging them: what a planner researcher would check before trusting the scores."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pytest

from dask_runner.metrics import build_metric_engine
from dask_runner.metrics.metric_result import MetricResult
from dask_runner.planners import IDMPlanner, LogFuturePlanner, SimplePlanner
from dask_runner.runner.simulation_builder import build_simulation_runners
from dask_runner.scenarios.commonroad import load_commonroad_scenarios
from dask_runner.scenarios.synthetic import generate_scenario


def closed_loop(scenarios: list, planner_factory: object) -> list[MetricResult]:  # type: ignore[type-arg]
    engine = build_metric_engine()
    results = []
    for runner in build_simulation_runners(scenarios, [planner_factory]):
        runner.run()
        results.append(engine.compute(runner.scenario, runner.simulation.history, runner.planner.name()))
    return results


def test_a_planner_that_steers_off_the_road_fails_drivable_area_compliance() -> None:
    scenario = generate_scenario("following_lane_with_lead", 4)
    steer_off = functools.partial(SimplePlanner, max_velocity=8.0, acceleration=1.0, steering_angle=0.15)
    [result] = closed_loop([scenario], steer_off)
    assert result.score_of("drivable_area_compliance") == 0.0
    assert result.closed_loop_score == 0.0


def test_a_planner_that_stands_still_fails_making_progress() -> None:
    # The queue starts stopped and moves off; a planner that never pulls away makes no progress.
    scenario = generate_scenario("stationary_in_traffic", 5)
    stand_still = functools.partial(SimplePlanner, max_velocity=0.0, acceleration=0.0)
    [standing] = closed_loop([scenario], stand_still)
    [expert] = closed_loop([scenario], LogFuturePlanner)
    assert standing.score_of("ego_is_making_progress") == 0.0
    assert standing.closed_loop_score == 0.0
    assert expert.score_of("ego_is_making_progress") == 1.0 and expert.closed_loop_score >= 0.95


@pytest.mark.slow
def test_idm_scores_higher_than_simple_with_a_lead_vehicle_and_collides_less() -> None:
    scenarios = [generate_scenario(t, seed) for t in ("following_lane_with_lead", "stopping_with_lead")
                 for seed in range(4)]
    # The simple planner as nuPlan configures it for this comparison: straight ahead, accelerating.
    simple = functools.partial(SimplePlanner, max_velocity=15.0, acceleration=1.0)
    idm, naive = closed_loop(scenarios, IDMPlanner), closed_loop(scenarios, simple)
    idm_score = np.mean([r.closed_loop_score for r in idm])
    simple_score = np.mean([r.closed_loop_score for r in naive])
    idm_collisions = sum(r.score_of("no_ego_at_fault_collisions") < 1.0 for r in idm)
    simple_collisions = sum(r.score_of("no_ego_at_fault_collisions") < 1.0 for r in naive)
    assert idm_score > simple_score, (idm_score, simple_score)
    assert idm_collisions < simple_collisions, (idm_collisions, simple_collisions)


@pytest.fixture(scope="module")
def ngsim_scenarios(ngsim_paths: list[Path]) -> list:  # type: ignore[type-arg]
    return load_commonroad_scenarios(ngsim_paths)


@pytest.mark.slow
@pytest.mark.parametrize("planner", [SimplePlanner, IDMPlanner, LogFuturePlanner])
def test_every_ngsim_scenario_simulates_with_each_planner_and_scores(ngsim_scenarios: list, planner: object) -> None:  # type: ignore[type-arg]
    results = closed_loop(ngsim_scenarios, planner)
    assert len(results) == 4
    for scenario, result in zip(ngsim_scenarios, results):
        assert 0.0 <= result.closed_loop_score <= 1.0, scenario.scenario_name
        assert set(result.scores) >= {"no_ego_at_fault_collisions", "drivable_area_compliance",
                                      "ego_progress_along_expert_route", "ego_is_comfortable"}
    if planner is LogFuturePlanner:  # the recorded drive, replayed, is a good drive
        assert all(r.score_of("drivable_area_compliance") == 1.0 for r in results)
        assert all(r.score_of("no_ego_at_fault_collisions") == 1.0 for r in results)
