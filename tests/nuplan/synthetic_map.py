"""A tiny nuPlan map (one straight road) written in nuPlan's GPKG map format; run in nuPlan's environment.

nuPlan's map API (``GPKGMapsDB``/``NuPlanMap``) reads ``<map_root>/<version>.json`` and one
``<location>/<version>/map.gpkg`` per location (it opens all four at start); the layers and columns written
here are those its map objects read. The road runs along +x from x=-100 to x=900 m, two lanes (y in [-4, 0] and
[0, 4]) in one roadblock: enough for PDM-Closed's route, centerline and drivable area.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
from shapely.geometry import LineString, box

MAP_VERSION = "nuplan-maps-v1.0"
LOCATIONS = ("sg-one-north", "us-ma-boston", "us-nv-las-vegas-strip", "us-pa-pittsburgh-hazelwood")
CRS = "EPSG:32619"
ROADBLOCK_ID = "1"
START, END, LANE_WIDTH = -100.0, 900.0, 4.0


def _frame(rows: list[dict[str, Any]]) -> gpd.GeoDataFrame:
    if rows:
        return gpd.GeoDataFrame(pd.DataFrame(rows), geometry="geometry", crs=CRS)
    return gpd.GeoDataFrame({"fid": pd.Series([], dtype="int64")}, geometry=gpd.GeoSeries([], crs=CRS), crs=CRS)


def _layers() -> dict[str, gpd.GeoDataFrame]:
    lanes, baselines, boundaries = [], [], []
    for index, (low, high) in enumerate([(0.0, LANE_WIDTH), (-LANE_WIDTH, 0.0)]):
        lane_id = 10 + index
        left, right = 100 + 2 * index, 101 + 2 * index
        centre = (low + high) / 2
        lanes.append({"fid": lane_id, "lane_fid": lane_id, "lane_group_fid": int(ROADBLOCK_ID), "lane_index": index,
                      "left_boundary_fid": left, "right_boundary_fid": right, "speed_limit_mps": 15.0,
                      "geometry": box(START, low, END, high)})
        baselines.append({"fid": 20 + index, "lane_fid": lane_id, "lane_connector_fid": -1,
                          "geometry": LineString([(x, centre) for x in range(int(START), int(END) + 1, 10)])})
        boundaries.append({"fid": left, "boundary_type_fid": 2, "geometry": LineString([(START, high), (END, high)])})
        boundaries.append({"fid": right, "boundary_type_fid": 2, "geometry": LineString([(START, low), (END, low)])})
    road = box(START, -LANE_WIDTH, END, LANE_WIDTH)
    empty = _frame([])
    return {
        # the projection nuPlan converts every layer to (the same: nothing moves)
        "meta": gpd.GeoDataFrame({"key": ["projectedCoordSystem"], "value": [CRS]}, geometry=gpd.GeoSeries([None]),
                                 crs=CRS),
        "lanes_polygons": _frame(lanes),
        "baseline_paths": _frame(baselines),
        "boundaries": _frame(boundaries),
        "lane_groups_polygons": _frame([{"fid": int(ROADBLOCK_ID), "from_edge_fid": -1, "to_edge_fid": -1,
                                         "left_boundary_fid": 100, "right_boundary_fid": 103, "geometry": road}]),
        "lane_group_connectors": _frame([]).assign(from_lane_group_fid=pd.Series([], dtype="int64"),
                                                   to_lane_group_fid=pd.Series([], dtype="int64"),
                                                   intersection_fid=pd.Series([], dtype="int64")),
        "lane_connectors": _frame([]).assign(entry_lane_fid=pd.Series([], dtype="int64"),
                                             exit_lane_fid=pd.Series([], dtype="int64"),
                                             lane_group_connector_fid=pd.Series([], dtype="int64")),
        "gen_lane_connectors_scaled_width_polygons": _frame([]).assign(
            lane_connector_fid=pd.Series([], dtype="int64")),
        "road_segments": _frame([{"fid": 1, "geometry": road}]),
        "intersections": empty, "stop_polygons": _frame([]).assign(stop_polygon_type_fid=pd.Series([], dtype="int64")),
        "crosswalks": empty, "walkways": empty, "carpark_areas": empty, "generic_drivable_areas": empty,
    }


def write_map(map_root: Path) -> None:
    """The map, under every location's name, in ``map_root``."""
    (map_root / f"{MAP_VERSION}.json").write_text(json.dumps({loc: {"version": "9.99.9", "layers": {}}
                                                              for loc in LOCATIONS}))
    for location in LOCATIONS:
        path = map_root / location / "9.99.9" / "map.gpkg"
        path.parent.mkdir(parents=True, exist_ok=True)
        for name, frame in _layers().items():
            frame.to_file(path, layer=name, driver="GPKG", engine="pyogrio")


if __name__ == "__main__":
    write_map(Path(sys.argv[1]))
