"""The real NGSIM scenarios load as simulation-ready scenarios with a legit expert drive."""

from __future__ import annotations

import pickle
import time
from pathlib import Path

import numpy as np
import pytest

from dask_runner.errors import ScenarioError
from dask_runner.scenarios.commonroad import load_commonroad_scenario, load_commonroad_scenarios
from dask_runner.scenarios.data_fetch import DATA_DIR_ENV, fetch_ngsim_scenarios, main, ngsim_scenario_paths
from dask_runner.scenarios.scenario import Scenario
from dask_runner.scenarios.state import (
    HEADING,
    VELOCITY,
    AgentType,
    TrafficLightStatus,
    X,
    Y,
    rear_axle_to_center,
)


@pytest.fixture(scope="session")
def scenarios(ngsim_paths: list[Path]) -> dict[str, Scenario]:
    loaded = {}
    for path in ngsim_paths:
        scenario = load_commonroad_scenario(path)
        loaded[scenario.scenario_name] = scenario
    return loaded


def test_fetch_is_a_no_op_when_the_files_are_present(ngsim_paths: list[Path]) -> None:
    mtimes = [p.stat().st_mtime_ns for p in ngsim_paths]
    started = time.perf_counter()
    again = fetch_ngsim_scenarios(ngsim_paths[0].parent)
    assert time.perf_counter() - started < 2.0
    assert again == ngsim_paths
    assert [p.stat().st_mtime_ns for p in again] == mtimes


