"""Acceptance of the substrate: replaying the expert scores >= 0.95 with no at-fault collision on every
generated scenario type, both as logged and driven closed-loop by the log-replay planner."""

from __future__ import annotations

import pytest

from dask_runner.metrics import build_metric_engine
from dask_runner.planners.log_future_planner import LogFuturePlanner
from dask_runner.runner.simulation_builder import build_simulation_runners
from dask_runner.scenarios.state import EgoState
from dask_runner.scenarios.synthetic import SCENARIO_TYPES, generate_scenario
from dask_runner.simulation.history import SimulationHistory, SimulationHistorySample, SimulationIteration

SEEDS = (0, 1, 2)


def logged_expert_history(scenario_type: str, seed: int) -> tuple[object, SimulationHistory]:
    scenario = generate_scenario(scenario_type, seed)
    expert = scenario.get_expert_ego_trajectory()
    history = SimulationHistory()
    for i in range(scenario.get_number_of_iterations()):
        history.add_sample(SimulationHistorySample(
            SimulationIteration(i, scenario.get_time_point(i)), EgoState.from_array(expert.states[i]), expert,
            scenario.get_tracked_objects_at_iteration(i), scenario.get_traffic_light_status_at_iteration(i),
        ))
    return scenario, history


@pytest.mark.parametrize("scenario_type", SCENARIO_TYPES)
def test_the_logged_expert_scores_high(scenario_type: str) -> None:
    engine = build_metric_engine()
    for seed in SEEDS:
        scenario, history = logged_expert_history(scenario_type, seed)
        result = engine.compute(scenario, history, "expert")  # type: ignore[arg-type]
        assert result.score_of("no_ego_at_fault_collisions") == 1.0, (seed, result.scores)
        assert result.closed_loop_score >= 0.95, (seed, result.scores)


@pytest.mark.parametrize("scenario_type", SCENARIO_TYPES)
def test_the_log_replay_planner_scores_high_closed_loop(scenario_type: str) -> None:
    engine = build_metric_engine()
    scenarios = [generate_scenario(scenario_type, seed) for seed in SEEDS]
    for runner in build_simulation_runners(scenarios, [LogFuturePlanner]):
        runner.run()
        result = engine.compute(runner.scenario, runner.simulation.history, "LogFuturePlanner")
        assert result.score_of("no_ego_at_fault_collisions") == 1.0, (runner.scenario.scenario_name, result.scores)
        assert result.closed_loop_score >= 0.95, (runner.scenario.scenario_name, result.scores)
