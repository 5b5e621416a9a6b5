"""The grid nearest-segment query that replaced the STRtree: exact, deterministic on ties, any distance."""

from __future__ import annotations

import numpy as np
import shapely

from dask_runner.metrics.geometry import Polyline, Segments


def _segments(rng: np.random.Generator, count: int) -> Segments:
    starts = rng.uniform(-60.0, 60.0, (count, 2))
    vectors = rng.uniform(-6.0, 6.0, (count, 2))
    return Segments.from_starts_and_vectors(starts, vectors)


def test_nearest_matches_shapely_distance_near_and_far() -> None:
    rng = np.random.default_rng(3)
    segments = _segments(rng, 400)
    # Points on the map and far off it (beyond the grid reach: the fallback over all segments).
    points = np.concatenate([rng.uniform(-70.0, 70.0, (300, 2)), rng.uniform(200.0, 400.0, (20, 2))])
    found = segments.nearest(points)
    lines = shapely.linestrings(np.stack([segments.starts, segments.starts + segments.vectors], axis=1))
    distances = shapely.distance(shapely.points(points)[:, None], lines[None, :])
    assert np.allclose(distances[np.arange(points.shape[0]), found], distances.min(axis=1), atol=1e-9)


def test_ties_go_to_the_lowest_index() -> None:
    # Two lanes meeting end to end, listed in both orders of a duplicate: the shared vertex is a tie.
    starts = np.array([[5.0, 0.0], [0.0, 0.0], [0.0, 0.0]])
    vectors = np.array([[5.0, 0.0], [5.0, 0.0], [5.0, 0.0]])
    segments = Segments.from_starts_and_vectors(starts, vectors)
    points = np.array([[5.0, 2.0], [2.0, 1.0], [8.0, -1.0], [5.0, 50.0]])
    assert segments.nearest(points).tolist() == [0, 1, 0, 0]


def test_no_segments_answers_minus_one() -> None:
    empty = Segments.from_starts_and_vectors(np.zeros((0, 2)), np.zeros((0, 2)))
    assert empty.nearest(np.array([[1.0, 2.0]])).tolist() == [-1]


def test_polyline_stations_along_a_bend() -> None:
    line = Polyline.from_points(np.array([[0.0, 0.0], [10.0, 0.0], [10.0, 10.0]]))
    stations = line.stations_of(np.array([[4.0, 1.0], [11.0, 7.0], [-3.0, 0.0], [10.0, 40.0]]))
    assert np.allclose(stations, [4.0, 17.0, 0.0, 20.0])


def test_small_queries_compared_with_every_segment_answer_as_the_grid() -> None:
    # A query of few points skips the grid; each point's answer must not depend on the company it comes in.
    rng = np.random.default_rng(5)
    segments = _segments(rng, 300)
    points = np.concatenate([rng.uniform(-70.0, 70.0, (200, 2)), segments.starts[:20], rng.uniform(200.0, 400.0, (5, 2))])
    together = segments.nearest(points)  # 225 x 300 pairs: the grid
    alone = np.concatenate([segments.nearest(points[i : i + 2]) for i in range(0, points.shape[0], 2)])
    assert np.array_equal(together, alone)
