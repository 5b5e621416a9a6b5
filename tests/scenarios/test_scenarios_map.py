"""ArrayMap and polyline helpers: what planners and metrics ask of the map."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from dask_runner.errors import ScenarioError
from dask_runner.scenarios import ArrayMap, Lane, polyline


def _lane(lane_id: str, start: tuple[float, float], end: tuple[float, float], width: float = 3.6,
          limit: float = 15.0, **kw: object) -> Lane:
    center = np.linspace(start, end, 11)
    return Lane(lane_id, center, polyline.offset_polyline(center, width / 2),
                polyline.offset_polyline(center, -width / 2), limit, **kw)  # type: ignore[arg-type]


@pytest.fixture()
def two_way_road() -> ArrayMap:
    """Eastbound lanes a (y=0) then b (x 100..200), and a westbound lane w at y=3.6."""
    return ArrayMap("road", [
        _lane("a", (0, 0), (100, 0), successors=("b",)),
        _lane("b", (100, 0), (200, 0), predecessors=("a",)),
        _lane("w", (200, 3.6), (0, 3.6)),
    ])


def test_closest_lane_gives_station_and_signed_lateral(two_way_road: ArrayMap) -> None:
    assert two_way_road.closest_lane(30.0, 0.5) == pytest.approx(("a", 30.0, 0.5))
    lane, station, lateral = two_way_road.closest_lane(150.0, -0.7)
    assert (lane, station, lateral) == ("b", pytest.approx(50.0), pytest.approx(-0.7))


def test_closest_lane_skips_lanes_pointing_the_other_way(two_way_road: ArrayMap) -> None:
    # Nearer to the westbound lane, but driving east: the eastbound lane is the answer.
    lane, _, lateral = two_way_road.closest_lane(50.0, 2.5, heading=0.0)
    assert lane == "a" and lateral == pytest.approx(2.5)
    lane, station, _ = two_way_road.closest_lane(50.0, 2.5, heading=np.pi)
    assert lane == "w" and station == pytest.approx(150.0)
    # Far from any lane (beyond the spatial index's reach) the answer is still exact.
    assert two_way_road.closest_lane(50.0, 80.0)[0] == "w"


def test_batch_query_agrees_with_single_queries(two_way_road: ArrayMap) -> None:
    rng = np.random.default_rng(1)
    points = rng.uniform([-20, -30], [220, 30], size=(300, 2))
    headings = rng.uniform(-np.pi, np.pi, size=300)
    idx, stations, laterals = two_way_road.closest_lanes(points, headings)
    for p, h, i, s, lat in zip(points, headings, idx, stations, laterals):
        lane, station, lateral = two_way_road.closest_lane(p[0], p[1], h)
        assert two_way_road.lane_ids[i] == lane
        assert station == pytest.approx(s) and lateral == pytest.approx(lat)


def test_drivable_area_is_the_union_of_lanes(two_way_road: ArrayMap) -> None:
    inside = two_way_road.points_in_drivable_area(np.array([[10.0, 0.0], [150.0, 5.0], [199.0, -1.7]]))
    outside = two_way_road.points_in_drivable_area(np.array([[10.0, 7.0], [250.0, 0.0], [50.0, -2.5]]))
    assert inside.tolist() == [True, True, True]
    assert outside.tolist() == [False, False, False]
    assert two_way_road.lane_polygon("a").area == pytest.approx(100 * 3.6)


def test_round_trips_keep_every_lane_and_answer(two_way_road: ArrayMap) -> None:
    for copy in (ArrayMap.from_dict(two_way_road.to_dict()), pickle.loads(pickle.dumps(two_way_road))):
        assert copy.lane_ids == two_way_road.lane_ids
        assert copy.get_lane("a").successors == ("b",)
        np.testing.assert_array_equal(copy.get_lane("w").centerline, two_way_road.get_lane("w").centerline)
        assert copy.closest_lane(150.0, -0.7) == two_way_road.closest_lane(150.0, -0.7)
        assert copy.drivable_area.equals(two_way_road.drivable_area)


def test_to_dict_holds_only_plain_types_and_arrays(two_way_road: ArrayMap) -> None:
    def check(value: object) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                assert isinstance(k, str)
                check(v)
        elif isinstance(value, list):
            for v in value:
                check(v)
        else:
            assert value is None or isinstance(value, (str, int, float, bytes, np.ndarray)), type(value)

    check(two_way_road.to_dict())


def test_bad_lanes_and_unknown_ids_raise_scenario_error(two_way_road: ArrayMap) -> None:
    with pytest.raises(ScenarioError, match="lane_ids"):
        two_way_road.get_lane("nope")
    with pytest.raises(ScenarioError, match="two lanes with id"):
        ArrayMap("m", [_lane("a", (0, 0), (1, 0)), _lane("a", (0, 0), (1, 0))])
    bad = Lane("x", np.zeros((1, 2)), np.zeros((1, 2)), np.zeros((1, 2)), 10.0)
    with pytest.raises(ScenarioError, match="centerline"):
        ArrayMap("m", [bad])


def test_route_centerline_bridges_a_lane_change() -> None:
    m = ArrayMap("m", [_lane("a", (0, 0), (100, 0)), _lane("b", (100, 3.6), (200, 3.6))])
    line = m.route_centerline(["a", "b"])
    assert np.all(polyline.segment_lengths(line) > 0)
    # No sideways step: every segment points mostly forward.
    heading = np.arctan2(np.diff(line[:, 1]), np.diff(line[:, 0]))
    assert np.abs(heading).max() < 0.3
    assert line[0] == pytest.approx([0, 0]) and line[-1] == pytest.approx([200, 3.6])


def test_polyline_helpers_on_a_circle() -> None:
    angle = np.linspace(0, np.pi / 2, 200)
    arc = 20.0 * np.stack([np.cos(angle), np.sin(angle)], 1)  # counter-clockwise: a left turn
    length = polyline.cumulative_stations(arc)[-1]
    assert length == pytest.approx(10 * np.pi, rel=1e-3)
    mid = polyline.points_at_stations(arc, length / 2)[0]
    assert np.hypot(*mid) == pytest.approx(20.0, abs=1e-2)
    assert polyline.headings_at_stations(arc, length / 2)[0] == pytest.approx(np.pi / 2 + np.pi / 4, abs=1e-2)
    assert np.median(polyline.curvatures(arc)) == pytest.approx(1 / 20, rel=1e-2)
    station, lateral = polyline.project_points(arc, np.array([[0.0, 15.0], [21.0 * np.cos(0.3), 21.0 * np.sin(0.3)]]))
    assert lateral == pytest.approx([5.0, -1.0], abs=1e-2)  # inside the left turn is to the left
    assert station[1] == pytest.approx(20 * 0.3, abs=1e-2)
