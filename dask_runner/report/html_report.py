"""report.html: one self-contained page (bokeh's JavaScript inlined, so it opens offline) that shows a job's results.

Sections: scores per planner, the viewer (:mod:`dask_runner.viewer`: overview, histograms, the scenario table,
replays of a selection, and with ``compare_with`` the score changes against earlier runs), the metric breakdown
per scenario type, the runtime histogram, the failures with their tracebacks folded, and plots of a capped
number of scenarios read from the simulation logs.
Every chart is drawn in the browser by BokehJS from JSON data (:mod:`dask_runner.report.summary_plots`,
:mod:`dask_runner.report.scenario_plot`); writing the page reads BokehJS's files from the installed bokeh
package and never imports bokeh in Python (~0.6 s at the end of a job).
"""

from __future__ import annotations

import html
import importlib.util
import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from dask_runner.io.output_dir import OutputLayout, atomic_write_bytes
from dask_runner.io.report_store import load_reports
from dask_runner.optional_dependencies import REPORT, MissingDependencyError
from dask_runner.report.summary import failures, last_line, planner_summary, score_label
from dask_runner.viewer.page import json_script

logger = logging.getLogger(__name__)

DEFAULT_MAX_SCENARIO_PLOTS = 12  # the one default: a job's max_report_scenario_plots and `report` use it unless given
# The file stays under this size: the viewer embeds as many replays as fit (about 0.2 MB each).
DEFAULT_MAX_BYTES = 10_000_000
# Tracebacks are kilobytes each: a batch where thousands of runners failed (one cause, usually) would
# otherwise make a page of megabytes; the table says where the others are.
MAX_FAILURE_ROWS = 200
# BokehJS's core, and its plotting API that draws the charts; not its widgets, tables, WebGL or MathJax
# bundles, which nothing here uses (2.5 MB).
BOKEHJS_FILES = ("bokeh.min.js", "bokeh-api.min.js")

STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th { background: #f3f3f3; } td.text { text-align: left; }
details pre { max-height: 30em; overflow: auto; background: #f8f8f8; padding: 0.5em; font-size: 0.8em; }
.plots { display: flex; flex-wrap: wrap; gap: 1em; } .note { color: #666; }
"""


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


def inline_bokehjs() -> str:
    """BokehJS inlined as script elements (the page works offline), read from the installed bokeh's static files
    as ``bokeh.resources.Resources(mode="inline")`` renders them, without importing bokeh."""
    spec = importlib.util.find_spec("bokeh")
    if spec is None or not spec.origin:
        raise MissingDependencyError("report.html needs BokehJS from the bokeh package, which is not installed; "
                                     "pip install 'dask_runner[report]'")
    folder = Path(spec.origin).parent / "server" / "static" / "js"
    scripts = []
    for name in BOKEHJS_FILES:
        path = folder / name
        try:
            scripts.append(f"<script>\n{path.read_text(encoding='utf-8')}\n</script>")
        except OSError as exc:
            raise MissingDependencyError(f"report.html needs BokehJS from the bokeh package, and {path} cannot "
                                          f"be read ({exc}); pip install 'dask_runner[report]'") from exc
    return "\n".join(scripts)


def build_html(root: Path, max_scenario_plots: int | None = None,
               simulation_log_dir: Path | None = None,
               tables: tuple[pd.DataFrame, pd.DataFrame] | None = None,
               compare_with: Sequence[Path] = (), max_bytes: int = DEFAULT_MAX_BYTES) -> str:
    """The whole page as a string (see :func:`write_html_report`)."""
    from dask_runner.metrics.metric_aggregation import aggregate_metrics, aggregate_scores
    from dask_runner.report.scenario_plot import DRAW_SCENARIOS_JS, SCENARIO_DATA_ID, SCENARIO_PLOTS_ID
    from dask_runner.report.summary_plots import (
        DRAW_SUMMARY_JS,
        RUNTIME_CHART_ID,
        SCORE_CHART_ID,
        SUMMARY_DATA_ID,
        summary_plot_data,
    )

    layout = OutputLayout(root)
    reports, metric_rows = tables if tables is not None else (load_reports(root), aggregate_metrics(layout.metrics_dir))
    aggregates = aggregate_scores(metric_rows)
    log_dir = simulation_log_dir if simulation_log_dir is not None else layout.simulation_logs_dir
    summary = summary_plot_data(aggregates, reports, score_label(metric_rows).split(", ")[0])
    plots, plot_note = scenario_plots(log_dir, DEFAULT_MAX_SCENARIO_PLOTS if max_scenario_plots is None
                                      else max_scenario_plots)
    succeeded = int(reports["succeeded"].astype(bool).sum()) if not reports.empty else 0
    score_chart = (f'<div id="{SCORE_CHART_ID}"></div>' if summary["scores"] is not None
                   else '<p class="note">No metrics (run_metric=false?).</p>')
    runtime_chart = (f'<div id="{RUNTIME_CHART_ID}"></div>' if summary["runtime"] is not None
                     else '<p class="note">No runtimes.</p>')
    body = f"""
<h1>dask_runner report: {html.escape(root.name)}</h1>
<p>{len(reports)} runners: {succeeded} succeeded, {len(reports) - succeeded} failed. Folder: <code>{html.escape(str(root))}</code></p>
<h2>Scores per planner: {html.escape(score_label(metric_rows))}</h2>
{html_table(planner_summary(reports, metric_rows))}
<h2>Explore: scenarios and replays</h2>
@@VIEWER@@
<h2>Metrics per scenario type</h2>
{score_chart}
<div style="overflow-x: auto">{html_table(aggregates)}</div>
<h2>Runtime</h2>
{runtime_chart}
<h2>Failures</h2>
{failure_section(reports)}
<h2>Scenarios</h2>
<p class="note">{html.escape(plot_note)}</p>
<div class="plots" id="{SCENARIO_PLOTS_ID}"></div>
{json_script(SUMMARY_DATA_ID, summary)}
<script type="text/javascript">{DRAW_SUMMARY_JS}</script>
{json_script(SCENARIO_DATA_ID, plots)}
<script type="text/javascript">{DRAW_SCENARIOS_JS}</script>
"""
    page = (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>dask_runner report: {html.escape(root.name)}</title>\n<style>{STYLE}</style>\n"
            f"{inline_bokehjs()}\n</head><body>{body}</body></html>\n")
    viewer = viewer_section(root, log_dir, reports, metric_rows, compare_with, max_bytes - len(page.encode()))
    return page.replace("@@VIEWER@@", viewer, 1)


def viewer_section(root: Path, log_dir: Path, reports: pd.DataFrame, metric_rows: pd.DataFrame,
                   compare_with: Sequence[Path], budget: int) -> str:
    """The viewer with its data embedded: the runs (``compare_with``, then this one), replays within ``budget``."""
    from dask_runner.viewer.embedded import embedded_data
    from dask_runner.viewer.folders import open_run_folder
    from dask_runner.viewer.page import static_size, viewer_fragment
    from dask_runner.viewer.run_folder import RunFolder
    from dask_runner.viewer.scenario_index import store_index

    this_run = RunFolder(root, log_dir, index=store_index(root, reports, metric_rows))
    runs = [*(open_run_folder(folder) for folder in compare_with), this_run]
    data, summary = embedded_data(runs, root, budget - static_size())
    others = f"; the others: {summary['command']}" if summary["replays"] < summary["runners"] else ""
    logger.info("report.html embeds the replays of %d of %d runners (%.1f MB of data)%s",
                summary["replays"], summary["runners"], summary["bytes"] / 1e6, others)
    return viewer_fragment({"mode": "file", "start_run": len(runs) - 1}, data)


def write_html_report(output_dir: str | Path, max_scenario_plots: int | None = None,
                      simulation_log_dir: str | Path | None = None,
                      tables: tuple[pd.DataFrame, pd.DataFrame] | None = None,
                      compare_with: Sequence[str | Path] = (), max_bytes: int = DEFAULT_MAX_BYTES) -> Path:
    """Write ``<output_dir>/report.html`` (self-contained, works offline) and return its path.

    ``compare_with``: earlier runs' folders; the viewer then shows the score changes from the first to this one
    (regressions first). ``max_bytes``: the file's size stays under it (fewer replays are embedded).

    ``simulation_log_dir`` defaults to the folder's ``simulation_logs/`` (the metrics command passes its own).
    ``tables`` are the runner reports and the metric rows when the caller has read them already (the end
    of a job); otherwise they are read from the folder.
    """
    REPORT.require("report.html")
    root = Path(output_dir)
    text = build_html(root, max_scenario_plots, None if simulation_log_dir is None else Path(simulation_log_dir),
                      tables, [Path(f) for f in compare_with], max_bytes)
    path = OutputLayout(root).html_report
    atomic_write_bytes(path, text.encode("utf-8"))
    return path
