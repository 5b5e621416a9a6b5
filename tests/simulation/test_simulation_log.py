"""Simulation logs: exact round trips in every format, earlier versions' files still read, nuPlan's path layout,
and clear errors on bad files."""

from __future__ import annotations

import lzma
from pathlib import Path

import msgpack
import numpy as np
import pytest
import zstandard

from dask_runner.errors import ConfigError, SimulationLogError
from dask_runner.scenarios.abstract_map import Lane
from dask_runner.scenarios.map import ArrayMap
from dask_runner.scenarios.scenario import Scenario
from dask_runner.scenarios.state import (
    EGO_DIM,
    EgoState,
    StateSE2,
    TrackedObjects,
    TrafficLightStatus,
    Trajectory,
)
from dask_runner.simulation.history import SimulationHistory, SimulationHistorySample, SimulationIteration
from dask_runner.simulation.simulation_log import SUFFIXES, SimulationLog, simulation_log_path

STEPS = 150
# Logs written by dask_runner's format version 1 (before zstandard) from straight_scenario() and
# replay_history(): real files of the earlier writer, kept to check that they still load.
OLD_LOGS = Path(__file__).parent / "data"


def straight_scenario() -> Scenario:
    xs = np.linspace(0.0, 300.0, 61)
    centre = np.stack([xs, np.zeros_like(xs)], axis=1)
    lane = Lane("l0", centre, centre + [0, 1.75], centre - [0, 1.75], 15.0)
    t = np.arange(STEPS) * 0.1
    ego = np.zeros((STEPS, EGO_DIM))
    ego[:, 0], ego[:, 1], ego[:, 4] = t, 10.0 + 10.0 * t, 10.0
    poses = np.full((STEPS, 2, 3), np.nan)
    poses[:, 0] = np.stack([40.0 + 11.0 * t, np.zeros_like(t), np.zeros_like(t)], axis=1)
    poses[50:, 1] = [200.0, 0.0, 0.0]  # a parked car appearing at step 50
    velocities = np.zeros((STEPS, 2, 2))
    velocities[:, 0, 0] = 11.0
    return Scenario(
        token="tok-1", scenario_name="straight/1", log_name="log a", scenario_type="following",
        map_api=ArrayMap("straight", [lane]), expert_ego=ego,
        agent_track_ids=np.array([1, 2]), agent_types=np.array([0, 3], np.int8),
        agent_sizes=np.array([[4.5, 2.0], [4.0, 1.8]]), agent_poses=poses, agent_velocities=velocities,
        route_lane_ids=("l0",), mission_goal=StateSE2(150.0, 0.0, 0.0),
        traffic_light_ids=("tl1",), traffic_light_states=np.where(t[:, None] < 5.0, 2, 0).astype(np.int8),
    )


def replay_history(scenario: Scenario) -> SimulationHistory:
    history = SimulationHistory()
    expert = scenario.get_expert_ego_trajectory().states
    for i in range(scenario.get_number_of_iterations()):
        end = min(i + 20, STEPS)
        plan = expert[max(end - 20, 0) : end] if end - i >= 2 else expert[-2:]
        history.add_sample(SimulationHistorySample(
            SimulationIteration(i, float(expert[i, 0])), EgoState.from_array(expert[i]), Trajectory(plan.copy()),
            scenario.get_tracked_objects_at_iteration(i), scenario.get_traffic_light_status_at_iteration(i),
        ))
    return history


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return straight_scenario()


@pytest.mark.parametrize("kind", ["msgpack", "pickle"])
def test_a_saved_log_reloads_to_an_equal_history_and_scenario(tmp_path: Path, scenario: Scenario, kind: str) -> None:
    history = replay_history(scenario)
    path = simulation_log_path(tmp_path, "idm/planner", scenario, kind)
    SimulationLog(path, scenario, "idm/planner", history).save_to_file()
    loaded = SimulationLog.load_data(path)
    assert loaded.simulation_history == history
    assert loaded.planner_name == "idm/planner"
    assert loaded.scenario.to_dict().keys() == scenario.to_dict().keys()  # type: ignore[attr-defined]
    assert loaded.scenario.token == scenario.token
    assert np.array_equal(loaded.scenario.expert_ego_states, scenario.expert_ego_states)  # type: ignore[attr-defined]
    assert np.array_equal(loaded.scenario.agent_poses, scenario.agent_poses, equal_nan=True)  # type: ignore[attr-defined]
    assert set(loaded.scenario.map_api.lanes) == {"l0"}
    sample = loaded.simulation_history.samples[10]
    assert sample.traffic_light_status == {"tl1": TrafficLightStatus.RED}
    assert sample.observation.agent_types.dtype == np.int8
    assert path.relative_to(tmp_path).parts == ("idm_planner", "following", "log_a", f"straight_1{SUFFIXES[kind]}")


