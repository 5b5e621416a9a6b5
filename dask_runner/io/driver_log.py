"""The driver's log: everything at INFO and above goes to ``logs/<name>.log``, the console gets errors only.

The console stays readable under the progress bar (the summary table at the end lists the failures);
the full tracebacks of failed runners are in the file (and in the report parquet). ``verbose=true``
shows the INFO lines on the console too.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator
from pathlib import Path

from dask_runner.runner.report import RunnerReport

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
logger = logging.getLogger("dask_runner")


@contextlib.contextmanager
def driver_log(logs_dir: Path, name: str = "driver", verbose: bool = False) -> Iterator[Path]:
    """Attach a file handler (and a console handler) to the ``dask_runner`` logger for the duration of a job."""
    logs_dir.mkdir(parents=True, exist_ok=True)
    path = logs_dir / f"{name}.log"
    file_handler = logging.FileHandler(path, encoding="utf-8")
    file_handler.setFormatter(logging.Formatter(LOG_FORMAT))
    file_handler.setLevel(logging.INFO)
    console = logging.StreamHandler(sys.stderr)
    console.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    console.setLevel(logging.INFO if verbose else logging.ERROR)
    previous_level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(file_handler)
    logger.addHandler(console)
    try:
        yield path
    finally:
        logger.removeHandler(file_handler)
        logger.removeHandler(console)
        logger.setLevel(previous_level)
        file_handler.close()


def log_failure(report: RunnerReport) -> None:
    """Write a failed runner's full traceback to the driver's log file (the console shows one line at the end)."""
    logger.info(
        "Runner %s failed ([log, scenario] = [%s, %s], stage %s):\n%s",
        report.runner_id, report.log_name, report.scenario_name, report.error_stage, report.error_message,
    )
