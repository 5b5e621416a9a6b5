"""The metric rows of a folder read as one table, whichever dask_runner version wrote its files."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pandas.testing as pdt

from dask_runner.metrics.metric_aggregation import aggregate_metrics, metric_files, save_aggregates
from dask_runner.metrics.metric_file import metric_file_path, save_metric_result
from dask_runner.metrics.metric_result import METRIC_COLUMNS, MetricResult
from dask_runner.metrics.metric_statistic import MetricStatistic


def result(scenario: str, planner: str, score: float, runner_id: str = "") -> MetricResult:
    stats = (MetricStatistic("ego_progress", "planning", score, 12.5, "m"),
             MetricStatistic("no_ego_at_fault_collisions", "violations", 1.0, 0.0))
    return MetricResult(scenario, "log-0", "following_lane", planner, f"token-{scenario}", stats,
                        closed_loop_score=score, weights=(5.0, 0.0), multipliers=(False, True), runner_id=runner_id)


def write_as_pandas_did(item: MetricResult, metrics_dir: Path) -> Path:
    """The writer of earlier versions: pandas' to_parquet, where a column holding only None has no type."""
    path = metric_file_path(metrics_dir, item)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame = item.to_dataframe()
    frame["runner_id"] = None  # files of versions before runner ids
    frame.to_parquet(path, index=False)
    return path


def test_files_of_every_writer_read_as_one_table_as_pandas_reads_them_one_by_one(tmp_path: Path) -> None:
    metrics = tmp_path / "metrics"
    save_metric_result(result("s1", "IDMPlanner", 0.5, runner_id="r1"), metrics)
    write_as_pandas_did(result("s2", "IDMPlanner", 0.75), metrics)
    save_metric_result(result("s3", "SimplePlanner", 1.0, runner_id="r3"), metrics)
    (metrics / "IDMPlanner" / "following_lane" / ".s4.r4.parquet.123.tmp").write_bytes(b"half a file")

    rows = aggregate_metrics(metrics)

    files = metric_files(metrics)
    assert len(files) == 3
    one_by_one = pd.concat([pd.read_parquet(p) for p in files], ignore_index=True)  # the reader before
    # The same values; runner_id is a string column now (missing: NaN), where pandas made the untyped
    # column of the old file and the others' strings one column of Python objects (missing: None).
    pdt.assert_frame_equal(as_objects(rows), as_objects(one_by_one[list(METRIC_COLUMNS)]))
    today = [p for p in files if ".r" in p.name]
    pdt.assert_frame_equal(aggregate_metrics_of(today), pd.concat([pd.read_parquet(p) for p in today],
                                                                   ignore_index=True))
    assert list(rows.columns) == list(METRIC_COLUMNS) and len(rows) == 9
    assert rows.loc[rows["metric_name"] == "closed_loop_score", "score"].tolist() == [0.5, 0.75, 1.0]


def as_objects(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.astype(object).where(frame.notna(), None)


def aggregate_metrics_of(files: list[Path]) -> pd.DataFrame:
    """aggregate_metrics of a folder holding only ``files`` (copied, in their folders)."""
    import shutil
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        for path in files:
            target = Path(tmp) / path.parent.parent.name / path.parent.name / path.name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, target)
        return aggregate_metrics(tmp)


def test_aggregates_of_rows_read_once_are_those_of_the_folder(tmp_path: Path) -> None:
    metrics = tmp_path / "metrics"
    for i, score in enumerate((0.25, 0.5, 1.0)):
        save_metric_result(result(f"s{i}", "IDMPlanner", score, runner_id=f"r{i}"), metrics)
    from_folder = pd.read_parquet(save_aggregates(metrics, tmp_path / "a"))
    from_rows = pd.read_parquet(save_aggregates(metrics, tmp_path / "b", rows=aggregate_metrics(metrics)))
    pdt.assert_frame_equal(from_folder, from_rows)
    assert from_rows.loc[from_rows["scenario_type"] == "all", "closed_loop_score"].tolist() == [0.5833333333333334]


def test_a_folder_without_metric_files_gives_an_empty_table_with_the_columns(tmp_path: Path) -> None:
    rows = aggregate_metrics(tmp_path / "missing")
    assert rows.empty and list(rows.columns) == list(METRIC_COLUMNS)
