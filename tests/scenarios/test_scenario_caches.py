"""The per-scenario caches behind the fast simulation loop give what the uncached arrays give."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from dask_runner.scenarios.state import TrafficLightStatus
from dask_runner.scenarios.synthetic import generate_scenario


@pytest.fixture(scope="module")
def scenario():
    # Agents appear and leave during this one, so some iterations have only part of the agents.
    return generate_scenario("starting_left_turn", 0)


def test_tracked_objects_are_the_present_agents_of_each_iteration(scenario) -> None:
    poses, velocities = scenario.agent_poses, scenario.agent_velocities
    partial = 0
    for i in range(scenario.get_number_of_iterations()):
        present = ~np.isnan(poses[i, :, 0])
        partial += int(not present.all())
        objects = scenario.get_tracked_objects_at_iteration(i)
        assert np.array_equal(objects.track_ids, scenario.agent_track_ids[present])
        assert np.array_equal(objects.agent_types, scenario.agent_types[present])
        assert np.array_equal(objects.poses, poses[i][present])
        assert np.array_equal(objects.velocities, velocities[i][present])
        assert np.array_equal(objects.sizes, scenario.agent_sizes[present])
    assert partial > 0, "the scenario should exercise iterations where only some agents are present"


def test_negative_iterations_count_from_the_end(scenario) -> None:
    last = scenario.get_number_of_iterations() - 1
    assert np.array_equal(
        scenario.get_tracked_objects_at_iteration(-1).poses, scenario.get_tracked_objects_at_iteration(last).poses
    )


def test_cached_objects_are_read_only_so_no_caller_can_corrupt_other_simulations(scenario) -> None:
    objects = scenario.get_tracked_objects_at_iteration(3)
    with pytest.raises(ValueError):
        objects.poses[0, 0] = 1e6
    assert scenario.get_tracked_objects_at_iteration(3) is objects


def test_traffic_light_dicts_are_independent_copies() -> None:
    scenario = generate_scenario("traversing_traffic_light_intersection", 0)
    lights = scenario.get_traffic_light_status_at_iteration(10)
    row = scenario.traffic_light_states[10]
    assert lights == {lid: TrafficLightStatus(int(v)) for lid, v in zip(scenario.traffic_light_ids, row)}
    lights.clear()
    assert len(scenario.get_traffic_light_status_at_iteration(10)) == len(scenario.traffic_light_ids)


def test_pickles_carry_no_caches_and_rebuild_them(scenario) -> None:
    scenario.get_tracked_objects_at_iteration(5)
    fresh = pickle.loads(pickle.dumps(generate_scenario("starting_left_turn", 0)))
    assert len(pickle.dumps(scenario)) == len(pickle.dumps(fresh))
    copy = pickle.loads(pickle.dumps(scenario))
    assert np.array_equal(copy.get_tracked_objects_at_iteration(5).poses, scenario.get_tracked_objects_at_iteration(5).poses)


def test_time_points_are_every_iterations_time_point(scenario) -> None:
    times = scenario.get_time_points()
    assert times == [scenario.get_time_point(i) for i in range(scenario.get_number_of_iterations())]
    assert all(type(t) is float for t in times)
