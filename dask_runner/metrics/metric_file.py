"""Where one runner's metric rows go on disk: one small parquet file per runner.

Layout: ``<metric_dir>/<planner_name>/<scenario_type>/<scenario_name>.<runner_id or token>.parquet``
with the columns of :data:`dask_runner.metrics.metric_result.METRIC_COLUMNS` (one row per metric and
one ``closed_loop_score`` row). One file per runner lets results stream out as runners finish and
survive a crash; a rerun of the same runner overwrites its own file, so resuming never duplicates.
Files are written under a temporary name and renamed, so readers never see a partial file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from dask_runner.metrics.metric_result import METRIC_COLUMNS, MetricResult
from dask_runner.simulation.simulation_log import safe_file_name

METRIC_FILE_SUFFIX = ".parquet"


def metric_schema() -> Any:
    """The parquet schema of metric rows (a ``pyarrow.Schema``), in ``METRIC_COLUMNS`` order."""
    import pyarrow as pa

    types = {"score": pa.float64(), "value": pa.float64(), "weight": pa.float64(), "multiplier": pa.bool_()}
    return pa.schema([(name, types.get(name, pa.string())) for name in METRIC_COLUMNS])


def metric_file_path(metric_dir: Path | str, result: MetricResult) -> Path:
    stem = f"{safe_file_name(result.scenario_name)}.{safe_file_name(result.runner_id or result.token)}"
    return (
        Path(metric_dir)
        / safe_file_name(result.planner_name)
        / safe_file_name(result.scenario_type)
        / (stem + METRIC_FILE_SUFFIX)
    )


def save_metric_result(result: MetricResult, metric_dir: Path | str) -> Path:
    """Write ``result``'s rows atomically to its file under ``metric_dir``; returns the path."""
    path = metric_file_path(metric_dir, result)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq

        # pyarrow directly: a third of the cost of going through pandas, for a 9-row table.
        pq.write_table(pa.Table.from_pylist(result.rows(), schema=metric_schema()), tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