def test_a_msgpack_log_is_compact(tmp_path: Path, scenario: Scenario) -> None:
    history = replay_history(scenario)
    msgpack_path = SimulationLog(tmp_path / "a.msgpack.zst", scenario, "p", history).save_to_file()
    pickle_path = SimulationLog(tmp_path / "a.pkl.xz", scenario, "p", history).save_to_file()
    earlier_path = SimulationLog(tmp_path / "a.msgpack.xz", scenario, "p", history).save_to_file()
    assert msgpack_path.stat().st_size < pickle_path.stat().st_size
    assert msgpack_path.stat().st_size <= earlier_path.stat().st_size  # no larger than version 1's xz
    assert not list(tmp_path.glob(".*tmp"))  # nothing half-written left behind


def read_document(path: Path) -> dict[str, object]:
    """The raw msgpack map of a .msgpack.zst log, extensions left undecoded."""
    document = msgpack.unpackb(zstandard.ZstdDecompressor().decompress(path.read_bytes()), raw=False)
    assert isinstance(document, dict)
    return document


def test_log_replay_observations_are_stored_once_and_reload_as_the_scenarios_own(
    tmp_path: Path, scenario: Scenario
) -> None:
    history = replay_history(scenario)
    path = SimulationLog(tmp_path / "replay.msgpack.zst", scenario, "p", history).save_to_file()
    document = read_document(path)
    assert document["version"] == 2
    stored = document["history"]
    assert isinstance(stored, dict)
    assert stored["observations_are_scenario_replay"] is True and "poses" not in stored
    loaded = SimulationLog.load_data(path)
    assert loaded.simulation_history == history
    for sample in loaded.simulation_history.samples:  # the very objects a replay simulation observes
        assert sample.observation is loaded.scenario.get_tracked_objects_at_iteration(sample.iteration.index)


def test_observations_that_differ_from_the_scenario_by_one_bit_are_stored_in_full(
    tmp_path: Path, scenario: Scenario
) -> None:
    history = replay_history(scenario)
    sample = history.samples[70]
    moved = sample.observation.velocities.copy()
    moved[0, 1] = -0.0  # equal to 0.0 for np.array_equal, a different value all the same
    history.samples[70] = SimulationHistorySample(
        sample.iteration, sample.ego_state, sample.trajectory,
        TrackedObjects(sample.observation.track_ids, sample.observation.agent_types, sample.observation.poses,
                       moved, sample.observation.sizes),
        sample.traffic_light_status,
    )
    path = SimulationLog(tmp_path / "reactive.msgpack.zst", scenario, "p", history).save_to_file()
    stored = read_document(path)["history"]
    assert isinstance(stored, dict) and "observations_are_scenario_replay" not in stored and "poses" in stored
    loaded = SimulationLog.load_data(path).simulation_history
    assert loaded == history
    assert np.signbit(loaded.samples[70].observation.velocities[0, 1])
    assert not np.signbit(loaded.samples[69].observation.velocities[0, 1])


