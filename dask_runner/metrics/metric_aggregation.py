"""Scores per planner and per (planner, scenario type) from the per-runner metric files (nuPlan's aggregator).

:func:`aggregate_metrics` reads every ``*.parquet`` under a metric folder into one long table (the
columns of ``METRIC_COLUMNS``). :func:`aggregate_scores` turns it into one wide row per
(planner_name, scenario_type), plus one row per planner with ``scenario_type == "all"``: column
``num_scenarios``, one column per metric with its mean score, and ``closed_loop_score`` (the mean of
the scenarios' closed-loop scores). :func:`save_aggregates` writes that table to
``<output_dir>/aggregator_metric/closed_loop_scores.parquet``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from dask_runner.metrics.closed_loop_score import CLOSED_LOOP_SCORE
from dask_runner.metrics.metric_file import METRIC_FILE_SUFFIX
from dask_runner.metrics.metric_result import METRIC_COLUMNS

if TYPE_CHECKING:
    import pandas as pd

AGGREGATOR_DIR = "aggregator_metric"
AGGREGATE_FILE = "closed_loop_scores.parquet"
ALL_SCENARIO_TYPES = "all"


def aggregate_metrics(metrics_dir: Path | str) -> pd.DataFrame:
    """All metric rows under ``metrics_dir`` (empty, with the right columns, when there are none)."""
    import pandas as pd

    files = sorted(p for p in Path(metrics_dir).rglob(f"*{METRIC_FILE_SUFFIX}") if not p.name.startswith("."))
    if not files:
        return pd.DataFrame(columns=list(METRIC_COLUMNS))
    return pd.concat([pd.read_parquet(p) for p in files], ignore_index=True)


def aggregate_scores(rows: pd.DataFrame) -> pd.DataFrame:
    """Mean score per metric, per (planner, scenario_type) and per planner over all types."""
    import pandas as pd

    if rows.empty:
        return pd.DataFrame(columns=["planner_name", "scenario_type", "num_scenarios", CLOSED_LOOP_SCORE])
    scenario_key = ["planner_name", "scenario_type", "token", "runner_id"]
    wide = rows.pivot_table(index=scenario_key, columns="metric_name", values="score", aggfunc="first")
    wide = wide.reset_index()
    metric_columns = [c for c in wide.columns if c not in scenario_key]
    per_type = wide.groupby(["planner_name", "scenario_type"], as_index=False).agg(
        num_scenarios=("token", "size"), **{c: (c, "mean") for c in metric_columns}
    )
    per_planner = wide.groupby("planner_name", as_index=False).agg(
        num_scenarios=("token", "size"), **{c: (c, "mean") for c in metric_columns}
    )
    per_planner.insert(1, "scenario_type", ALL_SCENARIO_TYPES)
    table = pd.concat([per_type, per_planner], ignore_index=True)
    ordered = ["planner_name", "scenario_type", "num_scenarios", CLOSED_LOOP_SCORE]
    rest = sorted(c for c in table.columns if c not in ordered)
    return table[[c for c in ordered if c in table.columns] + rest].sort_values(
        ["planner_name", "scenario_type"], ignore_index=True
    )


def save_aggregates(metrics_dir: Path | str, output_dir: Path | str) -> Path:
    """Aggregate the metric files under ``metrics_dir`` into ``<output_dir>/aggregator_metric/``."""
    table = aggregate_scores(aggregate_metrics(metrics_dir))
    folder = Path(output_dir) / AGGREGATOR_DIR
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / AGGREGATE_FILE
    table.to_parquet(path, index=False)
    return path
