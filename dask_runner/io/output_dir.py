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
HTML_REPORT = "report.html"


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
    def html_report(self) -> Path:
        return self.root / HTML_REPORT


def default_output_dir(experiment_name: str, base: str | Path = "output") -> Path:
    """``output/<experiment_name>/<timestamp>`` (nuPlan's layout), unique to the second."""
    return Path(base) / experiment_name / time.strftime("%Y.%m.%d.%H.%M.%S")


def prepare_output_dir(root: str | Path, resume: bool = False, min_free_disk_gb: float = 1.0) -> OutputLayout:
    """Create (or, with ``resume``, reuse) the folder and check it can take the results.

    Refuses a non-empty folder without ``resume`` (never a silent overwrite), a folder that cannot
    be written, and a disk with less than ``min_free_disk_gb`` free: all before any simulation runs.
    """
    path = Path(root).expanduser()
    if path.exists() and not path.is_dir():
        raise OutputDirError(f"output_dir {path} is a file, not a folder; choose another output_dir=...")
    if path.is_dir() and any(path.iterdir()) and not resume:
        raise OutputDirError(
            f"output_dir {path} already holds results; pass resume=true to continue that run, "
            "or choose another folder with output_dir=..."
        )
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
