"""Lazy scenario references: same identity as the built scenario, small pickles, built once where used."""

from __future__ import annotations

import pickle
import time
from pathlib import Path

import numpy as np
import pytest

from dask_runner.errors import ConfigError, ScenarioError
from dask_runner.planners.idm_planner import IDMPlanner
from dask_runner.planners.log_future_planner import LogFuturePlanner
from dask_runner.planners.simple_planner import SimplePlanner
from dask_runner.runner.simulation_builder import build_simulation_runners
from dask_runner.scenarios.commonroad import (
    commonroad_scenario_ref,
    load_commonroad_scenario,
    load_commonroad_scenarios,
)
from dask_runner.scenarios.scenario import Scenario
from dask_runner.scenarios.scenario_filter import ScenarioFilter, build_synthetic_scenarios
from dask_runner.scenarios.scenario_ref import LazyScenario, cached_scenario_count, clear_scenario_cache
from dask_runner.scenarios.synthetic import (
    SCENARIO_TYPES,
    generate_scenario,
    log_name,
    synthetic_scenario_ref,
)
from dask_runner.simulation.callback.simulation_log_callback import SimulationLogCallback
from dask_runner.simulation.simulation_log import SimulationLog

PLANNERS = [IDMPlanner, LogFuturePlanner, SimplePlanner]
BUILDS: list[tuple[str, int]] = []


def counted_generate(scenario_type: str, seed: int) -> Scenario:
    """generate_scenario that records each call, to count builds in this process."""
    BUILDS.append((scenario_type, seed))
    return generate_scenario(scenario_type, seed)


def counted_ref(scenario_type: str, seed: int) -> LazyScenario:
    ref = synthetic_scenario_ref(scenario_type, seed)
    _, args = ref.spec
    return LazyScenario(counted_generate, args, token=ref.token, scenario_name=ref.scenario_name,
                        log_name=ref.log_name, scenario_type=ref.scenario_type, number_of_iterations=151,
                        ego_vehicle_parameters=ref.ego_vehicle_parameters)


def identity(scenario: object) -> tuple[str, str, str, str, float]:
    return (scenario.token, scenario.scenario_name, scenario.log_name,  # type: ignore[attr-defined]
            scenario.scenario_type, scenario.database_interval)  # type: ignore[attr-defined]


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    clear_scenario_cache()
    BUILDS.clear()


def test_synthetic_refs_have_the_eager_identity_without_generating() -> None:
    pairs = [(t, seed) for t in SCENARIO_TYPES for seed in (0, 1, 2, 3, 17, 123)]
    started = time.process_time()
    refs = [synthetic_scenario_ref(t, seed) for t, seed in pairs]
    per_ref = (time.process_time() - started) / len(refs)
    assert per_ref < 2e-3  # generating costs ~10 ms or more; a ref is metadata only
    assert not any(ref.is_built for ref in refs)
    for ref, (t, seed) in zip(refs, pairs):
        eager = generate_scenario(t, seed)
        assert identity(ref) == identity(eager)
        assert ref.log_name == log_name(t, seed)
        assert ref.get_number_of_iterations() == eager.get_number_of_iterations()
        assert ref.ego_vehicle_parameters == eager.ego_vehicle_parameters
    assert not any(ref.is_built for ref in refs)


def test_built_ref_has_the_eager_content() -> None:
    ref = synthetic_scenario_ref("changing_lane", 5)
    eager = generate_scenario("changing_lane", 5)
    assert np.array_equal(ref.get_expert_ego_trajectory().states, eager.get_expert_ego_trajectory().states)
    assert ref.is_built
    # Members only the concrete class has are delegated too.
    assert np.array_equal(ref.agent_poses, eager.agent_poses, equal_nan=True)
    assert ref.get_route_lane_ids() == eager.get_route_lane_ids()
    assert ref.get_mission_goal() == eager.get_mission_goal()
    assert sorted(ref.map_api.lanes) == sorted(eager.map_api.lanes)
    assert ref.to_dict()["token"] == eager.token


