"""Streamed reports: one file per final report, one row per runner when consolidated."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from dask_runner.io.report_store import ReportStore, report_file_name
from dask_runner.runner.report import RunnerReport


def _report(runner_id: str, succeeded: bool = True, start: float = 100.0) -> RunnerReport:
    return RunnerReport(
        succeeded=succeeded, error_message=None if succeeded else "Traceback ...\nValueError: boom",
        start_time=start, end_time=start + 2.5, planner_report=None, scenario_name=f"s-{runner_id}",
        planner_name="IDMPlanner", log_name="log", runner_id=runner_id,
        error_stage=None if succeeded else "simulation",
    )


def test_reports_round_trip_to_parquet_with_one_row_per_runner(tmp_path: Path) -> None:
    store = ReportStore(tmp_path / "reports")
    store.write(_report("a"))
    store.write(_report("b", succeeded=False))
    store.write(_report("a", start=200.0))  # the same runner reported again (rerun after a crash)
    assert store.completed_ids() == {"a", "b"}
    frame = store.consolidate(tmp_path / "runner_report.parquet")
    table = pd.read_parquet(tmp_path / "runner_report.parquet")
    assert len(frame) == len(table) == 2
    assert sorted(table["runner_id"]) == ["a", "b"]
    assert table.set_index("runner_id").loc["a", "start_time"] == 200.0
    assert table.set_index("runner_id").loc["b", "error_message"].endswith("ValueError: boom")
    assert table.set_index("runner_id").loc["a", "duration"] == pytest.approx(2.5)


def test_unsafe_runner_ids_get_distinct_safe_file_names() -> None:
    a, b = report_file_name("IDM/x y"), report_file_name("IDM_x_y")
    assert "/" not in a and " " not in a and a != b
    assert report_file_name("IDMPlanner-abc123") == "IDMPlanner-abc123.json"


def test_a_half_written_file_is_skipped_not_fatal(tmp_path: Path) -> None:
    store = ReportStore(tmp_path)
    store.write(_report("a"))
    (tmp_path / "broken.json").write_text('{"runner_id": ')
    assert store.completed_ids() == {"a"}


def test_report_without_runner_id_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="runner_id"):
        ReportStore(tmp_path).write(_report(""))


def test_runners_that_failed_for_want_of_a_worker_run_again_on_resume(tmp_path: Path) -> None:
    from dataclasses import replace

    store = ReportStore(tmp_path)
    store.write(_report("a", succeeded=False))
    store.write(replace(_report("b", succeeded=False), error_stage="no_workers"))
    assert store.completed_ids() == {"a"}  # a runner's own failure stays done; "no_workers" is the cluster's
