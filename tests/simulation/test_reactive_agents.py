"""Why the reactive challenge scores differently: its agents react to the ego instead of replaying their log."""

from __future__ import annotations

from dask_runner.metrics import MetricContext
from dask_runner.planners import IDMPlanner, SimplePlanner
from dask_runner.runner.simulation_builder import build_simulation_runners
from dask_runner.scenarios.scenario_filter import ScenarioFilter, build_synthetic_scenarios


def agents_hitting_the_ego(planner: type, observation: str, count: int) -> int:
    """Agents whose box overlaps the ego's at some step, summed over the first ``count`` generated scenarios."""
    scenarios = build_synthetic_scenarios(ScenarioFilter(limit_total_scenarios=count))
    total = 0
    for runner in build_simulation_runners(scenarios, [planner], observation=observation):  # type: ignore[arg-type]
        assert runner.run().succeeded
        total += int(MetricContext(runner.scenario, runner.simulation.history).collisions.first.sum())
    return total


def test_reactive_agents_collide_with_the_ego_far_less_than_replayed_ones() -> None:
    """Replayed agents drive through an ego that is not where the log's ego was (the slow simple planner is
    rear-ended again and again); IDM agents brake for it. 32 scenarios gave, when this was written, 23 -> 2
    (simple) and 2 -> 0 (IDM) agents; the test asks for a clear drop, not those numbers."""
    for planner in (SimplePlanner, IDMPlanner):
        replayed = agents_hitting_the_ego(planner, "tracks", 32)
        reactive = agents_hitting_the_ego(planner, "idm_agents", 32)
        assert replayed >= 2 and reactive <= replayed // 2, (planner.__name__, replayed, reactive)
