"""The closed loop itself: one history sample per iteration, exact log replay, restart."""

from __future__ import annotations

import numpy as np
import pytest
from road_scenarios import StraightAgent, straight_road_scenario

from dask_runner.errors import DaskRunnerError
from dask_runner.planners import IDMPlanner, LogFuturePlanner, SimplePlanner
from dask_runner.runner.simulation_builder import build_simulation_runners
from dask_runner.scenarios.state import EGO_DIM


@pytest.mark.parametrize("n_steps", [2, 3, 40])
def test_history_has_one_sample_per_scenario_iteration(n_steps: int) -> None:
    scenario = straight_road_scenario(n_steps=n_steps, agents=(StraightAgent(1, 30.0, 5.0),))
    runner = build_simulation_runners([scenario], [SimplePlanner])[0]
    report = runner.run()

    history = runner.simulation.history
    assert report.succeeded
    assert len(history) == n_steps
    assert [s.iteration.index for s in history.samples] == list(range(n_steps))
    assert [s.iteration.time_s for s in history.samples] == [scenario.get_time_point(i) for i in range(n_steps)]
    assert np.allclose(history.ego_array()[:, 0], scenario.expert_ego_states[:, 0])
    assert len(report.planner_report.compute_trajectory_runtimes) == n_steps  # one plan per iteration
    assert history.ego_array().shape == (n_steps, EGO_DIM)


@pytest.mark.parametrize("observation", ["tracks", "idm_agents"])
def test_log_future_planner_with_perfect_tracking_reproduces_the_expert_exactly(observation: str) -> None:
    scenario = straight_road_scenario(agents=(StraightAgent(1, 40.0, 12.0, y=3.5),))
    runner = build_simulation_runners(
        [scenario], [LogFuturePlanner], ego_controller="perfect_tracking", observation=observation
    )[0]
    runner.run()
    assert np.array_equal(runner.simulation.history.ego_array(), scenario.expert_ego_states)


def test_tracks_observation_replays_the_recorded_agents() -> None:
    scenario = straight_road_scenario(agents=(StraightAgent(1, 40.0, 12.0), StraightAgent(2, -20.0, 3.0, y=3.5)))
    runner = build_simulation_runners([scenario], [SimplePlanner], observation="tracks")[0]
    runner.run()
    for sample in runner.simulation.history.samples:
        recorded = scenario.get_tracked_objects_at_iteration(sample.iteration.index)
        assert np.array_equal(sample.observation.poses, recorded.poses)
        assert np.array_equal(sample.observation.track_ids, recorded.track_ids)


def test_a_simulation_runs_again_from_the_start_after_initialize() -> None:
    scenario = straight_road_scenario(agents=(StraightAgent(1, 60.0, 0.0),))
    runner = build_simulation_runners([scenario], [IDMPlanner], observation="idm_agents")[0]
    runner.run()
    first = runner.simulation.history
    runner.run()
    assert runner.simulation.history == first
    assert runner.simulation.history is not first


def test_propagate_after_the_last_iteration_fails_with_the_fix_in_the_message() -> None:
    scenario = straight_road_scenario(n_steps=3)
    runner = build_simulation_runners([scenario], [SimplePlanner])[0]
    runner.run()
    simulation = runner.simulation
    assert not simulation.is_simulation_running()
    with pytest.raises(DaskRunnerError, match="initialize"):
        simulation.propagate(simulation.history.last().trajectory)


def test_traffic_lights_are_recorded_with_each_sample() -> None:
    scenario = straight_road_scenario(n_steps=5, light_state=2)
    runner = build_simulation_runners([scenario], [SimplePlanner])[0]
    runner.run()
    assert all(s.traffic_light_status == {"tl": 2} for s in runner.simulation.history.samples)
