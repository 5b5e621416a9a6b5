"""Scores per planner and per (planner, scenario type) from the per-runner metric files (nuPlan's aggregator).

:func:`aggregate_metrics` reads every ``*.parquet`` under a metric folder into one long table (the
columns of ``METRIC_COLUMNS``). :func:`aggregate_scores` turns it into one wide row per
(planner_name, scenario_type), plus one row per planner with ``scenario_type == "all"``: column
``num_scenarios``, one column per metric with its mean score, and the score (the mean of the
scenarios' scores: ``closed_loop_score``, or ``<challenge>_score`` for a challenge, e.g.
``closed_loop_reactive_agents_score``). :func:`save_aggregates` writes one table per score to
``<output_dir>/aggregator_metric/``: ``closed_loop_scores.parquet``, or ``<challenge>_scores.parquet``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from dask_runner.metrics.closed_loop_score import CLOSED_LOOP_SCORE
from dask_runner.metrics.metric_file import METRIC_FILE_SUFFIX
from dask_runner.metrics.metric_result import METRIC_COLUMNS, SCORE_CATEGORY

if TYPE_CHECKING:
    import pandas as pd

AGGREGATOR_DIR = "aggregator_metric"
AGGREGATE_FILE = "closed_loop_scores.parquet"
ALL_SCENARIO_TYPES = "all"


def metric_files(metrics_dir: Path | str) -> list[Path]:
    """The per-runner metric files under ``metrics_dir``, sorted by path (files being written, ``.*``, left out)."""
    return sorted(p for p in Path(metrics_dir).rglob(f"*{METRIC_FILE_SUFFIX}") if not p.name.startswith("."))


def aggregate_metrics(metrics_dir: Path | str) -> pd.DataFrame:
    """All metric rows under ``metrics_dir`` (empty, with the right columns, when there are none), in file order.

    The files are read as one pyarrow dataset: its scanner reads them on several threads and builds one
    table, where reading 10,000 per-runner files one by one with pandas took about 5 ms each. The
    schema is given, so a file whose column held only nulls (as pandas wrote them before) reads alike.
    """
    import pandas as pd
    import pyarrow.dataset as ds

    from dask_runner.metrics.metric_file import metric_schema

    files = metric_files(metrics_dir)
    if not files:
        return pd.DataFrame(columns=list(METRIC_COLUMNS))
    dataset = ds.dataset([str(p) for p in files], schema=metric_schema(), format="parquet")
    return dataset.to_table().to_pandas()


def score_names(rows: pd.DataFrame) -> list[str]:
    """The names of the score rows in ``rows`` (``closed_loop_score``, ``<challenge>_score``), sorted."""
    if rows.empty or "category" not in rows.columns:
        return []
    return sorted(set(rows.loc[rows["category"] == SCORE_CATEGORY, "metric_name"].astype(str)))


def aggregate_file_name(score_name: str) -> str:
    """``closed_loop_scores.parquet`` for the closed-loop score, ``<challenge>_scores.parquet`` for a challenge's."""
    if score_name == CLOSED_LOOP_SCORE:
        return AGGREGATE_FILE
    return f"{score_name.removesuffix('_score')}_scores.parquet"


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
    ordered = ["planner_name", "scenario_type", "num_scenarios", *score_names(rows)]
    rest = sorted(c for c in table.columns if c not in ordered)
    return table[[c for c in ordered if c in table.columns] + rest].sort_values(
        ["planner_name", "scenario_type"], ignore_index=True
    )


def save_aggregates(metrics_dir: Path | str, output_dir: Path | str, rows: pd.DataFrame | None = None) -> Path:
    """Aggregate the metric files under ``metrics_dir`` (or ``rows``, when they were read already) into
    ``<output_dir>/aggregator_metric/``, one file per score (runs of one configuration have one); returns
    the first file's path."""
    if rows is None:
        rows = aggregate_metrics(metrics_dir)
    folder = Path(output_dir) / AGGREGATOR_DIR
    folder.mkdir(parents=True, exist_ok=True)
    names = score_names(rows) or [CLOSED_LOOP_SCORE]
    paths = []
    for name in names:
        scored = rows["runner_id"].isin(rows.loc[rows["metric_name"] == name, "runner_id"]) if len(names) > 1 else None
        table = aggregate_scores(rows[scored] if scored is not None else rows)
        path = folder / aggregate_file_name(name)
        table.to_parquet(path, index=False)
        paths.append(path)
    return paths[0]
