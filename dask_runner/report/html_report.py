"""report.html: one self-contained page (bokeh's JavaScript inlined, so it opens offline) that shows a job's results.

Sections: scores per planner, the metric breakdown per scenario type, the runtime histogram, the failures
with their tracebacks folded, and plots of a capped number of scenarios read from the simulation logs
(drawn in the browser from their coordinates, see :mod:`dask_runner.report.scenario_plot`).
"""

from __future__ import annotations

import html
import json
import logging
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from dask_runner.io.output_dir import OutputLayout, atomic_write_bytes
from dask_runner.io.report_store import ReportStore
from dask_runner.report.summary import failures, last_line, planner_summary, score_label

if TYPE_CHECKING:
    from bokeh.model import Model

logger = logging.getLogger(__name__)

DEFAULT_MAX_SCENARIO_PLOTS = 12
# Tracebacks are kilobytes each: a batch where thousands of runners failed (one cause, usually) would
# otherwise make a page of megabytes; the table says where the others are.
MAX_FAILURE_ROWS = 200
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")

STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th { background: #f3f3f3; } td.text { text-align: left; }
details pre { max-height: 30em; overflow: auto; background: #f8f8f8; padding: 0.5em; font-size: 0.8em; }
.plots { display: flex; flex-wrap: wrap; gap: 1em; } .note { color: #666; }
"""


def load_reports(root: Path) -> pd.DataFrame:
    """runner_report.parquet, or the streamed reports of a run that has not finished (or was killed)."""
    path = OutputLayout(root).runner_report
    if path.is_file():
        return pd.read_parquet(path)
    return ReportStore(OutputLayout(root).reports_dir).to_dataframe()


def _cell(value: Any) -> str:
    if isinstance(value, float):
        text = "-" if math.isnan(value) else f"{value:.3f}"
        return f"<td>{text}</td>"
    if isinstance(value, (int, bool)):
        return f"<td>{value}</td>"
    return f'<td class="text">{html.escape(str(value))}</td>'


def html_table(frame: pd.DataFrame) -> str:
    if frame.empty:
        return '<p class="note">(none)</p>'
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    rows = "".join("<tr>" + "".join(_cell(v) for v in row) + "</tr>" for row in frame.itertuples(index=False))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def failure_section(reports: pd.DataFrame, max_rows: int = MAX_FAILURE_ROWS) -> str:
    """One row per failed runner, up to ``max_rows``; its traceback folded in a <details> element."""
    failed = failures(reports)
    if failed.empty:
        return '<p class="note">No runner failed.</p>'
    messages = reports.loc[~reports["succeeded"].astype(bool), "error_message"].tolist()
    rows = []
    for row, message in zip(failed.head(max_rows).itertuples(index=False), messages):
        cells = "".join(f'<td class="text">{html.escape(str(v))}</td>'
                        for v in (row.log_name, row.scenario_name, row.planner_name, row.error_stage))
        details = (f"<details><summary>{html.escape(last_line(message))}</summary>"
                   f"<pre>{html.escape(str(message or ''))}</pre></details>")
        rows.append(f'<tr>{cells}<td class="text">{details}</td></tr>')
    head = "".join(f"<th>{h}</th>" for h in ("log", "scenario", "planner", "stage", "error (click for the traceback)"))
    more = ""
    if len(failed) > max_rows:
        more = (f'<p class="note">The first {max_rows} of {len(failed)} failures; every traceback is in '
                "runner_report.parquet (column error_message) and logs/simulation.log.</p>")
    return f"{more}<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def score_chart(aggregates: pd.DataFrame, score_name: str = "closed_loop_score") -> Model | None:
    """Mean score (``closed_loop_score`` or a challenge's) per scenario type, one bar per planner."""
    from bokeh.models import ColumnDataSource, FactorRange, Range1d
    from bokeh.plotting import figure

    if aggregates.empty or score_name not in aggregates.columns:
        return None
    table = aggregates[aggregates["scenario_type"] != "all"]
    if table.empty:
        return None
    factors = [(str(t), str(p)) for t, p in zip(table["scenario_type"], table["planner_name"])]
    planners = sorted(set(table["planner_name"].astype(str)))
    colors = [PALETTE[planners.index(str(p)) % len(PALETTE)] for p in table["planner_name"]]
    # Scenario-type names are long: give each bar room, and tilt the group labels so they never overlap.
    fig = figure(x_range=FactorRange(factors=factors), height=420, width=max(420, 110 * len(factors)),
                 title=f"Mean {score_name.replace('_', ' ')} per scenario type and planner",
                 y_range=Range1d(start=0, end=1.05),
                 tools="save", output_backend="canvas")
    source = ColumnDataSource({"x": factors, "top": table[score_name].astype(float).fillna(0.0).tolist(),
                               "color": colors})
    fig.vbar(x="x", top="top", width=0.8, color="color", source=source)
    fig.xaxis.major_label_orientation = 0.9
    fig.xaxis.group_label_orientation = 0.6  # type: ignore[attr-defined]  # a categorical axis has it
    return fig


def runtime_histogram(reports: pd.DataFrame) -> Model | None:
    """Runtimes of the runners, one histogram per planner."""
    import numpy as np
    from bokeh.plotting import figure

    if reports.empty or "duration" not in reports.columns:
        return None
    durations = reports[["planner_name", "duration"]].dropna()
    if durations.empty:
        return None
    values = durations["duration"].astype(float).to_numpy()
    edges = np.histogram_bin_edges(values, bins=min(30, max(5, len(values) // 3)))
    fig = figure(height=300, width=600, title="Runtime per runner", x_axis_label="seconds",
                 y_axis_label="runners", tools="save", output_backend="canvas")
    for i, (planner, group) in enumerate(durations.groupby("planner_name")):
        counts, _ = np.histogram(group["duration"].astype(float), bins=edges)
        fig.quad(top=counts, bottom=0, left=edges[:-1], right=edges[1:], alpha=0.5,
                 color=PALETTE[i % len(PALETTE)], legend_label=str(planner))
    return fig


def scenario_log_paths(log_dir: Path, limit: int) -> tuple[list[Path], int]:
    """The first ``limit`` simulation logs (sorted by path, so planners of one scenario sit together) and the total."""
    if not log_dir.is_dir():
        return [], 0
    from dask_runner.simulation.simulation_log import is_simulation_log

    paths = sorted(p for p in log_dir.rglob("*") if is_simulation_log(p))
    return paths[:limit], len(paths)


def scenario_plots(log_dir: Path, limit: int) -> tuple[list[dict[str, Any]], str]:
    """What the plots of up to ``limit`` logs draw, and a note saying how many were drawn (and which could not be read)."""
    from dask_runner.report.scenario_plot import scenario_plot_data
    from dask_runner.simulation.simulation_log import SimulationLog

    paths, total = scenario_log_paths(log_dir, limit)
    plots: list[dict[str, Any]] = []
    unreadable: list[str] = []
    for path in paths:
        try:
            plots.append(scenario_plot_data(SimulationLog.load_data(path)))
        except Exception as exc:  # noqa: BLE001 - one bad log must not take the report down
            logger.warning("Cannot draw %s: %s", path, exc)
            unreadable.append(f"{path.name} ({last_line(exc)})")
    if total == 0:
        note = "No simulation logs found (simulation_log_callback off?), so no scenario is drawn."
    else:
        note = f"Showing {len(plots)} of {total} simulated scenarios (capped at {limit}; set --max-scenario-plots)."
    if unreadable:
        note += " Could not draw: " + "; ".join(unreadable)
    return plots, note


def _json_script(element_id: str, value: Any) -> str:
    """``value`` as a JSON data block (not executed); ``</`` is escaped so no string can close the element."""
    text = json.dumps(value, separators=(",", ":"), allow_nan=False).replace("</", "<\\/")
    return f'<script type="application/json" id="{element_id}">{text}</script>'


def _in_one_document(models: dict[str, Model]) -> dict[str, Model]:
    """The models as the roots of one document, added under one freeze: bokeh's ``components`` would add
    them one by one, each addition walking every model already there. The output is the same."""
    from bokeh.document import Document

    document = Document()
    with document.models.freeze():  # one walk over the models when the outermost freeze ends
        for model in models.values():
            document.add_root(model)
    return models


def build_html(root: Path, max_scenario_plots: int = DEFAULT_MAX_SCENARIO_PLOTS,
               simulation_log_dir: Path | None = None,
               tables: tuple[pd.DataFrame, pd.DataFrame] | None = None) -> str:
    """The whole page as a string (see :func:`write_html_report`)."""
    from bokeh.embed import components
    from bokeh.resources import Resources

    from dask_runner.metrics.metric_aggregation import aggregate_metrics, aggregate_scores
    from dask_runner.report.scenario_plot import DRAW_SCENARIOS_JS, SCENARIO_DATA_ID, SCENARIO_PLOTS_ID

    layout = OutputLayout(root)
    reports, metric_rows = tables if tables is not None else (load_reports(root), aggregate_metrics(layout.metrics_dir))
    aggregates = aggregate_scores(metric_rows)
    log_dir = simulation_log_dir if simulation_log_dir is not None else layout.simulation_logs_dir
    models: dict[str, Model] = {}
    score_name = score_label(metric_rows).split(", ")[0]
    for name, model in (("scores", score_chart(aggregates, score_name)), ("runtime", runtime_histogram(reports))):
        if model is not None:
            models[name] = model
    plots, plot_note = scenario_plots(log_dir, max_scenario_plots)
    script, divs = components(_in_one_document(models)) if models else ("", {})
    divs_by_name: dict[str, str] = dict(divs) if isinstance(divs, dict) else {}
    succeeded = int(reports["succeeded"].astype(bool).sum()) if not reports.empty else 0
    body = f"""
<h1>dask_runner report: {html.escape(root.name)}</h1>
<p>{len(reports)} runners: {succeeded} succeeded, {len(reports) - succeeded} failed. Folder: <code>{html.escape(str(root))}</code></p>
<h2>Scores per planner: {html.escape(score_label(metric_rows))}</h2>
{html_table(planner_summary(reports, metric_rows))}
<h2>Metrics per scenario type</h2>
{divs_by_name.get("scores", '<p class="note">No metrics (run_metric=false?).</p>')}
<div style="overflow-x: auto">{html_table(aggregates)}</div>
<h2>Runtime</h2>
{divs_by_name.get("runtime", '<p class="note">No runtimes.</p>')}
<h2>Failures</h2>
{failure_section(reports)}
<h2>Scenarios</h2>
<p class="note">{html.escape(plot_note)}</p>
<div class="plots" id="{SCENARIO_PLOTS_ID}"></div>
{_json_script(SCENARIO_DATA_ID, plots)}
<script type="text/javascript">{DRAW_SCENARIOS_JS}</script>
"""
    # BokehJS inlined (the page works offline): its core, and its plotting API for the scenario plots;
    # not its widgets, tables, WebGL or MathJax bundles, which nothing here uses (2.5 MB).
    resources = Resources(mode="inline", components=["bokeh", "bokeh-api"])
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>dask_runner report: {html.escape(root.name)}</title>\n<style>{STYLE}</style>\n"
            f"{resources.render()}\n{script}\n</head><body>{body}</body></html>\n")


def write_html_report(output_dir: str | Path, max_scenario_plots: int = DEFAULT_MAX_SCENARIO_PLOTS,
                      simulation_log_dir: str | Path | None = None,
                      tables: tuple[pd.DataFrame, pd.DataFrame] | None = None) -> Path:
    """Write ``<output_dir>/report.html`` (self-contained, works offline) and return its path.

    ``simulation_log_dir`` defaults to the folder's ``simulation_logs/`` (the metrics command passes its own).
    ``tables`` are the runner reports and the metric rows when the caller has read them already (the end
    of a job); otherwise they are read from the folder.
    """
    from dask_runner.optional_dependencies import REPORT

    REPORT.require("report.html")
    root = Path(output_dir)
    text = build_html(root, max_scenario_plots, None if simulation_log_dir is None else Path(simulation_log_dir),
                      tables)
    path = OutputLayout(root).html_report
    atomic_write_bytes(path, text.encode("utf-8"))
    return path
