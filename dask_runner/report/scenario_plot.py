"""Plots of simulated scenarios: drivable area, lanes, the expert's path, the ego's path and the agents.

Python only extracts each scenario's coordinates (:func:`scenario_plot_data`, rounded to a centimetre,
finer than a plot shows) and report.html carries them as one JSON block; :data:`DRAW_SCENARIOS_JS`
builds the bokeh figures in the browser with BokehJS's plotting API. Building the same figures as bokeh
models in Python and serialising them cost about 0.15 s of CPU per figure, most of what simulation logs
added to a job; this costs a few milliseconds per figure, and the figures are the same.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from dask_runner.scenarios.state import X, Y

if TYPE_CHECKING:
    from dask_runner.simulation.simulation_log import SimulationLog

AGENT_STEP_STRIDE = 10  # draw the agents every 10 steps (1 s at 10 Hz): enough to see the traffic flow
DECIMALS = 2  # centimetres: a 420-pixel plot of a 100 m view shows ~25 cm per pixel
PLOT_WIDTH = 420
PLOT_HEIGHT = 360


def _coordinates(values: Any) -> list[float | None]:
    """Rounded coordinates as JSON-ready floats; a non-finite one becomes null (JSON has no NaN)."""
    array = np.round(np.asarray(values, dtype=float), DECIMALS)
    if np.isfinite(array).all():
        return array.tolist()
    return [float(v) if np.isfinite(v) else None for v in array]


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
        xs.append([[_coordinates(ring[:, 0]) for ring in rings]])
        ys.append([[_coordinates(ring[:, 1]) for ring in rings]])
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


def scenario_plot_data(log: SimulationLog, width: int = PLOT_WIDTH, height: int = PLOT_HEIGHT) -> dict[str, Any]:
    """What one scenario's plot draws, as JSON-ready lists (the keys :data:`DRAW_SCENARIOS_JS` reads)."""
    scenario = log.scenario
    title = f"{log.planner_name} | {scenario.scenario_type} | {scenario.scenario_name}"
    expert = scenario.get_expert_ego_trajectory().states
    ego = log.simulation_history.ego_array()
    x_range, y_range = _view(np.concatenate([expert[:, [X, Y]], ego[:, [X, Y]]]), width / height)
    map_api = scenario.map_api
    area_xs, area_ys = _drivable_area_patches(map_api.drivable_area)
    lanes = list(map_api.lanes.values())
    agent_x, agent_y = _agent_points(log)
    return {
        "title": title[:80], "width": width, "height": height,
        "x_range": [float(v) for v in x_range], "y_range": [float(v) for v in y_range],
        "area": {"xs": area_xs, "ys": area_ys},
        "lanes": {"xs": [_coordinates(lane.centerline[:, 0]) for lane in lanes],
                  "ys": [_coordinates(lane.centerline[:, 1]) for lane in lanes]},
        "expert": {"x": _coordinates(expert[:, X]), "y": _coordinates(expert[:, Y])},
        "ego": {"x": _coordinates(ego[:, X]), "y": _coordinates(ego[:, Y])},
        "agents": {"x": _coordinates(agent_x), "y": _coordinates(agent_y)},
    }


# Runs at the end of report.html's body, after BokehJS (bokeh and bokeh-api) is loaded: reads the JSON
# block whose id is SCENARIO_DATA_ID and draws one figure per scenario into the element SCENARIO_PLOTS_ID.
SCENARIO_DATA_ID = "scenario-data"
SCENARIO_PLOTS_ID = "scenario-plots"
DRAW_SCENARIOS_JS = """
(function () {
  const scenarios = JSON.parse(document.getElementById("%(data_id)s").textContent);
  if (scenarios.length === 0) { return; }
  const figures = scenarios.map(function (s) {
    const fig = Bokeh.Plotting.figure({
      title: s.title, width: s.width, height: s.height, x_range: s.x_range, y_range: s.y_range,
      tools: "pan,wheel_zoom,box_zoom,reset,save", output_backend: "canvas"});
    if (s.area.xs.length) {
      fig.multi_polygons({xs: s.area.xs, ys: s.area.ys, fill_color: "#e8e8e8", line_color: "#bbbbbb",
                          legend_label: "drivable area"});
    }
    if (s.lanes.xs.length) {
      fig.multi_line({xs: s.lanes.xs, ys: s.lanes.ys, line_color: "#9a9a9a", line_dash: "dashed",
                      line_width: 1, legend_label: "lanes"});
    }
    fig.line({x: s.expert.x, y: s.expert.y, line_color: "#2b83ba", line_width: 3, alpha: 0.7,
              legend_label: "expert"});
    if (s.ego.x.length) {
      fig.line({x: s.ego.x, y: s.ego.y, line_color: "#d7191c", line_width: 2, legend_label: "ego"});
      fig.scatter({x: s.ego.x.slice(0, 1), y: s.ego.y.slice(0, 1), size: 8, color: "#d7191c",
                   marker: "triangle"});
    }
    if (s.agents.x.length) {
      fig.scatter({x: s.agents.x, y: s.agents.y, size: 4, color: "#fdae61", alpha: 0.6, legend_label: "agents"});
    }
    const legend = fig.legend;
    legend.location = "top_left";
    legend.label_text_font_size = "8pt";
    legend.click_policy = "hide";
    legend.background_fill_alpha = 0.5;
    return fig;
  });
  // One placeholder per figure, in the data's order (sorted by path): figures rendered together would be
  // placed in the order they finish rendering.
  const container = document.getElementById("%(plots_id)s");
  figures.forEach(function (fig) {
    const slot = document.createElement("div");
    container.appendChild(slot);
    Bokeh.Plotting.show(fig, slot);
  });
})();
""" % {"data_id": SCENARIO_DATA_ID, "plots_id": SCENARIO_PLOTS_ID}
