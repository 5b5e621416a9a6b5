"""Lockstep groups: the same histories and reports as one-at-a-time runs, with failures kept per simulation."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence

import numpy as np
import pytest
from distributed import LocalCluster

from dask_runner.dask.pool import DaskDistributed
from dask_runner.execution.executor import execute_runners
from dask_runner.planners.abstract_planner import PlannerInput
from dask_runner.planners.batch_planner import BatchPlanner
from dask_runner.planners.ml.ml_planner import MLPlanner
from dask_runner.planners.simple_planner import SimplePlanner
from dask_runner.runner.lockstep import can_lockstep, simulate_lockstep
from dask_runner.runner.run_simulation import simulate
from dask_runner.runner.simulation_builder import build_simulation_runners
from dask_runner.runner.simulation_runner import SimulationRunner
from dask_runner.scenarios.scenario_filter import ScenarioFilter, build_synthetic_scenarios
from dask_runner.scenarios.state import Trajectory
from dask_runner.simulation.callback.abstract_callback import AbstractCallback

SCENARIOS = 7  # one of each generated type
FAILING_SCENARIO = "changing_lane-000000"
FAIL_AT_STEP = 30


BATCH_SIZES: list[int] = []  # sizes of the batched calls (the in-process cluster shares this module)


class FailingMLPlanner(MLPlanner):
    """The learned planner, raising at one iteration of one scenario (in its features, i.e. inside the batch)."""

    @classmethod
    def compute_planner_trajectories(cls, planners: Sequence[BatchPlanner],
                                     inputs: Sequence[PlannerInput]) -> list[Trajectory]:
        BATCH_SIZES.append(len(planners))
        return super().compute_planner_trajectories(planners, inputs)

    def _features(self, current_input: PlannerInput):  # type: ignore[no-untyped-def]
        if self.scenario_name == FAILING_SCENARIO and current_input.iteration.index == FAIL_AT_STEP:
            raise RuntimeError("planner failed on purpose")
        return super()._features(current_input)


class HookCounter(AbstractCallback):
    """Counts the hooks fired for its own simulation."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()

    def __getattribute__(self, name: str):  # type: ignore[no-untyped-def]
        if name.startswith("on_"):
            self.calls[name] += 1
        return super().__getattribute__(name)


def ml_runners(planner_class: type[MLPlanner] = MLPlanner, count: int = SCENARIOS) -> list[SimulationRunner]:
    scenarios = build_synthetic_scenarios(ScenarioFilter(limit_total_scenarios=count), lazy=False)
    runners = build_simulation_runners(scenarios, [planner_class], [HookCounter])
    for runner in runners:
        runner.planner.scenario_name = runner.scenario.scenario_name  # type: ignore[attr-defined]
    return runners


def planned(runner: SimulationRunner) -> list[np.ndarray]:
    return [sample.trajectory.states for sample in runner.simulation.history.samples]


def test_lockstep_and_one_at_a_time_give_identical_histories_and_hooks() -> None:
    alone = ml_runners()
    together = ml_runners()
    assert can_lockstep(together)
    solo_outcomes = [simulate(runner) for runner in alone]
    group_outcomes = simulate_lockstep(together)
    assert all(outcome.report.succeeded for outcome in solo_outcomes + group_outcomes)
    for solo, group in zip(alone, together):
        assert solo.simulation.history == group.simulation.history
        assert all(np.array_equal(a, b) for a, b in zip(planned(solo), planned(group)))
        solo_hooks = solo.simulation.callback.callbacks[0].calls  # type: ignore[attr-defined]
        group_hooks = group.simulation.callback.callbacks[0].calls  # type: ignore[attr-defined]
        assert solo_hooks == group_hooks and solo_hooks["on_step_start"] == len(solo.simulation.history)
    for solo_outcome, group_outcome in zip(solo_outcomes, group_outcomes):
        assert solo_outcome.report.scenario_name == group_outcome.report.scenario_name
        assert [work.name for work in solo_outcome.work] == [work.name for work in group_outcome.work]
        runtimes = group_outcome.report.planner_report.compute_trajectory_runtimes  # type: ignore[union-attr]
        assert len(runtimes) == len(together[0].simulation.history)