def test_builder_returns_refs_by_default_and_scenarios_on_request() -> None:
    chosen = ScenarioFilter(scenario_types=["stopping_with_lead", "changing_lane"], num_scenarios_per_type=2)
    lazy = build_synthetic_scenarios(chosen)
    eager = build_synthetic_scenarios(chosen, lazy=False)
    assert all(isinstance(s, LazyScenario) and not s.is_built for s in lazy)
    assert all(isinstance(s, Scenario) for s in eager)
    assert [identity(s) for s in lazy] == [identity(s) for s in eager]


def test_bad_type_or_seed_fails_when_the_ref_is_made() -> None:
    with pytest.raises(ConfigError, match="valid types"):
        synthetic_scenario_ref("flying", 1)
    with pytest.raises(ConfigError, match="seed must be >= 0"):
        synthetic_scenario_ref("changing_lane", -1)


def test_pickle_drops_the_built_scenario() -> None:
    ref = synthetic_scenario_ref("near_multiple_vehicles", 4)
    ref.get_ego_state_at_iteration(0)
    assert ref.is_built
    blob = pickle.dumps(ref)
    assert len(blob) < 1000
    copy = pickle.loads(blob)
    assert not copy.is_built and identity(copy) == identity(ref)


def test_builds_on_first_use_once_per_process() -> None:
    refs = [pickle.loads(pickle.dumps(counted_ref("stopping_with_lead", 2))) for _ in range(3)]
    assert BUILDS == []
    for ref in refs:
        ref.get_expert_ego_trajectory()
        ref.get_tracked_objects_at_iteration(10)
    assert BUILDS == [("stopping_with_lead", 2)]
    assert cached_scenario_count() == 1


def test_runner_on_a_ref_pickles_small_and_matches_the_eager_run() -> None:
    ref = counted_ref("stopping_with_lead", 3)
    lazy_runners = build_simulation_runners([ref], PLANNERS, observation="idm_agents")
    eager_runners = build_simulation_runners([generate_scenario("stopping_with_lead", 3)], PLANNERS,
                                             observation="idm_agents")
    assert BUILDS == []  # making runners in the driver does not build the scenario
    blobs = [pickle.dumps(runner) for runner in lazy_runners]
    assert max(len(b) for b in blobs) < 5000
    assert min(len(pickle.dumps(r)) for r in eager_runners) > 20 * max(len(b) for b in blobs)
    for blob, eager in zip(blobs, eager_runners):
        remote = pickle.loads(blob)
        report, expected = remote.run(), eager.run()
        assert report.succeeded and expected.succeeded
        assert (report.scenario_name, report.log_name, report.planner_name) == (
            expected.scenario_name, expected.log_name, expected.planner_name)
        assert remote.simulation.history == eager.simulation.history
        assert len(remote.simulation.history) == 151
    assert BUILDS == [("stopping_with_lead", 3)]  # three planners, one build


def test_missing_commonroad_file_fails_when_the_ref_is_made(tmp_path: Path) -> None:
    missing = tmp_path / "USA_US101-3_1_T-1.xml"
    with pytest.raises(ScenarioError, match="does not exist") as info:
        commonroad_scenario_ref(missing)
    assert str(missing) in str(info.value)
    with pytest.raises(ScenarioError, match="does not exist"):
        load_commonroad_scenarios([missing], lazy=True)
    not_xml = tmp_path / "notes.xml"
    not_xml.write_text("this is not xml")
    with pytest.raises(ScenarioError, match="notes.xml"):
        commonroad_scenario_ref(not_xml)


