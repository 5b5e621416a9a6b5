"""Streamed runner reports: one small JSON file per final report, consolidated into one parquet at the end.

Each report is on disk the moment its runner is final, so a crash, Ctrl-C, a SIGKILL of the driver or
a cluster walltime loses only the runners that were still running; ``resume=true`` reads the ids
written here and runs only the rest.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dask_runner.io.output_dir import OutputLayout, atomic_write_bytes
from dask_runner.io.runner_report import REPORT_COLUMNS, report_to_row
from dask_runner.runner.report import RERUN_ON_RESUME, RunnerReport

if TYPE_CHECKING:
    import pandas as pd

logger = logging.getLogger(__name__)

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def report_file_name(runner_id: str) -> str:
    """A file name for ``runner_id`` that is safe on every file system and unique per id."""
    safe = _UNSAFE.sub("_", runner_id)[:120]
    if safe != runner_id or not safe:
        safe = f"{safe}-{hashlib.sha1(runner_id.encode()).hexdigest()[:10]}"
    return f"{safe}.json"


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "item"):  # numpy scalars
        return _jsonable(value.item())
    return value


class ReportStore:
    """The ``reports/`` folder of an output directory."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)

    def write(self, report: RunnerReport) -> Path:
        """Persist one final report atomically; a report without ``runner_id`` cannot be resumed, so it is refused."""
        if not report.runner_id:
            raise ValueError(f"report of {report.scenario_name!r} has no runner_id; the resume key is missing")
        self.folder.mkdir(parents=True, exist_ok=True)
        row = {key: _jsonable(value) for key, value in report_to_row(report).items()}
        path = self.folder / report_file_name(report.runner_id)
        atomic_write_bytes(path, json.dumps(row).encode())
        return path

    def rows(self) -> list[dict[str, Any]]:
        """Every readable stored row; an unreadable file (a disk that filled up) is skipped with a warning."""
        rows: list[dict[str, Any]] = []
        if not self.folder.is_dir():
            return rows
        for path in sorted(self.folder.glob("*.json")):
            try:
                row = json.loads(path.read_text())
            except (OSError, ValueError) as exc:
                logger.warning("Ignoring unreadable report %s (%s); its runner will run again on resume", path, exc)
                continue
            if isinstance(row, dict) and row.get("runner_id"):
                rows.append(row)
        return rows

    def completed_ids(self) -> set[str]:
        """The runner ids that already have a final report (what ``resume=true`` skips), less those that failed
        for want of a worker (``RERUN_ON_RESUME``)."""
        return {str(row["runner_id"]) for row in self.rows() if row.get("error_stage") not in RERUN_ON_RESUME}

    def to_dataframe(self) -> pd.DataFrame:
        """One row per runner id (the latest report when a runner was reported twice), ordered by start time."""
        # Imported here: pandas is ~0.3 s of imports, which a job's start (before its worker pool's fork
        # server runs, see workers.dask.start_workers_early) should not wait for.
        import pandas as pd

        rows = self.rows()
        if not rows:
            return pd.DataFrame(columns=[*REPORT_COLUMNS, "duration"])
        frame = pd.DataFrame(rows)
        frame = frame.sort_values(["start_time", "runner_id"], kind="stable")
        frame = frame.drop_duplicates("runner_id", keep="last").reset_index(drop=True)
        return frame

    def consolidate(self, path: str | Path) -> pd.DataFrame:
        """Write every stored report to one parquet file (atomically) and return the table."""
        frame = self.to_dataframe()
        target = Path(path)
        tmp = target.with_name(f".{target.name}.tmp")
        frame.to_parquet(tmp, index=False)
        tmp.replace(target)
        return frame


def load_reports(root: Path) -> pd.DataFrame:
    """runner_report.parquet, or the streamed reports of a run that has not finished (or was killed)."""
    import pandas as pd

    path = OutputLayout(root).runner_report
    if path.is_file():
        return pd.read_parquet(path)
    return ReportStore(OutputLayout(root).reports_dir).to_dataframe()
