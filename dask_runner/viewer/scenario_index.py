"""The scenario table of an output folder: one row per runner, with its outcome, score and each metric's score.

Built from ``runner_report.parquet`` (or the streamed ``reports/`` of a run that has not finished) and the
per-runner metric files. Reading 100,000 metric files takes minutes, so the table is kept in
``aggregator_metric/scenario_index.parquet`` with the size and row count of the ``runner_report.parquet`` it
was built from: a resumed run rewrites that file and so invalidates the index; a moved or copied folder
keeps it (nothing in it is a path). A folder that cannot be written is indexed again at each open.

:func:`query` filters, sorts and pages the table (the viewer asks for one page at a time), and
:func:`overview` computes the aggregate scores and the histogram of each metric.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dask_runner.io.output_dir import OutputLayout

if TYPE_CHECKING:
    import pandas as pd

logger = logging.getLogger(__name__)

INDEX_FILE = "scenario_index.parquet"
INDEX_FORMAT = "1"
HISTOGRAM_BINS = 10
MAX_PAGE = 1000
_CONDITION = re.compile(r"^\s*(<=|>=|<|>|=)\s*(-?[0-9.]+(?:e-?[0-9]+)?)\s*$")


def _fingerprint(layout: OutputLayout) -> str | None:
    """Size and row count of runner_report.parquet (None while a run has not consolidated one)."""
    import pyarrow.parquet as pq

    path = layout.runner_report
    try:
        return f"{INDEX_FORMAT}:{path.stat().st_size}:{pq.read_metadata(path).num_rows}"
    except Exception:  # noqa: BLE001 - missing, or not parquet (pyarrow raises its own errors): no index kept
        return None


def build_index(reports: pd.DataFrame, metric_rows: pd.DataFrame) -> pd.DataFrame:
    """One row per runner: id, planner, type, log, scenario, succeeded, stage, error, duration, score, metrics."""
    import pandas as pd

    from dask_runner.report.summary import closed_loop_scores, last_line

    base = pd.DataFrame({
        "runner_id": reports.get("runner_id", pd.Series(dtype=str)).astype(str),
        "planner": reports.get("planner_name", pd.Series(dtype=str)).astype(str),
        "log": reports.get("log_name", pd.Series(dtype=str)).astype(str),
        "scenario": reports.get("scenario_name", pd.Series(dtype=str)).astype(str),
        "succeeded": reports.get("succeeded", pd.Series(dtype=bool)).astype(bool),
        "stage": reports.get("error_stage", pd.Series(dtype=object)).fillna("").astype(str),
        "error": reports.get("error_message", pd.Series(dtype=object)).map(last_line).astype(str),
        "duration": pd.to_numeric(reports.get("duration", pd.Series(dtype=float)), errors="coerce"),
    })
    if metric_rows.empty or "runner_id" not in metric_rows.columns:
        base.insert(2, "scenario_type", "")
        base["score"] = math.nan
        return base.reset_index(drop=True)
    rows = metric_rows[metric_rows["runner_id"].fillna("").astype(str) != ""]
    scores = closed_loop_scores(rows)
    wide = rows[rows["category"] != "score"].pivot_table(
        index="runner_id", columns="metric_name", values="score", aggfunc="first")
    types = rows.drop_duplicates("runner_id").set_index("runner_id")["scenario_type"].astype(str)
    table = base.join(types.rename("scenario_type"), on="runner_id")
    table["scenario_type"] = table["scenario_type"].fillna("")
    table = table.join(scores.drop_duplicates("runner_id").set_index("runner_id")["score"], on="runner_id")
    table = table.join(wide, on="runner_id")
    ordered = ["runner_id", "planner", "scenario_type", "log", "scenario", "succeeded", "stage", "error",
               "duration", "score"]
    return table[ordered + sorted(c for c in table.columns if c not in ordered)].reset_index(drop=True)


def index_path(root: Path) -> Path:
    return OutputLayout(root).aggregator_dir / INDEX_FILE


def load_index(root: Path, read_tables: Callable[[], tuple[pd.DataFrame, pd.DataFrame]],
               path: Path | None = None) -> pd.DataFrame:
    """The folder's scenario table: from its index file (``path``, :func:`index_path` by default) when that is
    current, else built from ``read_tables()`` (the runner reports and the metric rows) and stored there, if the
    folder can be written."""
    import pyarrow.parquet as pq

    layout = OutputLayout(root)
    path = path or index_path(root)
    fingerprint = _fingerprint(layout)
    if fingerprint is not None and path.is_file():
        try:
            table = pq.read_table(path)
            if (table.schema.metadata or {}).get(b"dask_runner.built_from", b"").decode() == fingerprint:
                return table.to_pandas()
        except Exception as exc:  # noqa: BLE001 - a damaged index is rebuilt
            logger.warning("Rebuilding the unreadable scenario index %s (%s)", path, exc)
    index = build_index(*read_tables())
    if fingerprint is not None:
        save_index(path, index, fingerprint)
    return index


def save_index(path: Path, index: pd.DataFrame, fingerprint: str) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from dask_runner.io.output_dir import atomic_write_bytes

    try:
        table = pa.Table.from_pandas(index, preserve_index=False)
        table = table.replace_schema_metadata({**(table.schema.metadata or {}),
                                               b"dask_runner.built_from": fingerprint.encode()})
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, sink.getvalue().to_pybytes())
    except OSError as exc:  # a read-only copy of a folder: the index is rebuilt at each open
        logger.info("Cannot keep the scenario index in %s (%s)", path, exc)


def store_index(root: Path, reports: pd.DataFrame, metric_rows: pd.DataFrame) -> pd.DataFrame:
    """Build the index from tables a job has read already, and keep it beside them."""
    layout = OutputLayout(root)
    index = build_index(reports, metric_rows)
    fingerprint = _fingerprint(layout)
    if fingerprint is not None:
        save_index(index_path(root), index, fingerprint)
    return index


def metric_columns(index: pd.DataFrame) -> list[str]:
    """The per-metric score columns (everything after ``score``)."""
    columns = list(index.columns)
    return columns[columns.index("score") + 1:] if "score" in columns else []


def _matches(column: pd.Series, condition: str) -> pd.Series:
    """A number condition (``<0.5``, ``>=1``, ``=0``) on a numeric column; ``=text``: equal to the text; else a
    case-insensitive substring. (The page's embedded table filters alike, in ``viewer.js``.)"""
    import pandas as pd

    match = _CONDITION.match(condition)
    if match and pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        op, value = match.group(1), float(match.group(2))
        numbers = column.astype(float)
        return {"<": numbers < value, "<=": numbers <= value, ">": numbers > value, ">=": numbers >= value,
                "=": numbers == value}[op]
    if condition.startswith("=") and not match:
        return column.astype(str) == condition[1:]
    return column.astype(str).str.contains(condition, case=False, regex=False)


def query(index: pd.DataFrame, filters: dict[str, str] | None = None, sort: str | None = None,
          descending: bool = False, offset: int = 0, limit: int = 50) -> dict[str, Any]:
    """One page of the table: ``filters`` column -> condition (see :func:`_matches`), sorted by ``sort``."""
    selected = index
    for column, condition in (filters or {}).items():
        if column in index.columns and condition.strip():
            selected = selected[_matches(selected[column], condition.strip())]
    if sort is not None and sort in index.columns:
        selected = selected.sort_values(sort, ascending=not descending, kind="stable", na_position="last")
    limit = max(0, min(int(limit), MAX_PAGE))
    page = selected.iloc[max(0, int(offset)): max(0, int(offset)) + limit]
    return {"total": int(len(selected)), "offset": int(offset), "columns": list(index.columns),
            "rows": records(page)}


def records(frame: pd.DataFrame) -> list[list[Any]]:
    """Rows as JSON-ready lists (NaN as null, numbers rounded to 4 decimals)."""
    return [[_json_value(v) for v in row] for row in frame.itertuples(index=False)]


def _json_value(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy scalars
        value = value.item()
    if isinstance(value, float):
        return round(value, 4) if math.isfinite(value) else None
    return value


def overview(index: pd.DataFrame) -> dict[str, Any]:
    """Counts, the mean score and each metric's mean per planner and scenario type, and each metric's histogram."""
    import numpy as np

    metrics = metric_columns(index)
    numeric = ["score", *metrics]
    groups = []
    if not index.empty:
        for keys, group in index.groupby(["planner", "scenario_type"], sort=True):
            groups.append(_aggregate(group, str(keys[0]), str(keys[1]), numeric))
        for planner, group in index.groupby("planner", sort=True):
            groups.append(_aggregate(group, str(planner), "all", numeric))
    histograms = {}
    edges = np.linspace(0.0, 1.0, HISTOGRAM_BINS + 1)
    for name in numeric:
        per_planner = {}
        for planner, group in index.groupby("planner", sort=True):
            values = group[name].astype(float).dropna().clip(0.0, 1.0)
            per_planner[str(planner)] = np.histogram(values, bins=edges)[0].tolist()
        histograms[name] = per_planner
    return {"scenarios": int(len(index)), "failed": int((~index["succeeded"]).sum()) if len(index) else 0,
            "planners": sorted(index["planner"].unique().tolist()) if len(index) else [],
            "metrics": metrics, "aggregates": groups, "histogram_edges": edges.tolist(),
            "histograms": histograms}


def _aggregate(group: pd.DataFrame, planner: str, scenario_type: str, numeric: list[str]) -> dict[str, Any]:
    means = {name: group[name].astype(float).mean() for name in numeric}
    return {"planner": planner, "scenario_type": scenario_type, "scenarios": int(len(group)),
            "failed": int((~group["succeeded"]).sum()),
            **{name: (None if not math.isfinite(v) else round(float(v), 4)) for name, v in means.items()}}