def test_float_arrays_round_trip_bit_for_bit(tmp_path: Path, scenario: Scenario) -> None:
    """Differenced bit patterns (extension code 2) restore every float exactly: NaN, infinities, -0.0,
    subnormals, the extremes, float32 and any shape."""
    special = np.array([np.nan, -np.inf, np.inf, -0.0, 0.0, 5e-324, -1.7976931348623157e308, 1.7976931348623157e308])
    rng = np.random.default_rng(7)
    poses = scenario.agent_poses.copy()
    poses[:8, 0, 2] = special  # wraps around int64 when differenced
    poses[8:, 0, 2] = rng.standard_normal(STEPS - 8) * 1e300
    history = replay_history(scenario)
    odd = Scenario.from_dict({**scenario.to_dict(), "agent_poses": poses})
    path = SimulationLog(tmp_path / "odd.msgpack.zst", odd, "p", history).save_to_file()
    loaded = SimulationLog.load_data(path).scenario
    assert loaded.agent_poses.tobytes() == poses.tobytes()  # type: ignore[attr-defined]
    assert loaded.expert_ego_states.tobytes() == scenario.expert_ego_states.tobytes()  # type: ignore[attr-defined]

    from dask_runner.simulation.simulation_log import _decode_ext, _encode_delta

    for array in (rng.standard_normal((5, 3, 2)).astype(np.float32), special.reshape(2, 4), np.zeros((3, 0))):
        ext = _encode_delta(array)
        back = _decode_ext(ext.code, ext.data)
        assert back.dtype == array.dtype and back.shape == array.shape and back.tobytes() == array.tobytes()


@pytest.mark.parametrize("suffix", [".msgpack.xz", ".pkl.xz"])
def test_logs_written_by_format_version_1_still_load(suffix: str) -> None:
    loaded = SimulationLog.load_data(OLD_LOGS / f"straight_1_v1{suffix}")
    scenario = straight_scenario()
    assert loaded.simulation_history == replay_history(scenario)
    assert loaded.planner_name == "idm/planner" and loaded.scenario.token == scenario.token
    assert np.array_equal(loaded.scenario.agent_poses, scenario.agent_poses, equal_nan=True)  # type: ignore[attr-defined]


def test_a_log_of_a_newer_format_version_says_to_upgrade(tmp_path: Path) -> None:
    document = {"format": "dask_runner.simulation_log", "version": 99}
    path = tmp_path / "future.msgpack.zst"
    path.write_bytes(zstandard.ZstdCompressor().compress(msgpack.packb(document)))
    with pytest.raises(SimulationLogError, match="version 99.*upgrade"):
        SimulationLog.load_data(path)


def test_empty_observations_and_an_empty_history_survive(tmp_path: Path, scenario: Scenario) -> None:
    history = SimulationHistory()
    path = SimulationLog(tmp_path / "empty.msgpack.zst", scenario, "p", history).save_to_file()
    assert SimulationLog.load_data(path).simulation_history == history
    one = replay_history(scenario)
    one.samples[:] = [SimulationHistorySample(
        one.samples[0].iteration, one.samples[0].ego_state, one.samples[0].trajectory, TrackedObjects.empty())]
    path = SimulationLog(tmp_path / "one.msgpack.zst", scenario, "p", one).save_to_file()
    assert SimulationLog.load_data(path).simulation_history == one


@pytest.mark.parametrize("kind", ["msgpack", "pickle"])
def test_truncated_and_corrupt_logs_raise_naming_the_file(tmp_path: Path, scenario: Scenario, kind: str) -> None:
    path = simulation_log_path(tmp_path, "p", scenario, kind)
    SimulationLog(path, scenario, "p", replay_history(scenario)).save_to_file()
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(SimulationLogError, match=str(path.name)):
        SimulationLog.load_data(path)
    path.write_bytes(b"not a log at all" * 10)
    with pytest.raises(SimulationLogError, match=str(path.name)):
        SimulationLog.load_data(path)
    compress = zstandard.ZstdCompressor().compress if path.name.endswith(".zst") else lzma.compress
    path.write_bytes(compress(b"\x93\x01\x02"))  # valid compression, wrong content
    with pytest.raises(SimulationLogError, match=str(path.name)):
        SimulationLog.load_data(path)


def test_missing_file_and_unknown_suffix_are_clear(tmp_path: Path) -> None:
    with pytest.raises(SimulationLogError, match="does not exist"):
        SimulationLog.load_data(tmp_path / "nope.msgpack.zst")
    with pytest.raises(SimulationLogError, match="unknown suffix"):
        SimulationLog.load_data(tmp_path / "log.json")
    with pytest.raises(ConfigError, match="serialization_type"):
        simulation_log_path(tmp_path, "p", straight_scenario(), "json")
