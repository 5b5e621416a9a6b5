"""The runner builder: own planner and callbacks per runner, stable ids, runners that travel."""

from __future__ import annotations

import functools
import pickle

import pytest
from road_scenarios import StraightAgent, straight_road_scenario

from dask_runner.errors import ConfigError
from dask_runner.planners import IDMPlanner, LogFuturePlanner, SimplePlanner
from dask_runner.runner.simulation_builder import build_simulation_runners
from dask_runner.simulation.callback.abstract_callback import AbstractCallback
from dask_runner.simulation.history import SimulationHistorySample


class StepCounter(AbstractCallback):
    """A stateful callback, as metric and log callbacks are."""

    def __init__(self) -> None:
        self.steps = 0

    def on_step_end(self, setup: object, planner: object, sample: SimulationHistorySample) -> None:
        self.steps += 1


def _scenarios() -> list:
    agents = (StraightAgent(1, 45.0, 4.0), StraightAgent(2, -30.0, 11.0, y=3.5))
    return [straight_road_scenario(n_steps=60, agents=agents, token=t) for t in ("s1", "s2")]


def test_one_runner_per_scenario_and_planner_with_its_own_planner_and_callbacks() -> None:
    scenarios = _scenarios()
    runners = build_simulation_runners(scenarios, [SimplePlanner, IDMPlanner, LogFuturePlanner], [StepCounter])
    assert len(runners) == 6
    assert [r.scenario.token for r in runners] == ["s1"] * 3 + ["s2"] * 3
    assert len({id(r.planner) for r in runners}) == 6
    callbacks = [r.simulation.callback.callbacks[0] for r in runners]
    assert len({id(c) for c in callbacks}) == 6
    runners[0].run()
    assert [c.steps for c in callbacks] == [60, 0, 0, 0, 0, 0]
    log_planners = [r.planner for r in runners if isinstance(r.planner, LogFuturePlanner)]
    assert [p._scenario.token for p in log_planners] == ["s1", "s2"]


def test_callback_and_planner_instances_are_copied_per_runner() -> None:
    counter = StepCounter()
    planner = SimplePlanner(max_velocity=3.0)
    runners = build_simulation_runners(_scenarios(), [planner], [counter])
    copies = [r.simulation.callback.callbacks[0] for r in runners]
    assert counter not in copies and copies[0] is not copies[1]
    assert all(r.planner is not planner and r.planner.max_velocity == 3.0 for r in runners)


def test_runner_ids_are_derived_from_planner_and_scenario_and_unique() -> None:
    scenario = _scenarios()[0]
    runners = build_simulation_runners(
        [scenario, scenario], [SimplePlanner, functools.partial(SimplePlanner, max_velocity=9.0), IDMPlanner]
    )
    assert [r.runner_id for r in runners] == [
        "SimplePlanner-s1", "SimplePlanner-s1-2", "IDMPlanner-s1",
        "SimplePlanner-s1-3", "SimplePlanner-s1-4", "IDMPlanner-s1-2",
    ]
    again = build_simulation_runners([scenario, scenario], [SimplePlanner, SimplePlanner, IDMPlanner])
    assert [r.runner_id for r in again] == [r.runner_id for r in runners]  # a resumed batch finds its runners


def test_explicit_runner_ids_must_be_one_per_runner_and_unique() -> None:
    scenarios = _scenarios()
    runners = build_simulation_runners(scenarios, [SimplePlanner], runner_ids=["a", "b"])
    assert [r.runner_id for r in runners] == ["a", "b"]
    with pytest.raises(ConfigError, match="unique"):
        build_simulation_runners(scenarios, [SimplePlanner], runner_ids=["a", "a"])


def test_unknown_controller_or_observation_names_the_choices() -> None:
    with pytest.raises(ConfigError, match="perfect_tracking"):
        build_simulation_runners(_scenarios(), [SimplePlanner], ego_controller="lqr")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="idm_agents"):
        build_simulation_runners(_scenarios(), [SimplePlanner], observation="replay")  # type: ignore[arg-type]


def test_a_planner_factory_function_receives_the_scenario() -> None:
    seen = []

    def factory(scenario: object) -> SimplePlanner:
        seen.append(scenario)
        return SimplePlanner()

    scenarios = _scenarios()
    build_simulation_runners(scenarios, [factory])
    assert seen == scenarios


@pytest.mark.parametrize("observation", ["tracks", "idm_agents"])
@pytest.mark.parametrize("planner", [IDMPlanner, LogFuturePlanner, SimplePlanner])
def test_a_pickled_runner_runs_to_the_same_result(planner: type, observation: str) -> None:
    runner = build_simulation_runners(_scenarios()[:1], [planner], [StepCounter], observation=observation)[0]
    payload = pickle.dumps(runner)
    assert len(payload) < 200_000  # runners travel by the thousand: no per-run caches inside
    remote = pickle.loads(payload)
    report = runner.run()
    remote_report = remote.run()
    assert report.succeeded and remote_report.succeeded
    assert remote.runner_id == runner.runner_id
    assert remote.simulation.history == runner.simulation.history
    assert remote.simulation.callback.callbacks[0].steps == 60


def test_a_runner_that_has_run_pickles_without_its_run_caches() -> None:
    runner = build_simulation_runners(_scenarios()[:1], [IDMPlanner], observation="idm_agents")[0]
    before = len(pickle.dumps(runner))
    runner.run()
    clone = pickle.loads(pickle.dumps(runner))
    clone.run()
    assert clone.simulation.history == runner.simulation.history
    assert before < 200_000


def test_metric_and_timing_callbacks_learn_their_runner_id(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from dask_runner.metrics import build_metric_engine
    from dask_runner.planners import IDMPlanner
    from dask_runner.runner.simulation_builder import build_simulation_runners
    from dask_runner.scenarios.synthetic import generate_scenario
    from dask_runner.simulation.callback.metric_callback import MetricCallback
    from dask_runner.simulation.callback.timing_callback import TimingCallback

    scenario = generate_scenario("changing_lane", 2)
    runners = build_simulation_runners(
        [scenario, scenario], [IDMPlanner],
        [lambda: MetricCallback(build_metric_engine(), tmp_path), lambda: TimingCallback(tmp_path)],
    )
    assert [r.runner_id for r in runners] == [f"IDMPlanner-{scenario.token}", f"IDMPlanner-{scenario.token}-2"]
    for runner in runners:
        assert [cb.runner_id for cb in runner.simulation.callback.callbacks] == [runner.runner_id] * 2
