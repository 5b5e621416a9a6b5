"""The score chart and the runtime histogram of report.html, drawn in the browser by BokehJS.

:func:`summary_plot_data` computes what they show (mean scores per scenario type and planner, the
runtime histogram's bins and counts) as JSON-ready lists; report.html carries them as one JSON block, and
:data:`DRAW_SUMMARY_JS` builds the figures with BokehJS's plotting API, as the scenario plots are built
(:mod:`dask_runner.report.scenario_plot`). Building them as bokeh models in Python meant importing bokeh
at the end of every job (~0.6 s of a 16-scenario default job's ~4 s); the figures are the same.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")
SUMMARY_DATA_ID = "summary-data"
SCORE_CHART_ID = "score-chart"
RUNTIME_CHART_ID = "runtime-chart"


def score_chart_data(aggregates: pd.DataFrame, score_name: str = "closed_loop_score") -> dict[str, Any] | None:
    """Mean score (``closed_loop_score`` or a challenge's) per scenario type, one bar per planner."""
    if aggregates.empty or score_name not in aggregates.columns:
        return None
    table = aggregates[aggregates["scenario_type"] != "all"]
    if table.empty:
        return None
    factors = [[str(t), str(p)] for t, p in zip(table["scenario_type"], table["planner_name"])]
    planners = sorted(set(table["planner_name"].astype(str)))
    return {
        "title": f"Mean {score_name.replace('_', ' ')} per scenario type and planner",
        # Scenario-type names are long: give each bar room (the group labels are tilted so they never overlap).
        "width": max(420, 110 * len(factors)), "height": 420,
        "factors": factors,
        "top": [float(v) for v in table[score_name].astype(float).fillna(0.0)],
        "colors": [PALETTE[planners.index(str(p)) % len(PALETTE)] for p in table["planner_name"]],
    }


def runtime_histogram_data(reports: pd.DataFrame) -> dict[str, Any] | None:
    """Runtimes of the runners: shared bins, one series of counts per planner."""
    if reports.empty or "duration" not in reports.columns:
        return None
    durations = reports[["planner_name", "duration"]].dropna()
    if durations.empty:
        return None
    values = durations["duration"].astype(float).to_numpy()
    edges = np.histogram_bin_edges(values, bins=min(30, max(5, len(values) // 3)))
    series = []
    for i, (planner, group) in enumerate(durations.groupby("planner_name")):
        counts, _ = np.histogram(group["duration"].astype(float), bins=edges)
        series.append({"planner": str(planner), "counts": counts.tolist(), "color": PALETTE[i % len(PALETTE)]})
    return {"title": "Runtime per runner", "width": 600, "height": 300, "edges": edges.tolist(), "series": series}


def summary_plot_data(aggregates: pd.DataFrame, reports: pd.DataFrame, score_name: str) -> dict[str, Any]:
    """What :data:`DRAW_SUMMARY_JS` draws: ``scores`` and ``runtime``, each None when there is nothing to show."""
    return {"scores": score_chart_data(aggregates, score_name), "runtime": runtime_histogram_data(reports)}


# Runs after BokehJS (bokeh and bokeh-api) is loaded: reads the JSON block SUMMARY_DATA_ID and draws each
# chart into its element (SCORE_CHART_ID, RUNTIME_CHART_ID); the page has an element only for a chart with data.
DRAW_SUMMARY_JS = """
(function () {
  const data = JSON.parse(document.getElementById("%(data_id)s").textContent);
  const s = data.scores;
  if (s) {
    const fig = Bokeh.Plotting.figure({
      title: s.title, width: s.width, height: s.height, tools: "save", output_backend: "canvas",
      x_range: new Bokeh.FactorRange({factors: s.factors}), y_range: new Bokeh.Range1d({start: 0, end: 1.05})});
    fig.vbar({x: s.factors, top: s.top, width: 0.8, color: s.colors});
    fig.xaxis.major_label_orientation = 0.9;
    fig.xaxis.group_label_orientation = 0.6;
    Bokeh.Plotting.show(fig, document.getElementById("%(scores_id)s"));
  }
  const r = data.runtime;
  if (r) {
    const fig = Bokeh.Plotting.figure({
      title: r.title, width: r.width, height: r.height, x_axis_label: "seconds", y_axis_label: "runners",
      tools: "save", output_backend: "canvas"});
    const left = r.edges.slice(0, -1), right = r.edges.slice(1);
    r.series.forEach(function (one) {
      fig.quad({top: one.counts, bottom: 0, left: left, right: right, alpha: 0.5, color: one.color,
                legend_label: one.planner});
    });
    Bokeh.Plotting.show(fig, document.getElementById("%(runtime_id)s"));
  }
})();
""" % {"data_id": SUMMARY_DATA_ID, "scores_id": SCORE_CHART_ID, "runtime_id": RUNTIME_CHART_ID}
