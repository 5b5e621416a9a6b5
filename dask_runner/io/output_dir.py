"""The output folder of a job: its fixed layout, and the checks made before any simulation starts.

Every path inside is relative to the folder, so a moved or copied folder still works (``report``,
``resume`` and the metrics command only need the folder itself).
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from dask_runner.errors import OutputDirError

RUNNER_REPORT = "runner_report.parquet"
REPORTS = "reports"
METRICS = "metrics"
AGGREGATOR_METRIC = "aggregator_metric"
SIMULATION_LOGS = "simulation_logs"
LOGS = "logs"
CONFIG = "config.yaml"
CONFIG_HISTORY = "configs"
HTML_REPORT = "report.html"
# Everything a job writes at the top of its folder: a folder holding only these (and no result) is ours to reuse.
LAYOUT_ENTRIES = frozenset({RUNNER_REPORT, REPORTS, METRICS, AGGREGATOR_METRIC, SIMULATION_LOGS, LOGS, CONFIG,
                            CONFIG_HISTORY, HTML_REPORT})


@dataclass(frozen=True)
class OutputLayout:
    """Where each output of a job lives below ``root``."""

    root: Path

    @property
    def runner_report(self) -> Path:
        return self.root / RUNNER_REPORT

    @property
    def reports_dir(self) -> Path:
        """One small file per final runner report, written as each runner finishes (what resume reads)."""
        return self.root / REPORTS

    @property
    def metrics_dir(self) -> Path:
        return self.root / METRICS

    @property
    def aggregator_dir(self) -> Path:
        return self.root / AGGREGATOR_METRIC

    @property
    def simulation_logs_dir(self) -> Path:
        return self.root / SIMULATION_LOGS

    @property
    def logs_dir(self) -> Path:
        return self.root / LOGS

    @property
    def config_file(self) -> Path:
        return self.root / CONFIG

    @property
    def config_history_dir(self) -> Path:
        """The configuration of every later invocation on this folder (``resume=true``), one file each."""
        return self.root / CONFIG_HISTORY

    @property
    def html_report(self) -> Path:
        return self.root / HTML_REPORT

    def holds_results(self) -> bool:
        """Whether any runner has left a result here: a report, a metrics file, a simulation log, or a
        ``runner_report.parquet`` with rows (or one that cannot be read: it is not ours to overwrite).

        A folder with only a config and empty sub-folders (a job stopped before its first report) holds
        none, so the corrected command may use it again without ``resume``.
        """
        if any(_any_file(folder) for folder in (self.reports_dir, self.metrics_dir, self.simulation_logs_dir)):
            return True
        return self.runner_report.is_file() and _parquet_rows(self.runner_report) != 0


def _parquet_rows(path: Path) -> int | None:
    """Rows of a parquet file from its footer, or None when it cannot be read as parquet."""
    import pyarrow.parquet as pq

    try:
        return int(pq.read_metadata(path).num_rows)
    except Exception:  # noqa: BLE001  (not a parquet file: someone's data)
        return None


def _any_file(folder: Path) -> bool:
    if not folder.is_dir():
        return False
    return any(path.is_file() and not path.name.startswith(".") for path in folder.rglob("*"))


def check_output_dir(root: str | Path, resume: bool = False) -> OutputLayout:
    """The checks that need no write, made before anything is built: a file, or results without ``resume``.

    Files that are not a dask_runner output (someone's documents) are never taken over.
    """
    path = Path(root).expanduser()
    layout = OutputLayout(path)
    if path.exists() and not path.is_dir():
        raise OutputDirError(f"output_dir {path} is a file, not a folder; choose another output_dir=...")
    if not path.is_dir() or resume:
        return layout
    foreign = sorted(entry.name for entry in path.iterdir()
                     if entry.name not in LAYOUT_ENTRIES and not entry.name.startswith("."))
    if foreign:
        shown = ", ".join(foreign[:5]) + (" ..." if len(foreign) > 5 else "")
        raise OutputDirError(f"output_dir {path} holds files that are not a dask_runner output ({shown}); "
                             "choose an empty or new folder with output_dir=..., or pass resume=true if it "
                             "is the folder of an earlier run")
    if layout.holds_results():
        raise OutputDirError(
            f"output_dir {path} already holds results; pass resume=true to continue that run, "
            "or choose another folder with output_dir=..."
        )
    return layout


def default_output_dir(experiment_name: str, base: str | Path = "output") -> Path:
    """``output/<experiment_name>/<timestamp>`` (nuPlan's layout), unique to the second."""
    return Path(base) / experiment_name / time.strftime("%Y.%m.%d.%H.%M.%S")


def prepare_output_dir(root: str | Path, resume: bool = False, min_free_disk_gb: float = 1.0) -> OutputLayout:
    """Create (or, with ``resume``, reuse) the folder and check it can take the results.

    Refuses what :func:`check_output_dir` refuses (results without ``resume``: never a silent
    overwrite), a folder that cannot be written, and a disk with less than ``min_free_disk_gb`` free:
    all before any simulation runs.
    """
    path = check_output_dir(root, resume).root
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".write-probe-{uuid.uuid4().hex}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise OutputDirError(
            f"output_dir {path} is not writable ({exc.strerror or exc}); choose a folder you can write "
            "with output_dir=..."
        ) from exc
    free_gb = shutil.disk_usage(path).free / 1e9
    if free_gb < min_free_disk_gb:
        raise OutputDirError(
            f"only {free_gb:.2f} GB free on the disk of output_dir {path}, below min_free_disk_gb="
            f"{min_free_disk_gb:g}; free some space, choose another output_dir=..., or lower min_free_disk_gb"
        )
    layout = OutputLayout(path)
    for folder in (layout.reports_dir, layout.logs_dir):
        folder.mkdir(exist_ok=True)
    return layout


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename: readers never see half a file.

    No fsync: a killed driver loses nothing the kernel already holds, and per-report fsyncs cost more
    than the small reports themselves on network file systems.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
