"""One log file per task, as nuPlan's Ray pool writes with ``log_dir``: ``<log_dir>/<task key>.log``.

A worker plugin adds one logging handler to each worker's root logger. The worker knows which task runs
on which thread (``Worker.active_threads``), so records from concurrent tasks go to their own files and
Dask's own threads stay out. Loaded only when a pool is given a log folder.
"""

from __future__ import annotations

import logging
import re
import time
from pathlib import Path
from typing import Any

from distributed import Worker
from distributed.diagnostics.plugin import WorkerPlugin

from dask_runner.dask.keys import is_summary_key

TASK_LOG_PLUGIN = "dask-runner-task-logs"
_UNSAFE_FILE_CHARS = re.compile(r"[^\w.\-]+")


def task_log_path(log_dir: str | Path, key: object) -> Path:
    """Where the log of the task with Dask key ``key`` goes (the key made safe as a file name)."""
    name = _UNSAFE_FILE_CHARS.sub("_", str(key)).strip("_") or "task"
    return Path(log_dir) / f"{name[:200]}.log"


def _append(log_dir: Path, key: object, text: str) -> None:
    """Append to a task's log; the folder is made with the first line, so a pool that never runs a task
    (a configuration refused before the job starts) leaves nothing in the output folder."""
    path = task_log_path(log_dir, key)
    if not log_dir.is_dir():
        log_dir.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as log_file:
        log_file.write(text)


class _TaskLogHandler(logging.Handler):
    """Writes a record to the log file of the task running on the record's thread (if any).

    The worker keeps ``active_threads`` (thread id → task key), so one handler serves every thread of
    the worker, and records from Dask's own threads (heartbeats, comms) are left out.
    """

    def __init__(self, worker: Worker, log_dir: Path) -> None:
        super().__init__()
        self._worker = worker
        self._log_dir = log_dir
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        key = self._worker.active_threads.get(record.thread or 0)
        if key is None:
            return
        try:
            _append(self._log_dir, key, self.format(record) + "\n")
        except Exception:  # noqa: BLE001 - logging must never fail the task
            self.handleError(record)


class TaskLogPlugin(WorkerPlugin):
    """A Dask worker plugin giving each task its own log file, as nuPlan's Ray pool does with ``log_dir``."""

    name = TASK_LOG_PLUGIN

    def __init__(self, log_dir: str | Path, raise_root_level_to_info: bool = True) -> None:
        self.log_dir = Path(log_dir)
        self.raise_root_level_to_info = raise_root_level_to_info
        self._handler: _TaskLogHandler | None = None

    def setup(self, worker: Worker) -> None:
        self._handler = _TaskLogHandler(worker, self.log_dir)
        root = logging.getLogger()
        root.addHandler(self._handler)
        if self.raise_root_level_to_info and root.level > logging.INFO:
            # Worker processes start with the root at WARNING; a task's info lines belong in its log.
            root.setLevel(logging.INFO)

    def transition(self, key: Any, start: str, finish: str, **kwargs: Any) -> None:
        """Every task gets its file, opened when it starts and closed with its outcome, even if it logs nothing."""
        if is_summary_key(key):
            return
        if finish == "executing" or (start == "executing" and finish in ("memory", "error")):
            line = "started" if finish == "executing" else ("finished" if finish == "memory" else "failed")
            try:
                _append(self.log_dir, key, f"{time.strftime('%Y-%m-%d %H:%M:%S')} task {key} {line}\n")
            except OSError:  # logging must never fail the task
                pass

    def teardown(self, worker: Worker) -> None:
        if self._handler is not None:
            logging.getLogger().removeHandler(self._handler)
            self._handler = None

    def __getstate__(self) -> dict[str, Any]:
        # The handler holds the worker; only the settings travel.
        return {"log_dir": self.log_dir, "raise_root_level_to_info": self.raise_root_level_to_info, "_handler": None}


__all__ = ["TASK_LOG_PLUGIN", "TaskLogPlugin", "task_log_path"]