def test_commonroad_refs_match_the_loaded_scenarios(ngsim_paths: list[Path]) -> None:
    started = time.perf_counter()
    refs = load_commonroad_scenarios(ngsim_paths[0].parent, lazy=True)
    assert [r.scenario_name for r in refs] == sorted(p.stem for p in ngsim_paths)
    assert time.perf_counter() - started < 3.0  # headers only (the first call imports commonroad)
    assert not any(r.is_built for r in refs)
    assert all(len(pickle.dumps(r)) < 1000 for r in refs)
    small = next(r for r in refs if r.scenario_name == "USA_US101-3_3_T-1")
    loaded = load_commonroad_scenario(ngsim_paths[0].parent / "USA_US101-3_3_T-1.xml")
    assert identity(small) == identity(loaded)
    assert np.array_equal(small.expert_ego_states, loaded.expert_ego_states)
    names = {r.scenario_name: r for r in refs}
    assert names["USA_Lanker-2_23_T-1"].scenario_type == "ngsim_urban"
    assert names["USA_US101-23_1_T-1"].scenario_type == "ngsim_highway"
    assert names["USA_US101-3_1_T-1"].log_name == "USA_US101-3"


def test_commonroad_ref_with_a_chosen_ego(ngsim_paths: list[Path]) -> None:
    path = ngsim_paths[0].parent / "USA_US101-3_3_T-1.xml"
    default = load_commonroad_scenario(path)
    other = int(default.agent_track_ids[0])
    ref = commonroad_scenario_ref(path, ego_id=other)
    assert ref.token == f"commonroad-USA_US101-3_3_T-1-ego{other}" != default.token
    assert identity(ref) == identity(load_commonroad_scenario(path, ego_id=other))
    assert other not in ref.agent_track_ids.tolist()


@pytest.mark.slow
def test_runners_on_refs_build_on_the_dask_worker(tmp_path: Path) -> None:
    """A real process cluster: only specs travel, the worker builds once for three planners, logs hold content."""
    from distributed import Client, LocalCluster

    from dask_runner.runner.run_simulation import run_simulation

    ref = synthetic_scenario_ref("following_lane_with_lead", 6)
    runners = build_simulation_runners([ref], PLANNERS, callback_factories=[lambda: SimulationLogCallback(tmp_path)])
    eager = build_simulation_runners([generate_scenario("following_lane_with_lead", 6)], PLANNERS)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address="127.0.0.1:0") as cluster, Client(cluster) as client:
        reports = client.gather([client.submit(run_simulation, r, pure=False) for r in runners])
        counts = client.run(cached_scenario_count)
    assert not ref.is_built  # the driver never built it
    assert list(counts.values()) == [1]
    assert all(report.succeeded for report in reports), [r.error_message for r in reports]
    for runner, report, expected in zip(runners, reports, eager):
        expected.run()
        assert report.scenario_name == "following_lane_with_lead-000006"
        log_path = SimulationLogCallback(tmp_path).log_path(ref, runner.planner.name())
        log = SimulationLog.load_data(log_path)
        assert isinstance(log.scenario, Scenario) and log.scenario.token == ref.token
        assert log.simulation_history == expected.simulation.history


def test_runners_and_pickle_logs_on_commonroad_refs_never_build_in_the_driver(
    ngsim_paths: list[Path], tmp_path: Path
) -> None:
    # The vehicle parameters and the length of a CommonRoad scenario are only known after parsing the
    # XML: building runners must not ask for them, or every file is parsed in the driver.
    refs = load_commonroad_scenarios(ngsim_paths[0].parent, lazy=True)
    runners = build_simulation_runners(refs, [IDMPlanner, SimplePlanner])
    assert len(runners) == 8 and not any(r.is_built for r in refs)
    small = next(r for r in refs if r.scenario_name == "USA_US101-3_3_T-1")
    log_dir = tmp_path / "logs"
    [runner] = build_simulation_runners(
        [small], [IDMPlanner], [lambda: SimulationLogCallback(log_dir, serialization_type="pickle")]
    )
    from dask_runner.runner.run_simulation import run_simulation

    assert run_simulation(runner).succeeded
    [path] = log_dir.rglob("*.pkl.xz")
    clear_scenario_cache()
    loaded = SimulationLog.load_data(path)
    assert isinstance(loaded.scenario, Scenario)  # the built scenario, not a recipe needing the XML file
