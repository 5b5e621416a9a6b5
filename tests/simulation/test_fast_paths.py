"""The simulation's fast paths give what the plain per-step code gives."""

from __future__ import annotations

import numpy as np

from dask_runner.planners import IDMPlanner
from dask_runner.runner.simulation_builder import build_simulation_runners
from dask_runner.scenarios.state import EgoState, Trajectory
from dask_runner.scenarios.synthetic import generate_scenario
from dask_runner.simulation.controller.trajectory_sampling import sample_trajectory


def test_history_ego_array_is_the_stacked_ego_states() -> None:
    runner = build_simulation_runners([generate_scenario("stopping_with_lead", 0)], [IDMPlanner])[0]
    runner.run()
    history = runner.simulation.history
    expected = np.stack([s.ego_state.to_array() for s in history.samples])
    assert np.array_equal(history.ego_array(), expected)


def test_sampling_with_a_shared_time_list_matches_sampling_without() -> None:
    states = np.zeros((5, 8))
    states[:, 0] = [0.0, 0.5, 1.0, 1.5, 2.0]
    states[:, 1] = [0.0, 1.0, 3.0, 6.0, 10.0]
    states[:, 3] = [3.0, -3.1, -3.0, 2.9, 3.1]  # across the +-pi seam
    times = states[:, 0].tolist()
    for t in (-1.0, 0.0, 0.2, 0.5, 0.5000004, 1.3, 2.0, 3.0):
        assert sample_trajectory(states, t, times) == sample_trajectory(states, t)
    row = sample_trajectory(states, 0.25)
    assert row[1] == 0.5 and abs(row[3]) > 3.0  # interpolated along the short arc
    assert EgoState(*sample_trajectory(Trajectory(states).states, 0.5)) == EgoState.from_array(states[1])