def test_fetch_command_prints_the_files(ngsim_paths: list[Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--data-dir", str(ngsim_paths[0].parent)]) == 0
    assert capsys.readouterr().out.split() == [str(p) for p in ngsim_paths]


def test_all_four_load_with_names_and_types(scenarios: dict[str, Scenario]) -> None:
    assert set(scenarios) == {
        "USA_US101-3_1_T-1",
        "USA_US101-3_3_T-1",
        "USA_US101-23_1_T-1",
        "USA_Lanker-2_23_T-1",
    }
    assert scenarios["USA_US101-3_1_T-1"].log_name == "USA_US101-3"
    assert scenarios["USA_Lanker-2_23_T-1"].log_name == "USA_Lanker-2"
    assert scenarios["USA_US101-23_1_T-1"].scenario_type == "ngsim_highway"
    assert scenarios["USA_Lanker-2_23_T-1"].scenario_type == "ngsim_urban"
    assert len({s.token for s in scenarios.values()}) == 4


@pytest.mark.parametrize(
    ("name", "steps"),
    [
        ("USA_US101-3_1_T-1", 81),
        ("USA_US101-3_3_T-1", 32),
        ("USA_US101-23_1_T-1", 141),
        ("USA_Lanker-2_23_T-1", 81),
    ],
)
def test_shapes_are_consistent(scenarios: dict[str, Scenario], name: str, steps: int) -> None:
    scenario = scenarios[name]
    n = scenario.get_number_of_iterations()
    assert n == steps
    assert scenario.database_interval == pytest.approx(0.1)
    ego = scenario.expert_ego_states
    assert np.allclose(np.diff(ego[:, 0]), 0.1)
    a = scenario.agent_track_ids.shape[0]
    assert a > 5
    assert scenario.agent_poses.shape == (n, a, 3) and scenario.agent_velocities.shape == (n, a, 2)
    assert scenario.agent_sizes.shape == (a, 2) and np.all(scenario.agent_sizes > 0.5)
    assert len(np.unique(scenario.agent_track_ids)) == a
    # Every agent is present at some step; velocities are there exactly where poses are.
    present = ~np.isnan(scenario.agent_poses[..., 0])
    assert present.any(axis=0).all()
    assert np.array_equal(present, ~np.isnan(scenario.agent_velocities[..., 0]))
    objects = scenario.get_tracked_objects_at_iteration(n - 1)
    assert len(objects) == int(present[-1].sum())
    assert scenario.get_expert_ego_trajectory().states.shape == (n, ego.shape[1])


def test_expert_drives_inside_the_mapped_lanes(scenarios: dict[str, Scenario]) -> None:
    for scenario in scenarios.values():
        ego = scenario.expert_ego_states
        centres = rear_axle_to_center(ego, scenario.ego_vehicle_parameters)
        drivable = scenario.map_api.points_in_drivable_area
        assert drivable(ego[:, [X, Y]]).mean() >= 0.99, scenario.scenario_name
        assert drivable(centres[:, :2]).all(), scenario.scenario_name


def test_expert_is_a_plausible_drive(scenarios: dict[str, Scenario]) -> None:
    for scenario in scenarios.values():
        ego = scenario.expert_ego_states
        params = scenario.ego_vehicle_parameters
        assert np.all(ego[:, VELOCITY] >= 0.0)
        assert np.abs(ego[:, 5]).max() <= 4.0 + 1e-9, scenario.scenario_name  # smoothed acceleration
        assert np.abs(ego[:, 6]).max() <= params.max_steering_angle
        # The recorded vehicle moves and its speed matches its displacement.
        step = np.hypot(*np.diff(ego[:, [X, Y]], axis=0).T) / scenario.database_interval
        assert np.sum(step) * scenario.database_interval > 1.0
        assert np.abs(step - ego[1:, VELOCITY]).mean() < 1.0, scenario.scenario_name
        assert 3.0 < params.length < 7.0 and 1.4 < params.width < 2.7


def _recorded_ego_id(path: Path, scenario: Scenario) -> int:
    """The recorded vehicle whose first state is where the expert starts (the promoted ego)."""
    from commonroad.common.file_reader import CommonRoadFileReader

    cr_scenario, _ = CommonRoadFileReader(str(path)).open()
    centre = rear_axle_to_center(scenario.expert_ego_states[0], scenario.ego_vehicle_parameters)
    matches = [
        int(o.obstacle_id)
        for o in cr_scenario.dynamic_obstacles
        if np.hypot(*(np.asarray(o.initial_state.position) - centre[:2])) < 1e-6
    ]
    assert len(matches) == 1, scenario.scenario_name
    return matches[0]


def test_default_ego_token_is_known_from_the_file_name(scenarios: dict[str, Scenario]) -> None:
    for name, scenario in scenarios.items():
        assert scenario.token == f"commonroad-{name}"


def test_ego_is_not_among_the_agents(ngsim_paths: list[Path], scenarios: dict[str, Scenario]) -> None:
    for path in ngsim_paths:
        scenario = scenarios[path.stem]
        ego_id = _recorded_ego_id(path, scenario)
        assert ego_id not in scenario.agent_track_ids.tolist()
        centres = rear_axle_to_center(scenario.expert_ego_states, scenario.ego_vehicle_parameters)
        gaps = np.hypot(*(scenario.agent_poses[..., :2] - centres[:, None, :2]).transpose(2, 0, 1))
        assert np.nanmin(gaps) > 1.0, scenario.scenario_name  # nobody sits where the ego is


def test_route_and_goal_follow_the_expert(scenarios: dict[str, Scenario]) -> None:
    for scenario in scenarios.values():
        route = scenario.get_route_lane_ids()
        assert route and len(set(route)) == len(route)
        first = scenario.map_api.get_lane(route[0])
        assert first.length > 1.0
        ego = scenario.expert_ego_states
        goal = scenario.get_mission_goal()
        assert goal is not None
        assert (goal.x, goal.y, goal.heading) == pytest.approx((ego[-1, X], ego[-1, Y], ego[-1, HEADING]))
        lane_id, _, lateral = scenario.map_api.closest_lane(goal.x, goal.y, goal.heading)
        assert lane_id in route and abs(lateral) < 3.0, scenario.scenario_name


def test_urban_map_has_signed_speed_limits_and_lights(scenarios: dict[str, Scenario]) -> None:
    urban = scenarios["USA_Lanker-2_23_T-1"]
    limits = {lane.speed_limit_mps for lane in urban.map_api.lanes.values()}
    assert limits <= {3.5763, 11.176, 13.4112, 15.0} and 13.4112 in limits
    governed = [lane for lane in urban.map_api.lanes.values() if lane.traffic_light_id is not None]
    assert governed and all(lane.stop_line is not None for lane in governed)
    status = urban.get_traffic_light_status_at_iteration(0)
    assert {lane.traffic_light_id for lane in governed} <= set(status)
    assert TrafficLightStatus.RED in status.values()
    highway = scenarios["USA_US101-3_1_T-1"]
    assert {lane.speed_limit_mps for lane in highway.map_api.lanes.values()} == {29.0}
    assert highway.get_traffic_light_status_at_iteration(0) == {}
    assert all(lane.successors or lane.predecessors for lane in highway.map_api.lanes.values())


def test_scenarios_pickle_for_the_workers(scenarios: dict[str, Scenario]) -> None:
    scenario = scenarios["USA_US101-3_3_T-1"]
    copy = pickle.loads(pickle.dumps(scenario))
    assert copy.token == scenario.token
    assert np.array_equal(copy.expert_ego_states, scenario.expert_ego_states)
    assert np.array_equal(copy.agent_poses, scenario.agent_poses, equal_nan=True)
    assert copy.map_api.points_in_drivable_area(scenario.expert_ego_states[:, [X, Y]]).mean() >= 0.99


def test_choose_the_ego_vehicle(ngsim_paths: list[Path], scenarios: dict[str, Scenario]) -> None:
    path = next(p for p in ngsim_paths if p.name == "USA_US101-3_3_T-1.xml")
    default = scenarios["USA_US101-3_3_T-1"]
    other_id = int(default.agent_track_ids[0])
    recorded = default.agent_poses[0, 0].copy()
    chosen = load_commonroad_scenario(path, ego_id=other_id)
    assert chosen.token.endswith(f"-ego{other_id}")
    assert other_id not in chosen.agent_track_ids.tolist()
    centre = rear_axle_to_center(chosen.expert_ego_states[0], chosen.ego_vehicle_parameters)
    assert centre[:2] == pytest.approx(recorded[:2])
    with pytest.raises(ScenarioError, match="ego_id 123456789 is not a dynamic obstacle"):
        load_commonroad_scenario(path, ego_id=123456789)


def test_load_a_folder_sorted(ngsim_paths: list[Path]) -> None:
    folder = ngsim_paths[0].parent
    names = [s.scenario_name for s in load_commonroad_scenarios(folder)]
    assert names == sorted(p.stem for p in folder.glob("*.xml"))


def test_missing_file_names_it_and_the_fetch_command(tmp_path: Path) -> None:
    missing = tmp_path / "USA_US101-3_1_T-1.xml"
    with pytest.raises(ScenarioError, match="USA_US101-3_1_T-1.xml") as info:
        load_commonroad_scenario(missing)
    assert str(missing) in str(info.value) and "data_fetch" in str(info.value)
    with pytest.raises(ScenarioError, match="does not exist"):
        load_commonroad_scenarios(tmp_path / "nowhere")
    with pytest.raises(ScenarioError, match="no CommonRoad"):
        load_commonroad_scenarios(tmp_path)


def test_missing_default_data_dir_says_to_fetch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path / "data"))
    with pytest.raises(ScenarioError, match="data_fetch"):
        load_commonroad_scenarios()
    assert ngsim_scenario_paths()[0].parent == tmp_path / "data"


