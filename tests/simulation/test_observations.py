"""Reactive IDM agents: they stop for a stopped ego and replay the log when nothing is in their way."""

from __future__ import annotations

import numpy as np
from road_scenarios import StraightAgent, straight_road_scenario

from dask_runner.planners import LogFuturePlanner
from dask_runner.runner.simulation_builder import build_simulation_runners
from dask_runner.scenarios.state import TrackedObjects, VehicleParameters
from dask_runner.simulation.history import SimulationHistory
from dask_runner.simulation.observation import IDMAgents, TracksObservation


def _agent_track(history: SimulationHistory, track_id: int) -> np.ndarray:
    """Centre poses [T, 3] of one agent (NaN where absent)."""
    out = np.full((len(history), 3), np.nan)
    for k, sample in enumerate(history.samples):
        rows = np.flatnonzero(sample.observation.track_ids == track_id)
        if rows.size:
            out[k] = sample.observation.poses[rows[0]]
    return out


def _run_with_stopped_ego(observation: str) -> tuple[SimulationHistory, float]:
    """Ego parked at x = 0 (rear axle); an agent comes from behind at 10 m/s in the same lane."""
    scenario = straight_road_scenario(ego_speed=0.0, agents=(StraightAgent(7, -60.0, 10.0),))
    runner = build_simulation_runners(
        [scenario], [LogFuturePlanner], ego_controller="perfect_tracking", observation=observation
    )[0]
    runner.run()
    ego_rear_bumper = -VehicleParameters().rear_length
    return runner.simulation.history, ego_rear_bumper


def test_idm_agents_stop_behind_a_stopped_ego_instead_of_driving_into_it() -> None:
    history, ego_rear_bumper = _run_with_stopped_ego("idm_agents")
    track = _agent_track(history, 7)
    agent_front = track[:, 0] + 4.5 / 2
    assert np.all(agent_front < ego_rear_bumper)  # never overlaps the ego
    assert ego_rear_bumper - agent_front[-1] < 5.0  # it did come close: it queues, not stops far away
    final_speed = np.hypot(*history.last().observation.velocities[0])
    assert final_speed < 0.05


def test_log_replay_agents_do_drive_through_a_stopped_ego() -> None:
    # The same situation with log replay: the reason reactive agents exist.
    history, ego_rear_bumper = _run_with_stopped_ego("tracks")
    assert np.nanmax(_agent_track(history, 7)[:, 0] + 4.5 / 2) > ego_rear_bumper


def test_idm_agents_replay_the_log_when_nothing_is_in_their_way() -> None:
    agents = (
        StraightAgent(2, -40.0, 14.0, y=-3.5),
        StraightAgent(4, 10.0, 6.0, y=7.0),
        StraightAgent(1, 20.0, 8.0, y=3.5),
        StraightAgent(3, 80.0, 0.0, y=3.5),  # parked in agent 1's lane
    )
    scenario = straight_road_scenario(agents=agents)
    runner = build_simulation_runners(
        [scenario], [LogFuturePlanner], ego_controller="perfect_tracking", observation="idm_agents"
    )[0]
    runner.run()
    history = runner.simulation.history
    for k, agent in enumerate(agents[:2]):
        simulated = _agent_track(history, agent.track_id)
        recorded = scenario.agent_poses[:, k]
        assert np.abs(simulated - recorded).max() < 0.5
    # Agent 1 reaches the parked agent 3 in its lane: it queues behind it instead of overlapping it.
    gap = _agent_track(history, 3)[:, 0] - _agent_track(history, 1)[:, 0]
    assert gap.min() > 4.5
    assert gap[-1] < 10.0


def test_observations_say_they_provide_tracked_objects() -> None:
    scenario = straight_road_scenario(n_steps=5)
    assert IDMAgents(scenario).observation_type() is TrackedObjects
    assert TracksObservation(scenario).observation_type() is TrackedObjects


def test_idm_agents_appear_at_their_first_recorded_iteration() -> None:
    scenario = straight_road_scenario(n_steps=30, agents=(StraightAgent(4, 30.0, 5.0),))
    scenario.agent_poses[:10, 0] = np.nan  # absent for the first second
    runner = build_simulation_runners([scenario], [LogFuturePlanner], observation="idm_agents")[0]
    runner.run()
    present = [4 in s.observation.track_ids for s in runner.simulation.history.samples]
    assert present == [False] * 10 + [True] * 20
    first = runner.simulation.history.samples[10].observation
    assert np.allclose(first.poses[0], scenario.agent_poses[10, 0])