def test_a_failure_in_one_simulation_fails_only_that_runner() -> None:
    alone = ml_runners()
    together = ml_runners(FailingMLPlanner)
    for runner in alone:
        simulate(runner)
    outcomes = simulate_lockstep(together)
    failed = [outcome.report for outcome in outcomes if not outcome.report.succeeded]
    assert [report.scenario_name for report in failed] == [FAILING_SCENARIO]
    assert failed[0].error_stage == "simulation" and "planner failed on purpose" in (failed[0].error_message or "")
    for solo, group in zip(alone, together):
        if group.scenario.scenario_name == FAILING_SCENARIO:
            assert len(group.simulation.history) == FAIL_AT_STEP
        else:
            assert solo.simulation.history == group.simulation.history


class BrokenBatchPlanner(BatchPlanner, SimplePlanner):
    """Plans alone correctly, but its batched call always raises: every step falls back to one at a time."""

    @classmethod
    def compute_planner_trajectories(cls, planners: Sequence[BatchPlanner],
                                     inputs: Sequence[PlannerInput]) -> list[Trajectory]:
        raise RuntimeError("no batch today")


def test_a_failing_batched_call_falls_back_to_one_at_a_time() -> None:
    scenarios = build_synthetic_scenarios(ScenarioFilter(limit_total_scenarios=3), lazy=False)
    alone = build_simulation_runners(scenarios, [SimplePlanner])
    together = build_simulation_runners(scenarios, [BrokenBatchPlanner])
    for runner in alone:
        runner.run()
    outcomes = simulate_lockstep(together)
    assert all(outcome.report.succeeded for outcome in outcomes)
    for solo, group in zip(alone, together):
        assert solo.simulation.history == group.simulation.history


def test_only_matching_batch_planners_go_in_lockstep() -> None:
    scenarios = build_synthetic_scenarios(ScenarioFilter(limit_total_scenarios=2), lazy=False)
    assert not can_lockstep(build_simulation_runners(scenarios, [SimplePlanner]))
    assert not can_lockstep(build_simulation_runners(scenarios[:1], [MLPlanner]))
    assert can_lockstep(build_simulation_runners(scenarios, [MLPlanner]))


@pytest.fixture(scope="module")
def pool() -> Iterator[DaskDistributed]:
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address="127.0.0.1:0") as cluster, \
            DaskDistributed(cluster=cluster, lockstep_group_size=4, max_in_flight_per_slot=1) as dask_pool:
        yield dask_pool


def test_on_dask_a_lockstep_group_keeps_one_report_per_runner(pool: DaskDistributed) -> None:
    runners = ml_runners(FailingMLPlanner)
    BATCH_SIZES.clear()
    reports = execute_runners(runners, pool, num_gpus=0, num_cpus=1)
    assert max(BATCH_SIZES) == 4  # groups of 4 stepped in lockstep on the worker
    assert [report.scenario_name for report in reports] == [runner.scenario.scenario_name for runner in runners]
    assert [report.scenario_name for report in reports if not report.succeeded] == [FAILING_SCENARIO]
    succeeded = [report for report in reports if report.succeeded]
    # every successful runner planned each of its steps, whichever group it ran in
    assert all(len(report.planner_report.compute_trajectory_runtimes) == 151  # type: ignore[union-attr]
               for report in succeeded)


def test_each_simulation_of_a_lockstep_group_keeps_its_own_time_limit() -> None:
    outcomes = simulate_lockstep(ml_runners(count=3), time_limit_s=1e-4)
    assert [outcome.report.error_stage for outcome in outcomes] == ["timeout"] * 3
    assert all("time limit" in (outcome.report.error_message or "") for outcome in outcomes)
