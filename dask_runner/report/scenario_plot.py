"""One bokeh figure of a simulated scenario: drivable area, lanes, the expert's path, the ego's path and the agents."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from dask_runner.scenarios.state import X, Y

if TYPE_CHECKING:
    from bokeh.plotting import figure as Figure

    from dask_runner.simulation.simulation_log import SimulationLog

AGENT_STEP_STRIDE = 10  # draw the agents every 10 steps (1 s at 10 Hz): enough to see the traffic flow


def _polygons(area: Any) -> list[Any]:
    if area is None or getattr(area, "is_empty", True):
        return []
    return list(getattr(area, "geoms", [area]))


def _drivable_area_patches(area: Any) -> tuple[list[Any], list[Any]]:
    """Coordinates in bokeh's ``multi_polygons`` layout: one polygon per entry, holes kept."""
    xs: list[Any] = []
    ys: list[Any] = []
    for polygon in _polygons(area):
        rings = [np.asarray(polygon.exterior.coords)] + [np.asarray(r.coords) for r in polygon.interiors]
        xs.append([[ring[:, 0] for ring in rings]])
        ys.append([[ring[:, 1] for ring in rings]])
    return xs, ys


def _agent_points(log: SimulationLog) -> tuple[np.ndarray, np.ndarray]:
    samples = log.simulation_history.samples[::AGENT_STEP_STRIDE]
    poses = [s.observation.poses[:, :2] for s in samples if len(s.observation)]
    if not poses:
        return np.zeros(0), np.zeros(0)
    stacked = np.concatenate(poses)
    return stacked[:, 0], stacked[:, 1]


def _view(points: np.ndarray, aspect: float, margin: float = 30.0) -> tuple[tuple[float, float], tuple[float, float]]:
    """Ranges around where the ego and the expert drove (a map can be kilometres wide), in the figure's aspect."""
    low, high = points.min(axis=0) - margin, points.max(axis=0) + margin
    centre, half = (low + high) / 2, (high - low) / 2
    half_x = max(half[0], half[1] * aspect)
    half_y = half_x / aspect
    return (centre[0] - half_x, centre[0] + half_x), (centre[1] - half_y, centre[1] + half_y)


def scenario_figure(log: SimulationLog, width: int = 420, height: int = 360) -> Figure:
    """The scenario's map with the ego (as driven), the expert (as recorded) and the other agents."""
    from bokeh.models import Range1d
    from bokeh.plotting import figure

    scenario = log.scenario
    title = f"{log.planner_name} | {scenario.scenario_type} | {scenario.scenario_name}"
    expert = scenario.get_expert_ego_trajectory().states
    ego = log.simulation_history.ego_array()
    x_range, y_range = _view(np.concatenate([expert[:, [X, Y]], ego[:, [X, Y]]]), width / height)
    fig = figure(title=title[:80], width=width, height=height, x_range=Range1d(start=x_range[0], end=x_range[1]),
                 y_range=Range1d(start=y_range[0], end=y_range[1]),
                 tools="pan,wheel_zoom,box_zoom,reset,save", output_backend="canvas")
    map_api = scenario.map_api
    xs, ys = _drivable_area_patches(map_api.drivable_area)
    if xs:
        fig.multi_polygons(xs=xs, ys=ys, fill_color="#e8e8e8", line_color="#bbbbbb", legend_label="drivable area")
    lanes = list(map_api.lanes.values())
    if lanes:
        fig.multi_line(xs=[lane.centerline[:, 0].tolist() for lane in lanes],
                       ys=[lane.centerline[:, 1].tolist() for lane in lanes],
                       line_color="#9a9a9a", line_dash="dashed", line_width=1, legend_label="lanes")
    fig.line(expert[:, X], expert[:, Y], line_color="#2b83ba", line_width=3, alpha=0.7, legend_label="expert")
    if len(ego):
        fig.line(ego[:, X], ego[:, Y], line_color="#d7191c", line_width=2, legend_label="ego")
        fig.scatter(ego[:1, X], ego[:1, Y], size=8, color="#d7191c", marker="triangle")
    ax, ay = _agent_points(log)
    if len(ax):
        fig.scatter(ax, ay, size=4, color="#fdae61", alpha=0.6, legend_label="agents")
    fig.legend.location = "top_left"
    fig.legend.label_text_font_size = "8pt"
    fig.legend.click_policy = "hide"
    fig.legend.background_fill_alpha = 0.5
    return fig
