"""Runner reports as a parquet table: nuPlan's columns, flattened planner statistics, and a duration."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from dask_runner.runner.report import RunnerReport

if TYPE_CHECKING:
    import pandas as pd

REPORT_COLUMNS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(RunnerReport) if f.name != "planner_report")


def report_to_row(report: RunnerReport) -> dict[str, Any]:
    row: dict[str, Any] = {name: getattr(report, name) for name in REPORT_COLUMNS}
    row["duration"] = report.duration
    if report.planner_report is not None:
        row.update(report.planner_report.compute_summary_statistics())
    return row


def reports_to_dataframe(reports: Sequence[RunnerReport]) -> pd.DataFrame:
    import pandas as pd  # here: pandas is ~0.3 s of a job's start (see report_store)

    frame = pd.DataFrame([report_to_row(r) for r in reports])
    if frame.empty:
        frame = pd.DataFrame(columns=[*REPORT_COLUMNS, "duration"])
    return frame


def save_runner_reports(
    reports: Sequence[RunnerReport], output_dir: str | Path, report_name: str = "runner_report.parquet"
) -> Path:
    """Write ``reports`` to ``output_dir/report_name`` (parquet) and return the path."""
    path = Path(output_dir) / report_name
    path.parent.mkdir(parents=True, exist_ok=True)
    reports_to_dataframe(reports).to_parquet(path, index=False)
    return path
