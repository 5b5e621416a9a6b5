"""The output folder of nuplan-devkit's own ``run_simulation.py`` (any worker), as the viewer reads it.

nuPlan writes ``runner_report.parquet`` (no runner ids), one ``metrics/<metric>.parquet`` per metric (a row
per scenario, with its score and, for some metrics, a time series), ``aggregator_metric/*.parquet`` (the
scores, when its aggregator ran) and ``simulation_log/<planner>/<type>/<log>/<scenario>/<scenario>.msgpack.xz``
(nuPlan's own objects, pickled: reading them needs nuplan-devkit, so this module imports it where used).

The table is built from those files in the viewer's columns, each runner named ``planner/log/scenario``;
a replay draws the ego, the agents, the planned and expert trajectories and the traffic lights from the
log, the map from the scenario's map API when its maps are present (the trajectories alone when not),
and the per-step tracks from the ego states and, where nuPlan wrote one, the metric's time series.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from dask_runner.viewer.replay import MAP_MARGIN_M, MARKER_METRICS, TRAJECTORY_STRIDE, _round, _xy
from dask_runner.viewer.run_folder import RunFolder

if TYPE_CHECKING:
    import pandas as pd

NUPLAN_LOGS = "simulation_log"
# nuPlan's tracked object types, as the viewer colours them (vehicle, pedestrian, bicycle, static object).
_AGENT_TYPES = {"VEHICLE": 0, "EGO": 0, "PEDESTRIAN": 1, "BICYCLE": 2}
# nuPlan metrics whose time series is a viewer track.
_TRACK_SERIES = {"jerk": "ego_lon_jerk", "ttc": "time_to_collision_within_bound"}
LEAST_MIN_TTC_S = 0.95


def is_nuplan_folder(root: Path) -> bool:
    """nuPlan's layout: its ``simulation_log/`` folder or its nuBoard file, and no dask_runner ``reports/``."""
    return not (root / "reports").is_dir() and ((root / NUPLAN_LOGS).is_dir() or any(root.glob("*.nuboard")))


def runner_id_of(planner: str, log: str, scenario: str) -> str:
    return f"{planner}/{log}/{scenario}"


