"""SimulationRunner on the real substrate: nuPlan's hook order, the planner report, no catching."""

from __future__ import annotations

from typing import Any

import pytest

from dask_runner import AbstractCallback, SimulationRunner, run_simulation
from dask_runner.planners import IDMPlanner, SimplePlanner
from dask_runner.runner.simulation_builder import build_simulation_runners
from dask_runner.scenarios.synthetic import generate_scenario


class RecordingCallback(AbstractCallback):
    def __init__(self) -> None:
        self.calls: list[str] = []

    def __getattribute__(self, name: str) -> Any:
        attr = object.__getattribute__(self, name)
        if name.startswith("on_"):
            def record(*args: Any) -> None:
                object.__getattribute__(self, "calls").append(name)
            return record
        return attr


class ExplodingPlanner(SimplePlanner):
    def compute_planner_trajectory(self, current_input):  # type: ignore[no-untyped-def]
        if current_input.iteration.index == 3:
            raise ZeroDivisionError("planner bug at step 3")
        return super().compute_planner_trajectory(current_input)


def test_hooks_fire_in_nuplans_order_and_the_report_carries_the_planner_report() -> None:
    scenario = generate_scenario("following_lane_with_lead", seed=3)
    [runner] = build_simulation_runners([scenario], [IDMPlanner], [RecordingCallback])
    assert isinstance(runner, SimulationRunner)
    report = runner.run()

    callback = runner.simulation.callback.callbacks[0]
    steps = scenario.get_number_of_iterations()
    expected = ["on_simulation_start", "on_initialization_start", "on_initialization_end"]
    expected += ["on_step_start", "on_planner_start", "on_planner_end", "on_step_end"] * steps
    expected += ["on_simulation_end"]
    assert callback.calls == expected

    assert report.succeeded and report.error_message is None
    assert report.scenario_name == scenario.scenario_name and report.log_name == scenario.log_name
    assert report.planner_name == runner.planner.name()
    assert report.planner_report is not None
    assert len(report.planner_report.compute_trajectory_runtimes) == steps
    assert report.end_time is not None and report.end_time > report.start_time > 1e9  # epoch seconds


def test_run_does_not_catch_but_run_simulation_does() -> None:
    scenario = generate_scenario("changing_lane", seed=1)
    [runner] = build_simulation_runners([scenario], [ExplodingPlanner])
    with pytest.raises(ZeroDivisionError):
        runner.run()
    [runner] = build_simulation_runners([scenario], [ExplodingPlanner])
    report = run_simulation(runner)
    assert not report.succeeded and report.error_stage == "simulation"
    assert "planner bug at step 3" in (report.error_message or "")
    assert report.runner_id == runner.runner_id