def test_corrupt_xml_names_the_file(ngsim_paths: list[Path], tmp_path: Path) -> None:
    broken = tmp_path / "USA_US101-3_3_T-1.xml"
    broken.write_bytes(ngsim_paths[1].read_bytes()[:5000])
    with pytest.raises(ScenarioError, match="USA_US101-3_3_T-1.xml") as info:
        load_commonroad_scenario(broken)
    assert info.value.__cause__ is not None
    not_xml = tmp_path / "notes.xml"
    not_xml.write_text("this is not xml")
    with pytest.raises(ScenarioError, match="notes.xml"):
        load_commonroad_scenario(not_xml)


def _obstacle_xml(obstacle_id: int, role: str, kind: str, x: float, y: float, speed: float) -> str:
    return f"""<obstacle id="{obstacle_id}">
    <role>{role}</role>
    <type>{kind}</type>
    <shape><rectangle><length>4.5</length><width>2.0</width></rectangle></shape>
    <initialState>
      <position><point><x>{x}</x><y>{y}</y></point></position>
      <orientation><exact>-0.72</exact></orientation>
      <time><exact>0</exact></time>
      <velocity><exact>{speed}</exact></velocity>
    </initialState>
  </obstacle>
  """


def test_static_obstacles_stay_and_untracked_ones_appear_once(
    ngsim_paths: list[Path], tmp_path: Path
) -> None:
    # The NGSIM files record moving cars only; add a parked car and a car seen at one instant.
    source = next(p for p in ngsim_paths if p.name == "USA_US101-3_3_T-1.xml").read_text()
    at = source.index("<obstacle id=")
    extra = _obstacle_xml(9001, "static", "parkedVehicle", 10.0, -10.0, 0.0)
    extra += _obstacle_xml(9002, "dynamic", "car", 30.0, -30.0, 10.0)
    edited = tmp_path / "USA_US101-3_3_T-1.xml"
    edited.write_text(source[:at] + extra + source[at:])
    scenario = load_commonroad_scenario(edited)
    ids = scenario.agent_track_ids.tolist()
    parked, glimpsed = ids.index(9001), ids.index(9002)
    assert scenario.agent_types[parked] == AgentType.STATIC_OBJECT
    assert np.allclose(scenario.agent_poses[:, parked], [10.0, -10.0, -0.72])
    assert np.allclose(scenario.agent_velocities[:, parked], 0.0)
    assert scenario.agent_types[glimpsed] == AgentType.VEHICLE
    assert np.allclose(scenario.agent_poses[0, glimpsed], [30.0, -30.0, -0.72])
    assert np.hypot(*scenario.agent_velocities[0, glimpsed]) == pytest.approx(10.0)
    assert np.isnan(scenario.agent_poses[1:, glimpsed]).all()
    assert 9002 in scenario.get_tracked_objects_at_iteration(0).track_ids.tolist()
    assert 9002 not in scenario.get_tracked_objects_at_iteration(1).track_ids.tolist()
    # The recorded cars are all vehicles.
    others = [i for i in range(len(ids)) if i not in (parked, glimpsed)]
    assert set(scenario.agent_types[others].tolist()) == {int(AgentType.VEHICLE)}