class NuplanRunFolder(RunFolder):
    """A folder written by nuPlan's ``run_simulation.py``."""

    def __init__(self, root: str | Path) -> None:
        super().__init__(root, Path(root).expanduser() / NUPLAN_LOGS)

    @property
    def index_file(self) -> Path:
        """Not in nuPlan's aggregator_metric/, whose every parquet file nuBoard reads as an aggregate."""
        from dask_runner.viewer.scenario_index import INDEX_FILE

        return self.root / ".dask_runner" / INDEX_FILE

    def read_tables(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """nuPlan's runner reports with runner ids added, and its metric files as the viewer's metric rows."""
        import pandas as pd

        reports = pd.read_parquet(self.root / "runner_report.parquet")
        reports["runner_id"] = [runner_id_of(*key) for key in
                                zip(reports["planner_name"], reports["log_name"], reports["scenario_name"])]
        if "error_stage" not in reports.columns:
            reports["error_stage"] = reports["succeeded"].map(lambda ok: None if ok else "simulation")
        rows = []
        for path in sorted((self.root / "metrics").glob("*.parquet")):
            table = pd.read_parquet(path, columns=["planner_name", "log_name", "scenario_name", "scenario_type",
                                                   "metric_statistics_name", "metric_category", "metric_score"])
            rows.append(pd.DataFrame({
                "runner_id": [runner_id_of(*k) for k in
                              zip(table["planner_name"], table["log_name"], table["scenario_name"])],
                "scenario_type": table["scenario_type"].astype(str),
                "metric_name": table["metric_statistics_name"].astype(str),
                "category": table["metric_category"].astype(str),
                "score": pd.to_numeric(table["metric_score"], errors="coerce"),
            }))
        rows.extend(self._aggregator_scores())
        if not rows:
            return reports, pd.DataFrame(columns=["runner_id", "scenario_type", "metric_name", "category", "score"])
        return reports, pd.concat(rows, ignore_index=True)

    def _aggregator_scores(self) -> list[pd.DataFrame]:
        """The per-scenario scores of nuPlan's aggregator files (rows naming a scenario), as score rows."""
        import pandas as pd

        out = []
        for path in sorted((self.root / "aggregator_metric").glob("*.parquet")):
            table = pd.read_parquet(path)
            if not {"scenario", "log_name", "planner_name", "score"} <= set(table.columns):
                continue
            table = table[table["log_name"].notna()]
            out.append(pd.DataFrame({
                "runner_id": [runner_id_of(*k) for k in zip(table["planner_name"], table["log_name"], table["scenario"])],
                "scenario_type": table.get("scenario_type", pd.Series("", index=table.index)).astype(str),
                "metric_name": path.stem.removesuffix("_weighted_average_metrics") + "_score",
                "category": "score", "score": pd.to_numeric(table["score"], errors="coerce"),
            }))
        return out

    def log_path(self, row: dict[str, Any]) -> Path | None:
        folder = self.log_dir / str(row["planner"])
        pattern = f"*/{row['log']}/{row['scenario']}/{row['scenario']}.*"
        return next((p for p in sorted(folder.glob(pattern)) if p.name.endswith((".msgpack.xz", ".pkl.xz"))), None)

    def load_replay(self, path: Path, row: dict[str, Any]) -> dict[str, Any]:
        from nuplan.planning.simulation.simulation_log import SimulationLog

        return nuplan_replay(SimulationLog.load_data(path), self._time_series(row))

    def _time_series(self, row: dict[str, Any]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """The time series nuPlan wrote for this runner: metric name -> (timestamps in µs, values)."""
        import pandas as pd

        series = {}
        for name in set(_TRACK_SERIES.values()):
            path = self.root / "metrics" / f"{name}.parquet"
            if not path.is_file():
                continue
            table = pd.read_parquet(path)
            mine = table[(table["planner_name"] == row["planner"]) & (table["log_name"] == row["log"])
                         & (table["scenario_name"] == row["scenario"])]
            if mine.empty or "time_series_values" not in table.columns or mine["time_series_values"].iloc[0] is None:
                continue
            series[name] = (np.asarray(mine["time_series_timestamps"].iloc[0], dtype=np.int64),
                            np.asarray(mine["time_series_values"].iloc[0], dtype=float))
        return series


def _on_steps(times_us: np.ndarray, series: tuple[np.ndarray, np.ndarray] | None) -> list[Any]:
    """A metric's time series put on the simulation's steps (the nearest sample; null where it has none)."""
    if series is None or series[0].size == 0:
        return [None] * len(times_us)
    stamps, values = series
    nearest = np.clip(np.searchsorted(stamps, times_us), 0, stamps.size - 1)
    earlier = np.clip(nearest - 1, 0, stamps.size - 1)
    pick = np.where(np.abs(stamps[earlier] - times_us) < np.abs(stamps[nearest] - times_us), earlier, nearest)
    out = values[pick].astype(float)
    out[(times_us < stamps[0] - 1) | (times_us > stamps[-1] + 1)] = np.nan
    return _round(out)


def _map_layers(scenario: Any, low: np.ndarray, high: np.ndarray) -> tuple[dict[str, Any], str | None]:
    """Lanes, drivable area and stop lines from the scenario's map API around the ego; empty, with the reason,
    when the maps are not there (or the scenario's map answers nothing, as nuPlan's mock map)."""
    layers: dict[str, Any] = {"lanes": [], "area": [], "stop_lines": [], "lights": []}
    try:
        from nuplan.common.actor_state.state_representation import Point2D
        from nuplan.common.maps.maps_datatypes import SemanticMapLayer

        centre = Point2D(*((low + high) / 2).tolist())
        radius = float(np.hypot(*(high - low)) / 2 + MAP_MARGIN_M)
        objects = scenario.map_api.get_proximal_map_objects(
            centre, radius, [SemanticMapLayer.LANE, SemanticMapLayer.LANE_CONNECTOR, SemanticMapLayer.ROADBLOCK,
                             SemanticMapLayer.ROADBLOCK_CONNECTOR, SemanticMapLayer.STOP_LINE])
        for layer in (SemanticMapLayer.LANE, SemanticMapLayer.LANE_CONNECTOR):
            for lane in objects.get(layer, []):
                path = lambda line: [(p.x, p.y) for p in line.discrete_path]  # noqa: E731
                layers["lanes"].append({"c": _xy(path(lane.baseline_path)), "l": _xy(path(lane.left_boundary)),
                                        "r": _xy(path(lane.right_boundary))})
                if layer == SemanticMapLayer.LANE_CONNECTOR:
                    layers["lights"].append({"id": str(lane.id), "at": _xy(path(lane.baseline_path)[:2])})
        for layer in (SemanticMapLayer.ROADBLOCK, SemanticMapLayer.ROADBLOCK_CONNECTOR):
            for block in objects.get(layer, []):
                layers["area"].append([_xy(np.asarray(block.polygon.exterior.coords))])
        for stop in objects.get(SemanticMapLayer.STOP_LINE, []):
            layers["stop_lines"].append(_xy(np.asarray(stop.polygon.exterior.coords)))
    except Exception as exc:  # noqa: BLE001 - no maps here: the trajectories are drawn all the same
        return {"lanes": [], "area": [], "stop_lines": [], "lights": []}, f"map unavailable: {type(exc).__name__}: {exc}"
    if not layers["lanes"] and not layers["area"]:
        return layers, "map: the scenario's map API has nothing around the ego (maps absent, or a mock map)"
    return layers, None


def nuplan_replay(log: Any, series: dict[str, tuple[np.ndarray, np.ndarray]]) -> dict[str, Any]:
    """The viewer's replay (the keys of :func:`dask_runner.viewer.replay.replay_data`) from a nuPlan SimulationLog."""
    scenario, samples = log.scenario, list(log.simulation_history.data)
    n = len(samples)
    egos = [s.ego_state for s in samples]
    centres = np.array([[e.center.x, e.center.y, e.center.heading] for e in egos]).reshape(-1, 3)
    rear = np.array([[e.rear_axle.x, e.rear_axle.y] for e in egos]).reshape(-1, 2)
    times_us = np.array([s.iteration.time_point.time_us for s in samples], dtype=np.int64)
    expert_states = list(scenario.get_expert_ego_trajectory())
    expert = np.array([[e.center.x, e.center.y, e.center.heading] for e in expert_states]).reshape(-1, 3)
    footprint = egos[0].car_footprint if egos else None
    counts, ids, types, boxes = [], [], [], []
    for sample in samples:
        tracked = getattr(getattr(sample.observation, "tracked_objects", None), "tracked_objects", [])
        counts.append(len(tracked))
        for agent in tracked:
            ids.append(abs(hash(agent.track_token)) % (1 << 31))
            types.append(_AGENT_TYPES.get(agent.tracked_object_type.name, 3))
            boxes.append((agent.center.x, agent.center.y, agent.center.heading, agent.box.length, agent.box.width))
    agents = np.array(boxes, dtype=float).reshape(-1, 5)
    trajectory_counts: list[int] = []
    xs: list[float] = []
    ys: list[float] = []
    for sample in samples:
        states = sample.trajectory.get_sampled_trajectory()[::TRAJECTORY_STRIDE]
        trajectory_counts.append(len(states))
        xs.extend(state.rear_axle.x for state in states)
        ys.extend(state.rear_axle.y for state in states)
    both = np.concatenate([expert[:, :2], centres[:, :2]]) if n else expert[:, :2]
    low, high = both.min(axis=0), both.max(axis=0)
    layers, map_note = _map_layers(scenario, low, high)
    lights: dict[str, list[int]] = {}
    for step, sample in enumerate(samples):
        for light in sample.traffic_light_status or []:
            lights.setdefault(str(light.lane_connector_id), [3] * n)[step] = int(light.status.value)
    speed = np.array([e.dynamic_car_state.speed for e in egos])
    travelled = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(rear, axis=0).T))]) if n else np.zeros(0)
    ttc = _on_steps(times_us, series.get(_TRACK_SERIES["ttc"]))
    markers: dict[str, list[int]] = {name: [] for name in MARKER_METRICS}
    markers["time_to_collision_within_bound"] = [i for i, v in enumerate(ttc) if v is not None and v < LEAST_MIN_TTC_S]
    return {
        "planner": type(log.planner).__name__ if hasattr(log, "planner") else "", "scenario": scenario.scenario_name,
        "scenario_type": scenario.scenario_type, "log": scenario.log_name, "steps": n,
        "time": _round((times_us - times_us[0]) / 1e6) if n else [],
        "bounds": _round(np.concatenate([low, high])),
        "ego": {"x": _round(centres[:, 0]), "y": _round(centres[:, 1]), "h": _round(centres[:, 2]),
                "length": float(footprint.length) if footprint else 5.0,
                "width": float(footprint.width) if footprint else 2.0},
        "expert": {"x": _round(expert[:, 0]), "y": _round(expert[:, 1]),
                   "step_x": _round(expert[np.minimum(np.arange(n), len(expert) - 1), 0]),
                   "step_y": _round(expert[np.minimum(np.arange(n), len(expert) - 1), 1]),
                   "step_h": _round(expert[np.minimum(np.arange(n), len(expert) - 1), 2]),
                   "rear_to_center": 0.0},  # nuPlan's expert states give their centre already
        "agents": {"count": counts, "id": ids, "type": types, "x": _round(agents[:, 0]), "y": _round(agents[:, 1]),
                   "h": _round(agents[:, 2]), "length": _round(agents[:, 3]), "width": _round(agents[:, 4])},
        "trajectories": {"count": trajectory_counts, "x": _round(xs), "y": _round(ys)},
        "map": layers, "map_note": map_note, "lights": lights,
        "tracks": {"speed": _round(speed),
                   "acceleration": _round([e.dynamic_car_state.rear_axle_acceleration_2d.x for e in egos]),
                   "jerk": _on_steps(times_us, series.get(_TRACK_SERIES["jerk"])),
                   "progress": _round(travelled), "ttc": ttc},
        "markers": markers,
        "note": "nuPlan output: progress is the distance driven; violation markers only where nuPlan wrote a time "
                "series (time to collision)",
    }
