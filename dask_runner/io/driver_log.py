"""The driver's log: everything at INFO and above goes to ``logs/<name>.log``, the console gets errors only.

The console stays readable under the progress bar (the summary table at the end lists the failures);
the full tracebacks of failed runners are in the file (and in the report parquet). ``verbose=true``
shows the INFO lines on the console too.
"""

from __future__ import annotations

import contextlib
import logging
import logging.handlers
import sys
from collections.abc import Iterator
from pathlib import Path

from dask_runner.runner.report import RunnerReport

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
logger = logging.getLogger("dask_runner")


class DriverLog:
    """The job's log file, attached once the output folder exists; earlier lines are kept until then.

    A job checks and builds everything (scenarios, the worker pool) before it touches the output
    folder, so that a configuration error leaves no folder behind; what is logged meanwhile (the
    cluster starting) reaches the file when it is attached.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.path: Path | None = None
        self._buffer = logging.handlers.MemoryHandler(capacity=100_000, flushLevel=logging.CRITICAL + 1)
        self._buffer.setLevel(logging.INFO)
        self._file: logging.FileHandler | None = None

    def attach(self, logs_dir: Path) -> Path:
        """Write to ``logs_dir/<name>.log`` from now on, starting with the lines kept so far."""
        logs_dir.mkdir(parents=True, exist_ok=True)
        self.path = logs_dir / f"{self.name}.log"
        self._file = logging.FileHandler(self.path, encoding="utf-8")
        self._file.setFormatter(logging.Formatter(LOG_FORMAT))
        self._file.setLevel(logging.INFO)
        self._buffer.setTarget(self._file)
        self._buffer.flush()
        logger.removeHandler(self._buffer)
        logger.addHandler(self._file)
        return self.path

    def _open(self) -> None:
        logger.addHandler(self._buffer)

    def close(self) -> None:
        logger.removeHandler(self._buffer)
        self._buffer.close()  # drops the kept lines when no file was attached (nothing was written)
        if self._file is not None:
            logger.removeHandler(self._file)
            self._file.close()


@contextlib.contextmanager
def driver_log(name: str = "driver", verbose: bool = False) -> Iterator[DriverLog]:
    """Attach a log (see DriverLog) and a console handler to the ``dask_runner`` logger for a job."""
    log = DriverLog(name)
    console = logging.StreamHandler(sys.stderr)
    console.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    console.setLevel(logging.INFO if verbose else logging.ERROR)
    previous_level = logger.level
    logger.setLevel(logging.INFO)
    log._open()
    logger.addHandler(console)
    try:
        yield log
    finally:
        logger.removeHandler(console)
        logger.setLevel(previous_level)
        log.close()


def log_failure(report: RunnerReport) -> None:
    """Write a failed runner's full traceback to the driver's log file (the console shows one line at the end)."""
    logger.info(
        "Runner %s failed ([log, scenario] = [%s, %s], stage %s):\n%s",
        report.runner_id, report.log_name, report.scenario_name, report.error_stage, report.error_message,
    )