def test_expert_replay_touches_no_recorded_vehicle(scenarios: dict[str, Scenario]) -> None:
    import shapely

    def boxes(poses: np.ndarray, lengths: np.ndarray, widths: np.ndarray) -> np.ndarray:
        cos, sin = np.cos(poses[:, 2]), np.sin(poses[:, 2])
        corners = [
            np.stack(
                [
                    poses[:, 0] + a * lengths / 2 * cos - b * widths / 2 * sin,
                    poses[:, 1] + a * lengths / 2 * sin + b * widths / 2 * cos,
                ],
                -1,
            )
            for a, b in ((1, 1), (1, -1), (-1, -1), (-1, 1))
        ]
        return shapely.polygons(np.stack(corners, 1))

    for scenario in scenarios.values():
        params = scenario.ego_vehicle_parameters
        centres = rear_axle_to_center(scenario.expert_ego_states, params)
        ego_boxes = boxes(centres, np.full(len(centres), params.length), np.full(len(centres), params.width))
        for i, ego_box in enumerate(ego_boxes):
            objects = scenario.get_tracked_objects_at_iteration(i)
            others = boxes(objects.poses, objects.sizes[:, 0], objects.sizes[:, 1])
            assert not shapely.intersects(ego_box, others).any(), (scenario.scenario_name, i)
